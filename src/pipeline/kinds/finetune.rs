//! `finetune`: plain fine-tuning with the ReLU classifier head on gold labels
//! ([`tinybert_distill::train::finetune`]): the teacher, and the students of the
//! "no distillation" baselines. The best dev checkpoint is kept when `dev` is given.
//!
//! ```toml
//! [stages.teacher]
//! kind = "finetune"
//! foreach = "${params.tasks}"
//! model = "models/bert-base-uncased"      # a folder or hub id
//! data = "${stages.glue@${item}.out}/train"   # tokenised training set (from `glue`)
//! dev = "${stages.glue@${item}.out}/dev"      # optional: evaluation and best checkpoint
//! label = "BERT-base (teacher)"            # the model's name in summary.json and reports
//! keep_checkpoint = false
//! threads = 1                        # optional: CPU threads for the products (0: all cores)
//! outs = ["runs/teacher/${item}"]
//! [stages.teacher.train]                   # TrainConfig over FinetuneConfig's defaults
//! epochs = 3                               # (the sequence length is the data's)
//! optimizer = { lr = 2e-5 }
//! ```

use super::common::{
    at, dataset_task, device, model_param, require_input, say, train_config, with_threads, Training,
};
use crate::pipeline::registry::{KindSpec, StageContext, StageKind};
use crate::pipeline::stage::ResolvedStage;
use anyhow::{Context, Result};
use serde::Deserialize;
use tinybert_distill::train::{finetune, DevEval, TaskData};
use tinybert_distill::FinetuneConfig;

/// The `finetune` kind.
pub struct Finetune;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(rename = "model")]
    _model: String,
    data: String,
    #[serde(default)]
    dev: Option<String>,
    #[serde(default = "default_label")]
    label: String,
    #[serde(default)]
    keep_checkpoint: bool,
    #[serde(rename = "train", default)]
    _train: Option<toml::Value>,
    #[serde(rename = "threads", default)]
    _threads: Option<usize>,
}

fn default_label() -> String {
    "fine-tuned".into()
}

impl StageKind for Finetune {
    fn spec(&self) -> KindSpec {
        KindSpec {
            name: "finetune",
            required: &["model", "data"],
            optional: &["dev", "label", "keep_checkpoint", "train", "threads"],
            resumable: true,
        }
    }

    fn check(&self, stage: &ResolvedStage) -> Result<()> {
        let p: Params = stage.config()?;
        train_config(stage, &FinetuneConfig::default().train)?;
        require_input(stage, "data", &p.data)?;
        if let Some(dev) = &p.dev {
            require_input(stage, "dev", dev)?;
        }
        stage.out()?;
        Ok(())
    }

    fn run(&self, stage: &ResolvedStage, ctx: &StageContext) -> Result<()> {
        with_threads(stage.param_or("threads", None)?, || run(stage, ctx))
    }
}

/// The stage's work, on the `threads` it asks for.
fn run(stage: &ResolvedStage, ctx: &StageContext) -> Result<()> {
    let p: Params = stage.config()?;
    let model = model_param(stage, ctx, "model")?;
    let train = ctx.path(&p.data);
    let task = dataset_task(&train).with_context(|| at(stage, "data"))?;
    let data = TaskData { task, train };
    let default = FinetuneConfig::default();
    let cfg = FinetuneConfig {
        train: train_config(stage, &default.train)?,
    };
    let dev_path = p.dev.as_ref().map(|d| ctx.path(d));
    let mut dev = crate::cmd::distill::dev_set(
        dev_path.as_deref(),
        task,
        &model,
        cfg.train.batch_size,
        &device(ctx)?,
    )
    .with_context(|| at(stage, "dev"))?;
    let out = ctx.path(stage.out()?);
    let training = Training::new(stage, &out)?;
    let r = finetune(
        &model,
        &data,
        dev.as_mut().map(|d| d as &mut dyn DevEval),
        &cfg,
        &p.label,
        &device(ctx)?,
        &training.options(),
    )
    .with_context(|| format!("fine-tuning {} on {task}", model.display()))?;
    training.finish(p.keep_checkpoint)?;
    say(ctx, &super::common::result_line(&r, &out));
    Ok(())
}
