//! `task-distill`: task-specific distillation (SPEC §6;
//! [`tinybert_distill::train::task_distill`]), one phase per stage. The defaults are the
//! paper's for the phase and the training set's task ([`TaskDistillConfig::for_phase`]).
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
//! teacher_margin = 0.02                    # with dev: the teacher must beat the majority
//! force_weak_teacher = false               # class by this much (true: only warn)
//! keep_checkpoint = false
//! threads = 1                        # optional: CPU threads for the products (0: all cores)
//! outs = ["runs/td-inter/${item}"]
//! [stages.td-inter.train]                  # TrainConfig over the phase's defaults
//! epochs = 10
//! [stages.td-inter.loss]                   # LossConfig: weights, mapping, ...
//! weights = { attention = 0.0 }            # e.g. the "w/o Attn" ablation
//! ```

use super::common::{
    at, dataset_task, device, init_model, merged, model_param, require_input, result_line, say,
    train_config, with_threads, ModelSpec, Training,
};
use crate::pipeline::registry::{KindSpec, StageContext, StageKind};
use crate::pipeline::stage::ResolvedStage;
use anyhow::{Context, Result};
use serde::Deserialize;
use tinybert_data::Task;
use tinybert_distill::train::{task_distill, DevEval, TaskData};
use tinybert_distill::{LossConfig, Phase, TaskDistillConfig};

/// The `task-distill` kind.
pub struct TaskDistill;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(rename = "teacher")]
    _teacher: String,
    student: ModelSpec,
    data: String,
    #[serde(default)]
    regression_data: Option<String>,
    #[serde(default)]
    dev: Option<String>,
    phase: Phase,
    #[serde(default = "default_label")]
    label: String,
    #[serde(default)]
    cache_teacher: bool,
    #[serde(default)]
    force_weak_teacher: bool,
    #[serde(default)]
    teacher_margin: Option<f64>,
    #[serde(default)]
    keep_checkpoint: bool,
    #[serde(rename = "train", default)]
    _train: Option<toml::Value>,
    #[serde(rename = "loss", default)]
    _loss: Option<toml::Value>,
    #[serde(rename = "threads", default)]
    _threads: Option<usize>,
}

fn default_label() -> String {
    "TinyBERT".into()
}

/// The phase's defaults for `task` with the stage's `train` and `loss` tables over them.
fn config(stage: &ResolvedStage, p: &Params, task: Option<Task>) -> Result<TaskDistillConfig> {
    let d = TaskDistillConfig::for_phase(p.phase, task);
    Ok(TaskDistillConfig {
        phase: p.phase,
        train: train_config(stage, &d.train)?,
        loss: merged::<LossConfig>(stage, "loss", &d.loss)?,
        cache_teacher: p.cache_teacher,
        teacher_margin: p.teacher_margin.unwrap_or(d.teacher_margin),
        force_weak_teacher: p.force_weak_teacher,
    })
}

impl StageKind for TaskDistill {
    fn spec(&self) -> KindSpec {
        KindSpec {
            name: "task-distill",
            required: &["teacher", "student", "data", "phase"],
            optional: &[
                "dev",
                "regression_data",
                "label",
                "cache_teacher",
                "force_weak_teacher",
                "teacher_margin",
                "keep_checkpoint",
                "train",
                "loss",
                "threads",
            ],
            resumable: true,
        }
    }

    fn check(&self, stage: &ResolvedStage) -> Result<()> {
        let p: Params = stage.config()?;
        config(stage, &p, None)?;
        if let ModelSpec::Named(student) = &p.student {
            require_input(stage, "student", student)?;
        }
        if let Some(d) = &p.regression_data {
            require_input(stage, "regression_data", d)?;
        }
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
    let teacher = model_param(stage, ctx, "teacher")?;
    let data = TaskData {
        task: dataset_task(&ctx.path(&p.data)).with_context(|| at(stage, "data"))?,
        train: ctx.path(&p.data),
    };
    let task = data.task;
    let cfg = config(stage, &p, Some(task))?;
    let dev_path = p.dev.as_ref().map(|d| ctx.path(d));
    let mut dev = crate::cmd::distill::dev_set(
        dev_path.as_deref(),
        task,
        &teacher,
        cfg.train.batch_size,
        &device(ctx)?,
    )
    .with_context(|| at(stage, "dev"))?;
    let data = match (&p.regression_data, task.is_regression(), p.phase) {
        (Some(d), true, Phase::Prediction) => TaskData {
            train: ctx.path(d),
            ..data
        },
        _ => data,
    };
    let out = ctx.path(stage.out()?);
    let student = match &p.student {
        ModelSpec::Named(s) => ctx.path(s),
        ModelSpec::Shape(shape) => {
            let dir = out.join("init");
            init_model(shape, &teacher, cfg.train.seed, &dir)
                .with_context(|| at(stage, "student"))?;
            dir
        }
    };
    let training = Training::new(stage, &out)?;
    let r = task_distill(
        &teacher,
        &student,
        &data,
        dev.as_mut().map(|d| d as &mut dyn DevEval),
        &cfg,
        &p.label,
        &device(ctx)?,
        &training.options(),
    )
    .with_context(|| format!("{task} {:?} distillation", p.phase))?;
    training.finish(p.keep_checkpoint)?;
    say(ctx, &result_line(&r, &out));
    Ok(())
}
