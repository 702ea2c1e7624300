//! `bench`: inference latency, throughput and speed-up of models (the core of
//! `tinybert bench inference`): `<out>/inference.json` and `<out>/inference.md`. A `report`
//! stage reads the speed-ups from it (Table 1's "speed-up" column).
//!
//! ```toml
//! [stages.bench]
//! kind = "bench"
//! models = [                            # the first is the speed-up baseline
//!   { name = "teacher", model = "${stages.teacher.out}" },
//!   { name = "student", model = "${stages.td-pred.out}" },   # or a preset: tinybert-4
//! ]
//! batch = [1, 32]                       # optional; these are the defaults
//! seq = 128
//! warmup = 1
//! iters = 5
//! threads = 2                           # default (or 0): all cores
//! outs = ["runs/bench"]
//! ```

use super::common::{at, say, with_threads};
use crate::cmd::bench::common::REFERENCE_SCRIPT;
use crate::cmd::bench::inference::{bench, InferenceArgs};
use crate::pipeline::registry::{KindSpec, StageContext, StageKind};
use crate::pipeline::stage::ResolvedStage;
use anyhow::{bail, Result};
use serde::Deserialize;
use tinybert_model::BertConfig;

/// The `bench` kind.
pub struct Bench;

/// The JSON file a bench stage writes into its output folder.
pub const RESULTS_FILE: &str = "inference.json";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    model: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    models: Vec<Entry>,
    #[serde(default = "default_batch")]
    batch: Vec<usize>,
    #[serde(default = "default_seq")]
    seq: usize,
    #[serde(default = "default_warmup")]
    warmup: usize,
    #[serde(default = "default_iters")]
    iters: usize,
    #[serde(default)]
    threads: Option<usize>,
}

fn default_batch() -> Vec<usize> {
    vec![1, 32]
}
fn default_seq() -> usize {
    128
}
fn default_warmup() -> usize {
    1
}
fn default_iters() -> usize {
    5
}

impl Params {
    fn read(stage: &ResolvedStage) -> Result<Self> {
        let p: Params = stage.config()?;
        if p.models.is_empty() {
            bail!("{}: no models", at(stage, "models"));
        }
        for (i, m) in p.models.iter().enumerate() {
            if p.models[..i].iter().any(|o| o.name == m.name) {
                bail!("{}: name `{}` appears twice", at(stage, "models"), m.name);
            }
        }
        if p.batch.is_empty() || p.batch.contains(&0) {
            bail!("{}: batch sizes must be at least 1", at(stage, "batch"));
        }
        if p.seq == 0 || p.iters == 0 {
            bail!("{}: `seq` and `iters` must be at least 1", at(stage, "seq"));
        }
        Ok(p)
    }
}

impl StageKind for Bench {
    fn spec(&self) -> KindSpec {
        KindSpec {
            name: "bench",
            required: &["models"],
            optional: &["batch", "seq", "warmup", "iters", "threads"],
            resumable: false,
        }
    }

    fn check(&self, stage: &ResolvedStage) -> Result<()> {
        Params::read(stage)?;
        stage.out()?;
        Ok(())
    }

    fn run(&self, stage: &ResolvedStage, ctx: &StageContext) -> Result<()> {
        let p = Params::read(stage)?;
        let out = ctx.path(stage.out()?);
        let models = p
            .models
            .iter()
            .map(|m| {
                let path = ctx.path(&m.model);
                match BertConfig::preset(&m.model).is_none() && path.exists() {
                    true => path.display().to_string(),
                    false => m.model.clone(), // a preset or a hub id
                }
            })
            .collect();
        let args = InferenceArgs {
            models,
            names: p.models.iter().map(|m| m.name.clone()).collect(),
            batch: p.batch,
            seq: p.seq,
            warmup: p.warmup,
            iters: p.iters,
            pytorch: "none".into(),
            reference_script: REFERENCE_SCRIPT.into(),
            threads: p.threads.filter(|&n| n > 0),
            output: out.join(RESULTS_FILE),
        };
        // Not inside `ctx.progress.suspend`: the benchmark logs, and the log writer suspends
        // the same bars (a nested suspend would deadlock).
        // `bench` sets the thread count for its run; `with_threads` restores it after.
        let device = super::common::device(ctx)?;
        with_threads(None, || bench(&args, &device, &ctx.device))?;
        say(ctx, &format!("benchmark -> {}", out.display()));
        Ok(())
    }
}
