//! What the training jobs share: the trainer parameters ([`TrainArgs`], [`LossArgs`]), set over
//! each stage's paper defaults, and the run plumbing ([`Training`]: progress bar, Ctrl-C,
//! resuming from `checkpoint/`, the result line, removing the checkpoint after success).

use super::values::{positive, positive_number, probability};
use super::values::{Shape, TaskArg};
use super::Ctx;
use crate::progress::TrainBar;
use anyhow::{anyhow, Context, Result};
use clap::Args;
use std::path::{Path, PathBuf};
use tinybert_data::parquet_io::{dataset_files, read_meta};
use tinybert_data::Task;
use tinybert_distill::train::checkpoint::{CHECKPOINT_DIR, STATE_FILE};
use tinybert_distill::train::{RunOptions, RunResult, TrainProgress};
use tinybert_distill::{Compat, LayerMapping, LossConfig, NonFinite, Schedule, TrainConfig};
use tinybert_eval::DevSet;
use tinybert_model::{load_tokenizer, FitDenseKind, Heads, Model, ModelOptions, Precision};

/// The trainer loop's parameters; unset ones keep the stage's paper defaults.
#[derive(Debug, Clone, Default, Args)]
pub struct TrainArgs {
    /// Passes over the training set.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Stop after this many optimizer steps (also the schedule's length; 0: no cap).
    #[arg(long)]
    pub max_steps: Option<usize>,
    /// Examples per optimizer step.
    #[arg(long, value_parser = positive)]
    pub batch_size: Option<usize>,
    /// Examples per forward pass (gradient accumulation up to the batch size).
    #[arg(long, value_parser = positive)]
    pub micro_batch_size: Option<usize>,
    /// Peak learning rate.
    #[arg(long, value_parser = positive_number)]
    pub learning_rate: Option<f64>,
    /// Warm-up share of the steps.
    #[arg(long, value_parser = probability)]
    pub warmup: Option<f64>,
    /// Learning-rate schedule: warmup_linear or constant.
    #[arg(long, value_parser = schedule)]
    pub schedule: Option<Schedule>,
    /// Decoupled weight decay (not applied to biases and LayerNorm).
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Per-tensor gradient-norm clip (0: none).
    #[arg(long)]
    pub max_grad_norm: Option<f64>,
    /// Seed of the data order, dropout and fresh weights.
    #[arg(long)]
    pub seed: Option<u64>,
    /// A resumable checkpoint every N optimizer steps (0: at the end of each epoch).
    #[arg(long)]
    pub save_every: Option<usize>,
    /// A `metrics.jsonl` line every N optimizer steps.
    #[arg(long, value_parser = positive)]
    pub log_every: Option<usize>,
    /// Dev evaluation every N optimizer steps (0: at the end of each epoch).
    #[arg(long)]
    pub eval_every: Option<usize>,
    /// At a step whose loss or gradient is NaN or infinite: stop (the last checkpoint stays
    /// finite), or skip the step (stopping after `max_skipped_steps` in a row).
    #[arg(long, value_parser = nonfinite)]
    pub nonfinite: Option<NonFinite>,
    /// With `nonfinite = skip`: consecutive skipped steps that stop the run.
    #[arg(long, value_parser = positive)]
    pub max_skipped_steps: Option<usize>,
    /// With a dev set: stop once the dev score has not improved for this many optimizer steps
    /// (the best checkpoint is kept).
    #[arg(long, value_parser = positive)]
    pub patience: Option<usize>,
    /// Keep a copy of the model every N optimizer steps in `snapshots/step-N/` (0: none).
    #[arg(long)]
    pub snapshot_every: Option<usize>,
    /// Batches of examples of similar length (windows of 50 batches sorted by length, then the
    /// batches shuffled): less padding, so faster steps on sentences of mixed length.
    #[arg(long)]
    pub group_by_length: bool,
    /// Keep `checkpoint/` (optimizer state, needed only to resume) after success.
    #[arg(long)]
    pub keep_checkpoint: bool,
    /// Continue from this checkpoint (a run folder or its `checkpoint/`). Without it, a run
    /// whose output folder holds a checkpoint continues from there.
    #[arg(long)]
    pub resume: Option<PathBuf>,
}

