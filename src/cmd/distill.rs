//! `tinybert distill general|task|mlm-head` and `tinybert finetune`.

use crate::progress::TrainBar;
use crate::GlobalArgs;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tinybert_data::Task;
use tinybert_distill::train::{self, DevEval, RunOptions, StudentSpec, TaskData};
use tinybert_distill::{
    Compat, FinetuneConfig, GeneralDistillConfig, LayerMapping, MlmHeadConfig, Phase, Schedule,
    TaskDistillConfig, TrainConfig,
};
use tinybert_model::{resolve_model, BertConfig, FitDenseKind};

#[derive(Debug, Subcommand)]
pub enum DistillCommand {
    /// General distillation on a corpus (L_attn + L_hidn).
    General(GeneralArgs),
    /// Task-specific distillation, intermediate or prediction phase.
    Task(TaskArgs),
    /// Fit a masked-LM head on a frozen teacher (needed by augmentation).
    MlmHead(MlmHeadArgs),
}

/// Flags every trainer takes; unset ones keep the stage's paper defaults.
#[derive(Debug, Args, Clone)]
pub struct CommonArgs {
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Stop after this many optimizer steps.
    #[arg(long)]
    pub max_steps: Option<usize>,
    /// Examples per optimizer step.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Examples per forward pass (gradient accumulation up to --batch-size).
    #[arg(long)]
    pub micro_batch_size: Option<usize>,
    #[arg(long)]
    pub learning_rate: Option<f64>,
    #[arg(long)]
    pub warmup: Option<f64>,
    /// warmup_linear or constant.
    #[arg(long)]
    pub schedule: Option<String>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Resumable checkpoint every N optimizer steps.
    #[arg(long)]
    pub save_every: Option<usize>,
    #[arg(long)]
    pub log_every: Option<usize>,
    /// Dev evaluation every N optimizer steps (default: each epoch).
    #[arg(long)]
    pub eval_every: Option<usize>,
    /// Continue from a checkpoint (a run folder or its `checkpoint/`).
    #[arg(long)]
    pub resume: Option<PathBuf>,
    #[arg(long)]
    pub output: PathBuf,
}

impl CommonArgs {
    pub fn apply(&self, t: &mut TrainConfig) -> Result<()> {
        macro_rules! set {
            ($field:ident, $dst:expr) => {
                if let Some(v) = self.$field {
                    $dst = v;
                }
            };
        }
        set!(epochs, t.epochs);
        set!(batch_size, t.batch_size);
        set!(learning_rate, t.optimizer.lr);
        set!(warmup, t.optimizer.warmup);
        set!(seed, t.seed);
        set!(save_every, t.save_every);
        set!(log_every, t.log_every);
        set!(eval_every, t.eval_every);
        if self.max_steps.is_some() {
            t.max_steps = self.max_steps;
        }
        if self.micro_batch_size.is_some() {
            t.micro_batch_size = self.micro_batch_size;
        }
        if let Some(s) = &self.schedule {
            t.optimizer.schedule = match s.as_str() {
                "warmup_linear" => Schedule::WarmupLinear,
                "constant" => Schedule::Constant,
                other => anyhow::bail!("--schedule {other}: expected warmup_linear or constant"),
            };
        }
        Ok(())
    }
}

/// Loss options shared by the distillation commands.
#[derive(Debug, Args, Clone)]
pub struct LossArgs {
    /// Layer mapping: uniform, top, bottom, or a list like 2,4,6.
    #[arg(long, default_value = "uniform")]
    pub mapping: String,
    /// Loss weights: embedding, attention, hidden, prediction (0 = that ablation).
    #[arg(long)]
    pub w_emb: Option<f64>,
    #[arg(long)]
    pub w_attn: Option<f64>,
    #[arg(long)]
    pub w_hidn: Option<f64>,
    #[arg(long)]
    pub w_pred: Option<f64>,
    /// Average MSE losses over real tokens only.
    #[arg(long)]
    pub pad_masked: bool,
    /// Reference-code normalisation of the soft cross-entropy.
    #[arg(long)]
    pub compat_reference: bool,
    /// Keep the teacher's dropout on (reference behaviour).
    #[arg(long)]
    pub teacher_dropout: bool,
    /// Separate embedding projection (the paper's W_e) instead of one shared fit_dense.
    #[arg(long)]
    pub separate_embedding_fit: bool,
}

