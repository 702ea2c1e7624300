//! `finetune` (`tinybert finetune`): plain fine-tuning with the ReLU classifier head on gold
//! labels ([`tinybert_distill::train::finetune`]): the teacher, and the students of the "no
//! distillation" baselines. The best dev checkpoint is kept when `dev` is given.
//!
//! ```toml
//! [stages.teacher]
//! kind = "finetune"
//! foreach = "${params.tasks}"
//! model = "models/bert-base-uncased"      # a folder or hub id
//! data = "${stages.glue@${item}.out}/train"   # tokenised training set (from `glue`)
//! dev = "${stages.glue@${item}.out}/dev"      # optional: evaluation and best checkpoint
//! label = "BERT-base (teacher)"            # the model's name in summary.json and reports
//! epochs = 3                               # trainer parameters over the paper's defaults
//! learning_rate = 2e-5
//! outs = ["runs/teacher/${item}"]
//! ```

use super::train::{dev_set, task_of, TrainArgs, Training, TrainingPlan};
use super::values::{positive_number, task, TaskArg};
use super::{Ctx, Input, Job};
use anyhow::{Context, Result};
use clap::Args;
use std::path::Path;
use tinybert_distill::train::{finetune, DevEval, TaskData};
use tinybert_distill::FinetuneConfig;

/// Fine-tune a model on a task with the ReLU classifier head. Output: the fine-tuned model (a
/// Hugging Face folder) and the run files.
#[derive(Debug, Args)]
pub struct Finetune {
    /// The model: a folder or hub id.
    #[arg(long)]
    pub model: String,
    /// The task (a name or a task file); default: the one the training set records (a
    /// different one is an error).
    #[arg(long, value_parser = task)]
    pub task: Option<TaskArg>,
    /// Tokenised training set.
    #[arg(long)]
    pub data: String,
    /// Tokenised dev set: evaluation during training, the best checkpoint is kept.
    #[arg(long)]
    pub dev: Option<String>,
    /// The model's name in summary.json and reports.
    #[arg(long, default_value = "fine-tuned")]
    pub label: String,
    /// Learning-rate multiplier for the pooler and the classifier (1: the encoder's rate).
    #[arg(long, value_parser = positive_number)]
    pub head_lr_scale: Option<f64>,
    /// Multiplies the checkpoint's pooler weight before training: for a checkpoint whose
    /// pooler was never trained (sentence encoders such as all-MiniLM-L6-v2).
    #[arg(long, value_parser = positive_number)]
    pub pooler_scale: Option<f64>,
    #[command(flatten)]
    pub train: TrainArgs,
}

impl Finetune {
    /// The paper's fine-tuning defaults with the options that are set.
    fn config(&self) -> FinetuneConfig {
        let d = FinetuneConfig::default();
        let mut train = self.train.config(&d.train);
        train.optimizer.head_lr_scale = self.head_lr_scale.unwrap_or(1.0);
        FinetuneConfig {
            train,
            pooler_scale: self.pooler_scale.unwrap_or(d.pooler_scale),
        }
    }
}

impl Job for Finetune {
    const KIND: &'static str = "finetune";
    const RESUMABLE: bool = true;
    const DATA_PARALLEL: bool = true;

    fn inputs(&self) -> Vec<Input<'_>> {
        let mut v = vec![
            Input::Model("model", &self.model),
            Input::path("data", &self.data),
        ];
        if let Some(d) = &self.dev {
            v.push(Input::path("dev", d));
        }
        v
    }

    fn training(&self, ctx: &Ctx) -> Result<Option<TrainingPlan>> {
        Ok(Some(TrainingPlan {
            config: self.config().train,
            data: ctx.path(&self.data),
            held_out: 0,
        }))
    }

    fn run(&self, ctx: &Ctx, out: &Path) -> Result<()> {
        let model = ctx.model(&self.model)?;
        let train = ctx.path(&self.data);
        let task = task_of(ctx, &train, self.task.as_ref())?;
        let data = TaskData { task, train };
        let mut dev = dev_set(ctx, self.dev.as_ref(), task, &model)?;
        let cfg = self.config();
        let label = format!("{task} fine-tuning");
        let training = Training::new(ctx, &label, out, &self.train)?;
        let r = finetune(
            &model,
            &data,
            dev.as_mut().map(|d| d as &mut dyn DevEval),
            &cfg,
            &self.label,
            &ctx.device,
            &training.options(ctx),
        )
        .with_context(|| format!("fine-tuning {} on {task}", model.display()))?;
        training.finish(ctx, &label, &r)
    }
}