fn nonfinite(s: &str) -> Result<NonFinite, String> {
    match s {
        "stop" => Ok(NonFinite::Stop),
        "skip" => Ok(NonFinite::Skip),
        _ => Err("expected stop or skip".into()),
    }
}

/// `warmup_linear` (or `warmup-linear`) or `constant`.
fn schedule(s: &str) -> Result<Schedule, String> {
    match s {
        "warmup_linear" | "warmup-linear" => Ok(Schedule::WarmupLinear),
        "constant" => Ok(Schedule::Constant),
        _ => Err("expected warmup_linear or constant".into()),
    }
}

impl TrainArgs {
    /// `defaults` with the parameters that are set.
    pub fn config(&self, defaults: &TrainConfig) -> TrainConfig {
        let mut t = defaults.clone();
        let o = &mut t.optimizer;
        for (src, dst) in [
            (self.learning_rate, &mut o.lr),
            (self.warmup, &mut o.warmup),
            (self.weight_decay, &mut o.weight_decay),
            (self.max_grad_norm, &mut o.max_grad_norm),
        ] {
            if let Some(v) = src {
                *dst = v;
            }
        }
        o.schedule = self.schedule.unwrap_or(o.schedule);
        for (src, dst) in [
            (self.epochs, &mut t.epochs),
            (self.batch_size, &mut t.batch_size),
            (self.save_every, &mut t.save_every),
            (self.log_every, &mut t.log_every),
            (self.eval_every, &mut t.eval_every),
            (self.snapshot_every, &mut t.snapshot_every),
        ] {
            if let Some(v) = src {
                *dst = v;
            }
        }
        t.seed = self.seed.unwrap_or(t.seed);
        t.nonfinite = self.nonfinite.unwrap_or(t.nonfinite);
        t.max_skipped_steps = self.max_skipped_steps.unwrap_or(t.max_skipped_steps);
        t.max_steps = match self.max_steps {
            Some(0) => None,
            set => set.or(t.max_steps),
        };
        t.micro_batch_size = self.micro_batch_size.or(t.micro_batch_size);
        t.patience = self.patience.or(t.patience);
        t.group_by_length |= self.group_by_length;
        t
    }
}

/// The distillation losses' options; unset ones keep the paper's.
#[derive(Debug, Clone, Args)]
pub struct LossArgs {
    /// Layer mapping: uniform, top, bottom, or the teacher layers, e.g. 2,4,6.
    #[arg(long, value_parser = mapping)]
    pub mapping: Option<LayerMapping>,
    /// Weight of the embedding loss (0: the "w/o Embd" ablation).
    #[arg(long)]
    pub w_emb: Option<f64>,
    /// Weight of the attention loss (0: "w/o Attn").
    #[arg(long)]
    pub w_attn: Option<f64>,
    /// Weight of the hidden-state loss (0: "w/o Hidn").
    #[arg(long)]
    pub w_hidn: Option<f64>,
    /// Weight of the prediction loss (0: "w/o Pred").
    #[arg(long)]
    pub w_pred: Option<f64>,
    /// Softmax temperature of the prediction loss.
    #[arg(long, value_parser = positive_number)]
    pub temperature: Option<f64>,
    /// Average the MSE losses over real tokens only (the reference includes padding).
    #[arg(long)]
    pub pad_masked: bool,
    /// The reference code's soft cross-entropy (mean over batch and classes).
    #[arg(long)]
    pub compat_reference: bool,
    /// Keep the teacher's dropout on while it produces targets (reference behaviour).
    #[arg(long)]
    pub teacher_dropout: bool,
    /// A separate embedding projection (the paper's W_e) instead of one shared fit_dense.
    #[arg(long)]
    pub separate_embedding_fit: bool,
    /// Precision of the frozen teacher's forward: bf16 (on AVX-512 BF16 CPUs; f32 elsewhere) or
    /// f32. The student and its optimizer stay f32. bf16 changed no result beyond noise
    /// (docs/performance.md), so it is the default.
    #[arg(long, default_value = "bf16")]
    pub teacher_dtype: Precision,
}

fn mapping(s: &str) -> Result<LayerMapping, String> {
    LayerMapping::parse(s).map_err(|e| e.to_string())
}