impl LossArgs {
    fn apply(&self, l: &mut tinybert_distill::LossConfig) -> Result<()> {
        l.mapping = LayerMapping::parse(&self.mapping)?;
        let w = &mut l.weights;
        for (src, dst) in [
            (self.w_emb, &mut w.embedding),
            (self.w_attn, &mut w.attention),
            (self.w_hidn, &mut w.hidden),
            (self.w_pred, &mut w.prediction),
        ] {
            if let Some(v) = src {
                *dst = v;
            }
        }
        l.pad_masked = self.pad_masked;
        l.teacher_dropout = self.teacher_dropout;
        if self.compat_reference {
            l.compat = Compat::Reference;
        }
        if self.separate_embedding_fit {
            l.fit_dense = FitDenseKind::SeparateEmbedding;
        }
        Ok(())
    }
}

#[derive(Debug, Args)]
pub struct GeneralArgs {
    #[arg(long)]
    pub teacher: String,
    /// A preset (tinybert-4, tinybert-6), a config.json path, or an existing student folder.
    #[arg(long)]
    pub student_config: String,
    /// Pre-training instances from `tinybert data corpus`.
    #[arg(long)]
    pub data: PathBuf,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub loss: LossArgs,
}

#[derive(Debug, Args)]
pub struct TaskArgs {
    /// The fine-tuned teacher.
    #[arg(long)]
    pub teacher: String,
    /// The general-distilled student (or the intermediate phase's output).
    #[arg(long)]
    pub student: PathBuf,
    #[arg(long)]
    pub task: String,
    /// Tokenised (augmented) training set.
    #[arg(long)]
    pub data: PathBuf,
    /// Tokenised dev set (best-checkpoint selection in the prediction phase).
    #[arg(long)]
    pub dev: Option<PathBuf>,
    #[arg(long, value_parser = ["intermediate", "prediction"])]
    pub phase: String,
    /// Compute teacher logits once and reuse them every epoch.
    #[arg(long)]
    pub cache_teacher: bool,
    /// Distil from a teacher that may be no better than the majority class (the dev-set
    /// check before training only warns).
    #[arg(long)]
    pub force_weak_teacher: bool,
    /// How far above the dev set's majority-class baseline the teacher's score must be.
    #[arg(long)]
    pub teacher_margin: Option<f64>,
    /// Model label in summary.json and reports.
    #[arg(long, default_value = "TinyBERT")]
    pub label: String,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub loss: LossArgs,
}

#[derive(Debug, Args)]
pub struct FinetuneArgs {
    #[arg(long)]
    pub model: String,
    #[arg(long)]
    pub task: String,
    /// Tokenised training set.
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long)]
    pub dev: Option<PathBuf>,
    #[arg(long, default_value = "fine-tuned")]
    pub label: String,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct MlmHeadArgs {
    #[arg(long)]
    pub teacher: String,
    /// Pre-training instances from `tinybert data corpus`.
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long, default_value_t = 0.15)]
    pub mask_prob: f64,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// A flag set by Ctrl-C: trainers save a checkpoint and stop.
pub fn stop_flag() -> Arc<AtomicBool> {
    static FLAG: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        if let Err(e) = ctrlc::set_handler(move || {
            if f.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!(
                "\ninterrupt: saving a checkpoint after this step (Ctrl-C again to quit now)"
            );
        }) {
            tracing::warn!("cannot install the Ctrl-C handler: {e}");
        }
        flag
    })
    .clone()
}

pub fn run_options<'a>(
    output: PathBuf,
    resume: Option<PathBuf>,
    bar: &'a TrainBar,
) -> RunOptions<'a> {
    RunOptions {
        output,
        resume,
        tokenizer_from: None,
        progress: bar,
        stop: Some(stop_flag()),
    }
}

