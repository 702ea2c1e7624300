//! `task-distill` (`tinybert distill task`): task-specific distillation (SPEC §6;
//! [`tinybert_distill::train::task_distill`]), one phase per run. The defaults are the paper's
//! for the phase and the training set's task ([`TaskDistillConfig::for_phase`]).
//!
//! ```toml
//! [stages.td-inter]
//! kind = "task-distill"
//! foreach = "${params.tasks}"
//! phase = "intermediate"                   # L_attn + L_hidn; or "prediction": L_pred
//! teacher = "${stages.teacher@${item}.out}"    # the fine-tuned teacher
//! student = "${stages.general.out}"        # general-distilled student (or phase 1's output),
//!                                          # or a fresh one's shape (the "w/o GD" ablation):
//! # student = { layers = 4, hidden = 312, heads = 12, ffn = 1200 }
//! data = "${stages.augment@${item}.out}"   # the (augmented) training set
//! regression_data = "${stages.glue@${item}.out}/train"   # optional: STS-B's prediction
//!                                          # phase trains on the original set (SPEC §6)
//! dev = "${stages.glue@${item}.out}/dev"   # optional; the prediction phase keeps the best
//! label = "TinyBERT"                       # the model's name in summary.json and reports
//! cache_teacher = false                    # prediction: compute teacher logits once
//! epochs = 10                              # trainer and loss parameters over the defaults
//! outs = ["runs/td-inter/${item}"]
//! ```

use super::train::{dev_set, init_model, task_of, LossArgs, TrainArgs, Training, TrainingPlan};
use super::values::{model_spec, positive_number, task, ModelSpec, TaskArg};
use super::{Ctx, Input, Job};
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};
use tinybert_data::Task;
use tinybert_distill::train::{task_distill, DevEval, TaskData};
use tinybert_distill::{Phase, TaskDistillConfig};

/// Task-specific distillation, intermediate or prediction phase. Output: the student (a Hugging
/// Face folder) and the run files.
#[derive(Debug, Args)]
pub struct TaskDistill {
    /// The fine-tuned teacher: a folder or hub id.
    #[arg(long)]
    pub teacher: String,
    /// The student: the general-distilled model (or the intermediate phase's output), or a
    /// fresh model's shape `{"layers":4,"hidden":312,"heads":12,"ffn":1200}`.
    #[arg(long, value_parser = model_spec)]
    pub student: ModelSpec,
    /// The task (a name or a task file); default: the one the training set records (a
    /// different one is an error).
    #[arg(long, value_parser = task)]
    pub task: Option<TaskArg>,
    /// intermediate (L_attn + L_hidn) or prediction (L_pred).
    #[arg(long, value_enum)]
    pub phase: PhaseArg,
    /// Tokenised (augmented) training set.
    #[arg(long)]
    pub data: String,
    /// Regression tasks (STS-B): the prediction phase trains on this original training set.
    #[arg(long)]
    pub regression_data: Option<String>,
    /// Tokenised dev set (the prediction phase keeps the best dev checkpoint).
    #[arg(long)]
    pub dev: Option<String>,
    /// The model's name in summary.json and reports.
    #[arg(long, default_value = "TinyBERT")]
    pub label: String,
    /// Compute the teacher's logits once and reuse them every epoch (prediction phase).
    #[arg(long)]
    pub cache_teacher: bool,
    /// With `dev`: how far the teacher's dev score must be above the dev set's majority-class
    /// (or constant-prediction) baseline at least (absolute, on the selection score).
    #[arg(long, default_value_t = TaskDistillConfig::default().teacher_margin, value_parser = positive_number)]
    pub teacher_margin: f64,
    /// With `dev`: how far, in standard errors of the baseline's score on the dev set, the
    /// teacher's dev score must be above it (the larger of the two margins applies).
    #[arg(long, default_value_t = TaskDistillConfig::default().teacher_margin_se, value_parser = positive_number)]
    pub teacher_margin_se: f64,
    /// Distil from a teacher that may be no better than the majority class (the dev check
    /// only warns).
    #[arg(long)]
    pub force_weak_teacher: bool,
    /// Distil from a teacher whose config.json id2label differs from the task's labels (names
    /// or order), taking the teacher's class i as the task's label i (the check only warns).
    #[arg(long)]
    pub force_label_order: bool,
    #[command(flatten)]
    pub train: TrainArgs,
    #[command(flatten)]
    pub loss: LossArgs,
}