impl LossArgs {
    /// `defaults` with the options that are set.
    pub fn config(&self, defaults: &LossConfig) -> LossConfig {
        let mut l = defaults.clone();
        if let Some(m) = &self.mapping {
            l.mapping = m.clone();
        }
        let w = &mut l.weights;
        for (src, dst) in [
            (self.w_emb, &mut w.embedding),
            (self.w_attn, &mut w.attention),
            (self.w_hidn, &mut w.hidden),
            (self.w_pred, &mut w.prediction),
            (self.temperature, &mut l.temperature),
        ] {
            if let Some(v) = src {
                *dst = v;
            }
        }
        l.pad_masked |= self.pad_masked;
        l.teacher_dropout |= self.teacher_dropout;
        if self.compat_reference {
            l.compat = Compat::Reference;
        }
        if self.separate_embedding_fit {
            l.fit_dense = FitDenseKind::SeparateEmbedding;
        }
        l.teacher_precision = self.teacher_dtype;
        l
    }
}

/// What a trainer will do, for `--estimate`: the effective trainer configuration, the
/// training set, and how many of its examples are held out (not trained on).
#[derive(Debug, Clone)]
pub struct TrainingPlan {
    pub config: TrainConfig,
    /// The training set's path (relative to the context's working directory, or absolute).
    pub data: PathBuf,
    /// Examples of `data` held out for evaluation (`mlm-head`'s `dev_instances`).
    pub held_out: usize,
}

/// A trainer's progress sink: its bar, and while `--estimate` probes the stage, the probe's
/// clock.
struct Sink {
    bar: TrainBar,
    clock: Option<std::sync::Arc<crate::pipeline::estimate::Clock>>,
}

impl TrainProgress for Sink {
    fn start(&self, total_steps: usize, done: usize) {
        self.bar.start(total_steps, done);
        if let Some(c) = &self.clock {
            c.start(total_steps, done);
        }
    }
    fn step(&self, step: usize, loss: f64, examples_per_s: f64) {
        self.bar.step(step, loss, examples_per_s);
        if let Some(c) = &self.clock {
            c.step(step, loss, examples_per_s);
        }
    }
    fn message(&self, msg: &str) {
        match &self.clock {
            // A probe's messages go to the debug log.
            Some(c) => {
                tracing::debug!("{msg}");
                c.message(msg);
            }
            None => self.bar.message(msg),
        }
    }
    fn finish(&self) {
        self.bar.finish();
        if let Some(c) = &self.clock {
            c.finish();
        }
    }
}

/// One training run's plumbing: its bar, output folder and checkpoint handling.
pub struct Training {
    bar: Sink,
    out: PathBuf,
    resume: Option<PathBuf>,
    keep: bool,
}

impl Training {
    /// Creates the output folder `out` and a bar labelled `label`; the run resumes from
    /// `args.resume`, or from a checkpoint an interrupted run left in `out`.
    pub fn new(ctx: &Ctx, label: &str, out: &Path, args: &TrainArgs) -> Result<Self> {
        std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
        let own = out.join(CHECKPOINT_DIR).join(STATE_FILE);
        let resume = match &args.resume {
            Some(r) => Some(ctx.path(r)),
            None => own.exists().then(|| out.to_path_buf()),
        };
        if let Some(r) = &resume {
            ctx.say(&format!(
                "{label}: resuming from the checkpoint in {}",
                r.display()
            ));
        }
        Ok(Self {
            bar: Sink {
                bar: TrainBar::new(label),
                clock: ctx.clock.clone(),
            },
            out: out.to_path_buf(),
            resume,
            keep: args.keep_checkpoint,
        })
    }

    /// The trainer's options: output, resume point, progress, Ctrl-C.
    pub fn options(&self, ctx: &Ctx) -> RunOptions<'_> {
        RunOptions {
            output: self.out.clone(),
            resume: self.resume.clone(),
            tokenizer_from: None,
            progress: &self.bar,
            stop: Some(ctx.stop.clone()),
        }
    }

    /// After success: removes `checkpoint/` (unless kept) and prints the result line.
    pub fn finish(self, ctx: &Ctx, label: &str, r: &RunResult) -> Result<()> {
        let dir = self.out.join(CHECKPOINT_DIR);
        if !self.keep && dir.exists() && tinybert_distill::parallel::is_root() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot remove {}", dir.display()))?;
        }
        let what = match &r.best {
            Some((s, step)) => format!(
                "{} steps; best dev score {:.4} at step {step}",
                r.steps, s.score
            ),
            None => format!("{} steps, final loss {:.4}", r.steps, r.last_loss),
        };
        ctx.say(&format!("{label}: {what} -> {}", self.out.display()));
        Ok(())
    }
}