pub fn run(cmd: DistillCommand, g: &GlobalArgs) -> Result<()> {
    let device = crate::device::parse_device(&g.device)?;
    match cmd {
        DistillCommand::General(a) => {
            let teacher = resolve_model(&a.teacher)?;
            let student = match BertConfig::preset(&a.student_config) {
                Some(cfg) => StudentSpec::Fresh(cfg),
                None if PathBuf::from(&a.student_config)
                    .join("model.safetensors")
                    .exists() =>
                {
                    StudentSpec::Dir(a.student_config.clone().into())
                }
                None => StudentSpec::Fresh(BertConfig::from_preset_or_file(&a.student_config)?),
            };
            let mut cfg = GeneralDistillConfig::default();
            a.common.apply(&mut cfg.train)?;
            a.loss.apply(&mut cfg.loss)?;
            let bar = TrainBar::new("general distillation");
            let r = train::general_distill(
                &teacher,
                &student,
                &a.data,
                &cfg,
                &device,
                &run_options(a.common.output.clone(), a.common.resume.clone(), &bar),
            )?;
            println!(
                "general distillation: {} steps, final loss {:.4} -> {}",
                r.steps,
                r.last_loss,
                a.common.output.display()
            );
        }
        DistillCommand::Task(a) => {
            let teacher = resolve_model(&a.teacher)?;
            let phase = if a.phase == "prediction" {
                Phase::Prediction
            } else {
                Phase::Intermediate
            };
            let task: Task = a.task.parse()?;
            let mut cfg = TaskDistillConfig::for_phase(phase, Some(task));
            a.common.apply(&mut cfg.train)?;
            a.loss.apply(&mut cfg.loss)?;
            cfg.cache_teacher = a.cache_teacher;
            cfg.force_weak_teacher = a.force_weak_teacher;
            if let Some(m) = a.teacher_margin {
                cfg.teacher_margin = m;
            }
            let bar = TrainBar::new(&format!("{task} {} distillation", a.phase));
            let data = TaskData {
                task,
                train: a.data.clone(),
            };
            let mut dev = dev_set(
                a.dev.as_deref(),
                task,
                &teacher,
                cfg.train.batch_size,
                &device,
            )?;
            let r = train::task_distill(
                &teacher,
                &a.student,
                &data,
                dev.as_mut().map(|d| d as &mut dyn DevEval),
                &cfg,
                &a.label,
                &device,
                &run_options(a.common.output.clone(), a.common.resume.clone(), &bar),
            )?;
            report_result(&r, &a.common.output);
        }
        DistillCommand::MlmHead(a) => {
            let teacher = resolve_model(&a.teacher)?;
            let mut cfg = MlmHeadConfig {
                mask_prob: a.mask_prob,
                ..Default::default()
            };
            a.common.apply(&mut cfg.train)?;
            let bar = TrainBar::new("MLM head");
            let r = train::fit_mlm_head(
                &teacher,
                &a.data,
                &cfg,
                &device,
                &run_options(a.common.output.clone(), a.common.resume.clone(), &bar),
            )?;
            println!(
                "MLM head: {} steps, final loss {:.4} -> {}",
                r.steps,
                r.last_loss,
                a.common.output.display()
            );
        }
    }
    Ok(())
}

pub fn finetune(a: FinetuneArgs, g: &GlobalArgs) -> Result<()> {
    let device = crate::device::parse_device(&g.device)?;
    let model = resolve_model(&a.model)?;
    let task: Task = a.task.parse()?;
    let mut cfg = FinetuneConfig::default();
    a.common.apply(&mut cfg.train)?;
    let bar = TrainBar::new(&format!("{task} fine-tuning"));
    let data = TaskData {
        task,
        train: a.data.clone(),
    };
    let mut dev = dev_set(
        a.dev.as_deref(),
        task,
        &model,
        cfg.train.batch_size,
        &device,
    )?;
    let r = train::finetune(
        &model,
        &data,
        dev.as_mut().map(|d| d as &mut dyn DevEval),
        &cfg,
        &a.label,
        &device,
        &run_options(a.common.output.clone(), a.common.resume.clone(), &bar),
    )
    .with_context(|| format!("fine-tuning {} on {task}", model.display()))?;
    report_result(&r, &a.common.output);
    Ok(())
}

/// The dev set at `path` (a tokenised split of `task`) for models with the tokenizer of
/// `model_dir`, evaluated in batches of at least 32.
pub fn dev_set(
    path: Option<&std::path::Path>,
    task: Task,
    model_dir: &std::path::Path,
    batch_size: usize,
    device: &candle_core::Device,
) -> Result<Option<tinybert_eval::DevSet>> {
    path.map(|p| tinybert_eval::DevSet::open(p, task, model_dir, batch_size.max(32), device))
        .transpose()
        .map_err(Into::into)
}

fn report_result(r: &train::RunResult, out: &std::path::Path) {
    match &r.best {
        Some((s, step)) => println!(
            "{} steps; best dev score {:.4} at step {step} -> {}",
            r.steps,
            s.score,
            out.display()
        ),
        None => println!(
            "{} steps, final loss {:.4} -> {}",
            r.steps,
            r.last_loss,
            out.display()
        ),
    }
}