/// The phase as a command-line value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PhaseArg {
    Intermediate,
    Prediction,
}

impl From<PhaseArg> for Phase {
    fn from(p: PhaseArg) -> Self {
        match p {
            PhaseArg::Intermediate => Phase::Intermediate,
            PhaseArg::Prediction => Phase::Prediction,
        }
    }
}

impl TaskDistill {
    /// The set the run trains on: `data` (`train`), except in a regression's prediction phase
    /// with `regression_data`.
    fn training_set(&self, ctx: &Ctx, task: Task, train: PathBuf) -> PathBuf {
        match (
            &self.regression_data,
            task.is_regression(),
            Phase::from(self.phase),
        ) {
            (Some(r), true, Phase::Prediction) => ctx.path(r),
            _ => train,
        }
    }
}

impl Job for TaskDistill {
    const KIND: &'static str = "task-distill";
    const RESUMABLE: bool = true;
    const DATA_PARALLEL: bool = true;

    fn inputs(&self) -> Vec<Input<'_>> {
        let mut v = vec![
            Input::Model("teacher", &self.teacher),
            Input::path("data", &self.data),
        ];
        if let Some(s) = self.student.name() {
            v.push(Input::path("student", s));
        }
        for (key, p) in [
            ("regression_data", &self.regression_data),
            ("dev", &self.dev),
        ] {
            if let Some(p) = p {
                v.push(Input::path(key, p));
            }
        }
        v
    }

    fn training(&self, ctx: &Ctx) -> Result<Option<TrainingPlan>> {
        let train = ctx.path(&self.data);
        let task = task_of(ctx, &train, self.task.as_ref())?;
        let phase = Phase::from(self.phase);
        let d = TaskDistillConfig::for_phase(phase, Some(task));
        Ok(Some(TrainingPlan {
            config: self.train.config(&d.train),
            data: self.training_set(ctx, task, train),
            held_out: 0,
        }))
    }

    fn run(&self, ctx: &Ctx, out: &Path) -> Result<()> {
        let teacher = ctx.model(&self.teacher)?;
        let train = ctx.path(&self.data);
        let task = task_of(ctx, &train, self.task.as_ref())?;
        let phase = Phase::from(self.phase);
        let d = TaskDistillConfig::for_phase(phase, Some(task));
        let cfg = TaskDistillConfig {
            train: self.train.config(&d.train),
            loss: self.loss.config(&d.loss),
            cache_teacher: self.cache_teacher,
            teacher_margin: self.teacher_margin,
            teacher_margin_se: self.teacher_margin_se,
            force_weak_teacher: self.force_weak_teacher,
            force_label_order: self.force_label_order,
            ..d
        };
        let data = TaskData {
            task,
            train: self.training_set(ctx, task, train),
        };
        let mut dev = dev_set(ctx, self.dev.as_ref(), task, &teacher)?;
        let student = match &self.student {
            ModelSpec::Named(s) => ctx.path(s),
            ModelSpec::Shape(shape) => {
                let dir = out.join("init");
                init_model(shape, &teacher, cfg.train.seed, &dir)
                    .context("student: the fresh model")?;
                dir
            }
        };
        let label = format!("{task} {phase:?} distillation");
        let training = Training::new(ctx, &label, out, &self.train)?;
        let r = task_distill(
            &teacher,
            &student,
            &data,
            dev.as_mut().map(|d| d as &mut dyn DevEval),
            &cfg,
            &self.label,
            &ctx.device,
            &training.options(ctx),
        )
        .with_context(|| format!("{task} {phase:?} distillation"))?;
        training.finish(ctx, &label, &r)
    }
}