/// Writes a freshly initialised model (N(0, 0.02) weights, no heads) of `shape` with the
/// vocabulary and tokenizer files of the folder `tokenizer` to `dir`, unless `dir` already
/// holds one (an interrupted attempt made it: the same seed gives the same weights).
/// With several data-parallel ranks, rank 0 writes it and the others wait for it.
pub fn init_model(shape: &Shape, tokenizer: &Path, seed: u64, dir: &Path) -> Result<()> {
    let world = tinybert_distill::parallel::world();
    let there = dir.join("config.json").exists() && dir.join("model.safetensors").exists();
    if world.rank() == 0 && !there {
        let tok = load_tokenizer(tokenizer)?;
        let config = shape.config(tok.get_vocab_size(true))?;
        let opts = ModelOptions {
            seed,
            heads: Heads::NONE,
            ..Default::default()
        };
        Model::init(&config, &opts)?.save(dir, Some(tokenizer))?;
    }
    world.barrier()?;
    Ok(())
}

/// The task a run is for: the one asked for (a task file is read here), else the one its
/// training set records (the trainers refuse data of another task).
pub fn task_of(ctx: &Ctx, data: &Path, asked: Option<&TaskArg>) -> Result<Task> {
    match asked {
        Some(t) => t.resolve(ctx),
        None => dataset_task(data).context("data"),
    }
}

/// The dev set a trainer evaluates on (the best dev checkpoint is kept), for models with the
/// tokenizer of `model_dir`.
pub fn dev_set(
    ctx: &Ctx,
    dev: Option<&String>,
    task: Task,
    model_dir: &Path,
) -> Result<Option<DevSet>> {
    dev.map(|d| DevSet::open(&ctx.path(d), task, model_dir, 64, &ctx.device))
        .transpose()
        .context("dev")
}

/// The task recorded in a tokenised dataset's metadata (read from its first shard only).
pub fn dataset_task(path: &Path) -> Result<Task> {
    let files = dataset_files(path)?;
    let first = files
        .first()
        .ok_or_else(|| anyhow!("{}: no dataset files", path.display()))?;
    read_meta(first)?
        .task
        .ok_or_else(|| anyhow!("{}: the dataset records no task", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Command, FromArgMatches};

    fn parse(args: &[&str]) -> (TrainArgs, LossArgs) {
        let cmd = LossArgs::augment_args(TrainArgs::augment_args(Command::new("t")));
        let m = cmd
            .try_get_matches_from(std::iter::once("t").chain(args.iter().copied()))
            .unwrap();
        (
            TrainArgs::from_arg_matches(&m).unwrap(),
            LossArgs::from_arg_matches(&m).unwrap(),
        )
    }

    #[test]
    fn set_parameters_replace_the_defaults_and_unset_ones_keep_them() {
        let defaults = TrainConfig {
            batch_size: 256,
            epochs: 7,
            ..TrainConfig::default()
        };
        let (t, l) = parse(&[
            "--epochs",
            "2",
            "--learning-rate",
            "0.001",
            "--schedule",
            "constant",
            "--mapping",
            "2,4",
            "--w-attn",
            "0",
        ]);
        let c = t.config(&defaults);
        assert_eq!((c.batch_size, c.epochs, c.max_steps), (256, 2, None));
        assert_eq!(c.optimizer.lr, 1e-3);
        assert_eq!(c.optimizer.schedule, Schedule::Constant);
        assert_eq!(c.optimizer.warmup, defaults.optimizer.warmup);
        let loss = l.config(&LossConfig::default());
        assert_eq!(loss.mapping, LayerMapping::Explicit(vec![2, 4]));
        assert_eq!(loss.weights.attention, 0.0);
        assert_eq!(loss.weights.hidden, 1.0);
        let (none, _) = parse(&[]);
        assert_eq!(none.config(&defaults), defaults);
    }
}
