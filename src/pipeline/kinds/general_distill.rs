//! `general-distill`: general distillation (SPEC §4; [`tinybert_distill::train::general_distill`]):
//! L_attn + L_hidn between a frozen teacher and a student on pre-training instances.
//!
//! ```toml
//! [stages.general]
//! kind = "general-distill"
//! teacher = "models/bert-base-uncased"     # a folder or hub id
//! student = "tinybert-4"                   # a preset (tinybert-4, tinybert-6), a config.json
//!                                          # or model folder (must be in deps), or a shape:
//! # student = { layers = 3, hidden = 192, heads = 12, ffn = 768 }
//! data = "${stages.corpus.out}"            # pre-training instances
//! keep_checkpoint = false
//! threads = 1                        # optional: CPU threads for the products (0: all cores)
//! outs = ["runs/general"]
//! [stages.general.train]                   # TrainConfig over GeneralDistillConfig's defaults
//! max_steps = 20000                        # (batch 256, lr 5e-5, 3 epochs, warm-up 10%)
//! [stages.general.loss]                    # LossConfig: weights, mapping, fit_dense, ...
//! mapping = "uniform"
//! ```

use super::common::{
    at, device, merged, model_param, require_input, say, train_config, with_threads, ModelSpec,
    Training,
};
use crate::pipeline::registry::{KindSpec, StageContext, StageKind};
use crate::pipeline::stage::ResolvedStage;
use anyhow::{anyhow, Result};
use serde::Deserialize;
use std::path::Path;
use tinybert_distill::train::{general_distill, StudentSpec};
use tinybert_distill::{GeneralDistillConfig, LossConfig};
use tinybert_model::BertConfig;

/// The `general-distill` kind.
pub struct GeneralDistill;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(rename = "teacher")]
    _teacher: String,
    student: ModelSpec,
    data: String,
    #[serde(default)]
    keep_checkpoint: bool,
    #[serde(rename = "train", default)]
    _train: Option<toml::Value>,
    #[serde(rename = "loss", default)]
    _loss: Option<toml::Value>,
    #[serde(rename = "threads", default)]
    _threads: Option<usize>,
}

impl Params {
    fn read(stage: &ResolvedStage) -> Result<(Self, GeneralDistillConfig)> {
        let p: Params = stage.config().map_err(|e| {
            anyhow!("{e:#} (`student` is a preset, a path, or {{ layers, hidden, heads, ffn }})")
        })?;
        let d = GeneralDistillConfig::default();
        let cfg = GeneralDistillConfig {
            train: train_config(stage, &d.train)?,
            loss: merged::<LossConfig>(stage, "loss", &d.loss)?,
        };
        Ok((p, cfg))
    }
}

impl StageKind for GeneralDistill {
    fn spec(&self) -> KindSpec {
        KindSpec {
            name: "general-distill",
            required: &["teacher", "student", "data"],
            optional: &["keep_checkpoint", "train", "loss", "threads"],
            resumable: true,
        }
    }

    fn check(&self, stage: &ResolvedStage) -> Result<()> {
        let (p, _) = Params::read(stage)?;
        require_input(stage, "data", &p.data)?;
        if let ModelSpec::Named(name) = &p.student {
            if BertConfig::preset(name).is_none() {
                require_input(stage, "student", name)?;
            }
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
    let (p, cfg) = Params::read(stage)?;
    let teacher = model_param(stage, ctx, "teacher")?;
    let student = match &p.student {
        ModelSpec::Shape(shape) => StudentSpec::Fresh(shape.config(1)?),
        ModelSpec::Named(name) => match BertConfig::preset(name) {
            Some(c) => StudentSpec::Fresh(c),
            None => {
                let path = ctx.path(name);
                if path.join("model.safetensors").exists() {
                    StudentSpec::Dir(path)
                } else {
                    StudentSpec::Fresh(
                        BertConfig::from_file(&config_file(&path))
                            .map_err(|e| anyhow!("{}: {e}", at(stage, "student")))?,
                    )
                }
            }
        },
    };
    let out = ctx.path(stage.out()?);
    let training = Training::new(stage, &out)?;
    let r = general_distill(
        &teacher,
        &student,
        &ctx.path(&p.data),
        &cfg,
        &device(ctx)?,
        &training.options(),
    )?;
    training.finish(p.keep_checkpoint)?;
    say(
        ctx,
        &format!(
            "general distillation: {} steps, final loss {:.4} -> {}",
            r.steps,
            r.last_loss,
            out.display()
        ),
    );
    Ok(())
}

/// A `config.json` path, or the one inside a folder.
fn config_file(path: &Path) -> std::path::PathBuf {
    if path.is_dir() {
        path.join("config.json")
    } else {
        path.to_path_buf()
    }
}
