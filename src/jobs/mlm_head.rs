//! `mlm-head` (`tinybert distill mlm-head`): masked-LM training
//! ([`tinybert_distill::train::fit_mlm_head`]). Three uses:
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
//! epochs = 1                       # and every other trainer parameter (`tinybert kinds mlm-head`)
//! learning_rate = 1e-3
//! outs = ["runs/mlm"]
//! ```
//!
//! With `init`, the freshly initialised model is kept in `<out>/init/`.

use super::train::{init_model, TrainArgs, Training, TrainingPlan};
use super::values::{open_probability, shape, Shape};
use super::{Ctx, Input, Job};
use anyhow::{bail, Context, Result};
use clap::{ArgAction, Args};
use std::path::Path;
use tinybert_distill::train::fit_mlm_head;
use tinybert_distill::MlmHeadConfig;
use tinybert_model::{Heads, Model, ModelOptions, Want};

/// Fit a masked-LM head on a frozen teacher (needed by augmentation), or pre-train a fresh
/// model with masked LM. Output: the model with its MLM head (a Hugging Face folder) and the
/// run files.
#[derive(Debug, Args)]
pub struct MlmHead {
    /// The model (a folder or hub id); or give `init`.
    #[arg(long)]
    pub model: Option<String>,
    /// A fresh model's shape, `{"layers":4,"hidden":64,"heads":4,"ffn":256}`, pre-trained
    /// whole (with `tokenizer` and `train_encoder`).
    #[arg(long, value_parser = shape)]
    pub init: Option<Shape>,
    /// With `init`: a folder with the vocabulary (vocab.txt) of the fresh model.
    #[arg(long)]
    pub tokenizer: Option<String>,
    /// Pre-training instances (from `tinybert data corpus`).
    #[arg(long)]
    pub data: Option<String>,
    /// false: keep the model's own MLM head (copy the folder, train nothing).
    #[arg(long, action = ArgAction::Set, default_value_t = true)]
    pub fit: bool,
    /// Train the encoder too (pre-training), not only `cls.predictions.*`.
    #[arg(long)]
    pub train_encoder: bool,
    /// Share of tokens masked (80% [MASK], 10% random, 10% kept).
    #[arg(long, default_value_t = MlmHeadConfig::default().mask_prob, value_parser = open_probability)]
    pub mask_prob: f64,
    /// Instances held out from the end of `data` to measure masked-token accuracy during the
    /// fit (the best checkpoint is kept; with `patience` the fit stops once it no longer
    /// improves); 0: none.
    #[arg(long, default_value_t = 0)]
    pub dev_instances: usize,
    #[command(flatten)]
    pub train: TrainArgs,
}

impl Job for MlmHead {
    const KIND: &'static str = "mlm-head";
    const RESUMABLE: bool = true;
    const DATA_PARALLEL: bool = true;

    fn validate(&self) -> Result<()> {
        match (&self.model, &self.init) {
            (Some(_), Some(_)) => {
                bail!("give either `model` or `init` (a fresh model's shape), not both")
            }
            (None, None) => {
                bail!("missing `model` (a folder or hub id) or `init` (a fresh model's shape)")
            }
            _ => {}
        }
        if self.init.is_some() != self.tokenizer.is_some() {
            bail!("`tokenizer` (a folder with the vocabulary) goes with `init`, and only with it");
        }
        if self.fit && self.data.is_none() {
            bail!("missing `data` (the pre-training instances to fit on)");
        }
        if self.init.is_some() && !(self.fit && self.train_encoder) {
            bail!("a fresh model (`init`) is pre-trained whole: set `train_encoder` (and `fit`)");
        }
        Ok(())
    }

    fn inputs(&self) -> Vec<Input<'_>> {
        let mut v = Vec::new();
        if let Some(m) = &self.model {
            v.push(Input::Model("model", m));
        }
        if let Some(t) = &self.tokenizer {
            v.push(Input::path("tokenizer", t));
        }
        if let Some(d) = &self.data {
            v.push(Input::path("data", d));
        }
        v
    }

    fn training(&self, ctx: &Ctx) -> Result<Option<TrainingPlan>> {
        let Some(data) = self.data.as_deref().filter(|_| self.fit) else {
            return Ok(None);
        };
        Ok(Some(TrainingPlan {
            config: self.train.config(&MlmHeadConfig::default().train),
            data: ctx.path(data),
            held_out: self.dev_instances,
        }))
    }

    fn run(&self, ctx: &Ctx, out: &Path) -> Result<()> {
        let d = MlmHeadConfig::default();
        let cfg = MlmHeadConfig {
            train: self.train.config(&d.train),
            mask_prob: self.mask_prob,
            train_encoder: self.train_encoder,
            dev_instances: self.dev_instances,
        };
        let model_dir = match (&self.init, &self.tokenizer, &self.model) {
            (Some(shape), Some(tokenizer), _) => {
                let dir = out.join("init");
                init_model(shape, &ctx.path(tokenizer), cfg.train.seed, &dir)
                    .context("init: the fresh model")?;
                dir
            }
            (_, _, Some(m)) => ctx.model(m)?,
            _ => bail!("missing `model` or `init`"),
        };
        if !self.fit {
            // Nothing to train: rank 0 copies the model, the other ranks have nothing to do.
            return match tinybert_distill::parallel::is_root() {
                true => keep_own_head(ctx, &model_dir, out),
                false => Ok(()),
            };
        }
        let data = ctx.path(self.data.as_deref().unwrap_or_default());
        let label = "masked LM";
        let training = Training::new(ctx, label, out, &self.train)?;
        let r = fit_mlm_head(&model_dir, &data, &cfg, &ctx.device, &training.options(ctx))?;
        training.finish(ctx, label, &r)
    }
}

/// `fit = false`: checks that the model has an MLM head and copies its folder to `out`.
fn keep_own_head(ctx: &Ctx, model_dir: &Path, out: &Path) -> Result<()> {
    let opts = ModelOptions {
        device: ctx.device.clone(),
        heads: Heads {
            mlm: Want::IfPresent,
            ..Heads::NONE
        },
        ..Default::default()
    };
    let model = Model::load(model_dir, &opts)?;
    if model.mlm_head.is_none() {
        bail!(
            "{} has no masked-LM head (`cls.predictions.*`): set `fit` to fit one",
            model_dir.display()
        );
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    for entry in std::fs::read_dir(model_dir)
        .with_context(|| format!("cannot read {}", model_dir.display()))?
    {
        let src = entry?.path();
        let Some(name) = src.file_name().filter(|_| src.is_file()) else {
            continue;
        };
        let dst = out.join(name);
        let real = src.canonicalize().unwrap_or_else(|_| src.clone());
        if std::fs::hard_link(&real, &dst).is_err() {
            std::fs::copy(&real, &dst)
                .with_context(|| format!("cannot copy {} to {}", src.display(), dst.display()))?;
        }
    }
    ctx.say(&format!(
        "{} has its own masked-LM head: copied to {}",
        model_dir.display(),
        out.display()
    ));
    Ok(())
}
