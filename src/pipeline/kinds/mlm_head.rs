//! `mlm-head`: masked-LM training ([`tinybert_distill::train::fit_mlm_head`]). Three uses:
//!
//! - fit the MLM head that augmentation needs on a teacher without one (MiniLM): the encoder is
//!   frozen, only `cls.predictions.*` is trained (SPEC §10);
//! - pre-train a model from scratch (the quickstart's tiny teacher): `init` gives a fresh
//!   model's shape, `train_encoder = true` trains all of it;
//! - `fit = false`: keep a teacher's own head (BERT-base has one): the output is a copy of the
//!   model folder, checked to have an MLM head; no training, `data` not needed.
//!
//! ```toml
//! [stages.mlm]
//! kind = "mlm-head"
//! model = "models/teacher"         # or, for a fresh model:
//! # init = { layers = 4, hidden = 64, heads = 4, ffn = 256 }
//! # tokenizer = "runs/demo"        # its vocabulary (a folder with vocab.txt), with `init`
//! data = "${stages.corpus.out}"    # pre-training instances
//! fit = true                       # optional; these are the defaults
//! train_encoder = false
//! mask_prob = 0.15
//! keep_checkpoint = false          # keep checkpoint/ (optimizer state) after success
//! threads = 1                        # optional: CPU threads for the products (0: all cores)
//! outs = ["runs/mlm"]
//! [stages.mlm.train]               # TrainConfig over MlmHeadConfig's defaults
//! epochs = 1
//! optimizer = { lr = 1e-3 }
//! ```
//!
//! With `init`, the freshly initialised model is kept in `<out>/init/`.

use super::common::{
    at, device, init_model, model_param, require_input, say, train_config, with_threads, Shape,
    Training,
};
use crate::pipeline::registry::{KindSpec, StageContext, StageKind};
use crate::pipeline::stage::ResolvedStage;
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::path::Path;
use tinybert_distill::train::fit_mlm_head;
use tinybert_distill::MlmHeadConfig;
use tinybert_model::{Heads, Model, ModelOptions, Want};

/// The `mlm-head` kind.
pub struct MlmHead;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    init: Option<Shape>,
    #[serde(default)]
    tokenizer: Option<String>,
    #[serde(default)]
    data: Option<String>,
    #[serde(default = "yes")]
    fit: bool,
    #[serde(default)]
    train_encoder: Option<bool>,
    #[serde(default)]
    mask_prob: Option<f64>,
    #[serde(default)]
    keep_checkpoint: bool,
    #[serde(rename = "train", default)]
    _train: Option<toml::Value>,
    #[serde(rename = "threads", default)]
    _threads: Option<usize>,
}

fn yes() -> bool {
    true
}

impl Params {
    fn read(stage: &ResolvedStage) -> Result<(Self, MlmHeadConfig)> {
        let p: Params = stage.config()?;
        match (&p.model, &p.init) {
            (Some(_), Some(_)) => bail!(
                "{}: give either `model` or `init` (a fresh model's shape), not both",
                at(stage, "init")
            ),
            (None, None) => bail!(
                "{}: missing; give `model` (a folder or hub id) or `init` (a fresh model's shape)",
                at(stage, "model")
            ),
            _ => {}
        }
        if p.init.is_some() != p.tokenizer.is_some() {
            bail!(
                "{}: `tokenizer` (a folder with the vocabulary) goes with `init`, and only with it",
                at(stage, "tokenizer")
            );
        }
        let d = MlmHeadConfig::default();
        let cfg = MlmHeadConfig {
            train: train_config(stage, &d.train)?,
            mask_prob: p.mask_prob.unwrap_or(d.mask_prob),
            train_encoder: p.train_encoder.unwrap_or(d.train_encoder),
        };
        if !(cfg.mask_prob > 0.0 && cfg.mask_prob < 1.0) {
            bail!("{}: must be in (0, 1)", at(stage, "mask_prob"));
        }
        if p.fit && p.data.is_none() {
            bail!(
                "{}: missing (the pre-training instances to fit on)",
                at(stage, "data")
            );
        }
        if !p.fit && p.init.is_some() {
            bail!(
                "{}: a fresh model (`init`) must be trained: set `fit = true`",
                at(stage, "fit")
            );
        }
        if p.init.is_some() && !cfg.train_encoder {
            bail!(
                "{}: a fresh model (`init`) is pre-trained whole: set `train_encoder = true`",
                at(stage, "train_encoder")
            );
        }
        Ok((p, cfg))
    }
}

impl StageKind for MlmHead {
    fn spec(&self) -> KindSpec {
        KindSpec {
            name: "mlm-head",
            required: &[],
            optional: &[
                "model",
                "init",
                "tokenizer",
                "data",
                "fit",
                "train_encoder",
                "mask_prob",
                "keep_checkpoint",
                "train",
                "threads",
            ],
            resumable: true,
        }
    }

    fn check(&self, stage: &ResolvedStage) -> Result<()> {
        let (p, _) = Params::read(stage)?;
        for (key, value) in [("data", &p.data), ("tokenizer", &p.tokenizer)] {
            if let Some(v) = value {
                require_input(stage, key, v)?;
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
    let out = ctx.path(stage.out()?);
    let device = device(ctx)?;
    let model_dir = match (&p.init, &p.tokenizer) {
        (Some(shape), Some(tokenizer)) => {
            let dir = out.join("init");
            init_model(shape, &ctx.path(tokenizer), cfg.train.seed, &dir)
                .with_context(|| at(stage, "init"))?;
            dir
        }
        _ => model_param(stage, ctx, "model")?,
    };
    if !p.fit {
        return keep_own_head(&model_dir, &out, &device, stage, ctx);
    }
    let data = ctx.path(p.data.as_deref().unwrap_or_default());
    let training = Training::new(stage, &out)?;
    let r = fit_mlm_head(&model_dir, &data, &cfg, &device, &training.options())?;
    training.finish(p.keep_checkpoint)?;
    say(
        ctx,
        &format!(
            "masked LM: {} steps, final loss {:.4} -> {}",
            r.steps,
            r.last_loss,
            out.display()
        ),
    );
    Ok(())
}

/// `fit = false`: checks that the model has an MLM head and copies its folder to `out`.
fn keep_own_head(
    model_dir: &Path,
    out: &Path,
    device: &candle_core::Device,
    stage: &ResolvedStage,
    ctx: &StageContext,
) -> Result<()> {
    let opts = ModelOptions {
        device: device.clone(),
        heads: Heads {
            classifier: Want::Never,
            mlm: Want::IfPresent,
            fit_dense: Want::Never,
        },
        ..Default::default()
    };
    let model = Model::load(model_dir, &opts)?;
    if model.mlm_head.is_none() {
        bail!(
            "{}: {} has no masked-LM head (`cls.predictions.*`): set `fit = true` to fit one",
            at(stage, "fit"),
            model_dir.display()
        );
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    for entry in std::fs::read_dir(model_dir)
        .with_context(|| format!("cannot read {}", model_dir.display()))?
    {
        let src = entry?.path();
        if !src.is_file() {
            continue;
        }
        let Some(name) = src.file_name() else {
            continue;
        };
        let dst = out.join(name);
        let real = src.canonicalize().unwrap_or_else(|_| src.clone());
        if std::fs::hard_link(&real, &dst).is_err() {
            std::fs::copy(&real, &dst)
                .with_context(|| format!("cannot copy {} to {}", src.display(), dst.display()))?;
        }
    }
    say(
        ctx,
        &format!(
            "{} has its own masked-LM head: copied to {}",
            model_dir.display(),
            out.display()
        ),
    );
    Ok(())
}
