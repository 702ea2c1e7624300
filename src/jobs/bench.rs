//! `bench` (`tinybert bench inference`): forward latency and throughput per model and batch
//! size, the paper's "Params / Speedup" columns, next to PyTorch's own numbers for the same
//! shapes: `<out>/inference.json` and `<out>/inference.md`. A `report` stage reads the
//! speed-ups from it (Table 1's "speed-up" column).
//!
//! ```toml
//! [stages.bench]
//! kind = "bench"
//! models = ["${stages.teacher.out}", "${stages.td-pred.out}"]   # the first is the baseline
//! names = ["teacher", "student"]        # optional display names, in order
//! batch = [1, 32]                       # optional; these are the defaults
//! seq = 128
//! warmup = 1
//! iters = 5
//! threads = 2                           # default: all cores
//! outs = ["runs/bench"]
//! ```

use super::measure::{
    median, peak_rss_mb, reference_args, reference_dir, reference_shapes, run_reference,
    synthetic_batch, time_ms, write_results, REFERENCE_SCRIPT,
};
use super::values::positive;
use super::{Ctx, Input, Job};
use anyhow::{bail, Result};
use clap::Args;
use serde_json::{json, Value};
use std::path::Path;
use tinybert_model::{BertConfig, Heads, Model, ModelOptions, Precision, Want};

/// The JSON file a bench run writes into its output folder.
pub const RESULTS_FILE: &str = "inference.json";

/// Forward latency/throughput of models (folders, or presets with random weights):
/// inference.json and inference.md in the output folder.
#[derive(Debug, Args)]
pub struct Bench {
    /// Model folders or hub ids, or presets (`bert-base`, `tinybert-4`, `tinybert-6`) with random
    /// weights (repeat the flag). The first is the speed-up baseline (and, with `--pytorch`, the
    /// reference's teacher shape; the second its student shape).
    #[arg(long = "model", required = true)]
    pub models: Vec<String>,
    /// Display names of the models, in order (default: as given).
    #[arg(long = "name")]
    pub names: Vec<String>,
    /// Batch sizes.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 32], value_parser = positive)]
    pub batch: Vec<usize>,
    /// Sequence length.
    #[arg(long, default_value_t = 128, value_parser = positive)]
    pub seq: usize,
    /// Untimed runs first.
    #[arg(long, default_value_t = 1)]
    pub warmup: usize,
    /// Timed runs (the median is reported).
    #[arg(long, default_value_t = 5, value_parser = positive)]
    pub iters: usize,
    /// Python with torch + transformers for the reference (`none` to skip).
    #[arg(long, default_value = "none")]
    pub pytorch: String,
    /// The PyTorch reference benchmark script.
    #[arg(long, default_value = REFERENCE_SCRIPT)]
    pub reference_script: String,
    /// Precision: f32, or bf16 (our frozen products in bf16 on AVX-512 BF16 CPUs; the PyTorch
    /// reference under `torch.autocast(bfloat16)`).
    #[arg(long, default_value = "f32")]
    pub dtype: Precision,
}

impl Job for Bench {
    const KIND: &'static str = "bench";

    fn validate(&self) -> Result<()> {
        if !self.names.is_empty() && self.names.len() != self.models.len() {
            bail!(
                "{} names for {} models: give one per model, or none",
                self.names.len(),
                self.models.len()
            );
        }
        for (i, n) in self.names.iter().enumerate() {
            if self.names[..i].contains(n) {
                bail!("name `{n}` appears twice");
            }
        }
        if self.pytorch != "none" && self.models.len() > 2 {
            bail!("the PyTorch reference measures two models (a teacher and a student shape): give at most two with --pytorch");
        }
        Ok(())
    }

    fn inputs(&self) -> Vec<Input<'_>> {
        self.models
            .iter()
            .filter(|m| BertConfig::preset(m).is_none())
            .map(|m| Input::Model("models", m))
            .collect()
    }

    fn run(&self, ctx: &Ctx, out: &Path) -> Result<()> {
        let threads = rayon::current_num_threads();
        let opts = ModelOptions {
            device: ctx.device.clone(),
            compute: self.dtype,
            heads: Heads {
                classifier: Want::Never,
                mlm: Want::Never,
                fit_dense: Want::Never,
            },
            ..Default::default()
        };
        let mut rows = Vec::new();
        let mut configs = Vec::new();
        for (i, spec) in self.models.iter().enumerate() {
            let name = self.names.get(i).unwrap_or(spec);
            let model = match BertConfig::preset(spec) {
                Some(cfg) => Model::init(&cfg, &opts)?,
                None => Model::load(&ctx.model(spec)?, &opts)?,
            };
            let cfg = model.config.clone();
            let params = model.num_params();
            for &b in &self.batch {
                let (ids, types, mask) =
                    synthetic_batch(b, self.seq, cfg.vocab_size, 99, &ctx.device)?;
                let times = time_ms(self.warmup, self.iters, || {
                    let out = model.forward_t(&ids, &types, &mask, false)?;
                    out.sequence_output.device().synchronize()?;
                    Ok(())
                })?;
                let row = Row {
                    name: name.clone(),
                    implementation: "tinybert",
                    batch: b,
                    params,
                    flops_per_example: cfg.flops_per_token(self.seq) as f64 * self.seq as f64,
                    latency_ms: median(&times),
                    peak_rss_mb: peak_rss_mb(),
                };
                tracing::info!("{name} batch {b}: {:.1} ms", row.latency_ms);
                rows.push(row);
            }
            configs.push((name.clone(), cfg));
        }
        if self.pytorch != "none" {
            rows.extend(reference_rows(self, threads, &configs)?);
        }
        let values = to_json(&rows, self);
        let md = markdown(&rows, self);
        let dtype = self.dtype.effective(&ctx.device).name();
        let meta = json!({ "seq": self.seq, "threads": threads, "device": ctx.device_name, "dtype": dtype, "iters": self.iters, "warmup": self.warmup });
        write_results(&out.join(RESULTS_FILE), meta, &values, &md)
    }
}

struct Row {
    name: String,
    implementation: &'static str,
    batch: usize,
    params: usize,
    flops_per_example: f64,
    latency_ms: f64,
    peak_rss_mb: Option<f64>,
}

/// PyTorch's numbers for the first two models (the reference builds a teacher and a student
/// shape: the first model is its teacher, the second its student).
fn reference_rows(a: &Bench, threads: usize, configs: &[(String, BertConfig)]) -> Result<Vec<Row>> {
    let batches: Vec<String> = a.batch.iter().map(|b| b.to_string()).collect();
    let mut args = reference_args(threads, a.seq, a.iters, a.warmup, a.dtype);
    args.extend(
        [
            "--bench",
            "infer",
            "--infer-attn",
            "sdpa",
            "--infer-batches",
        ]
        .map(String::from),
    );
    args.push(batches.join(","));
    let Some((_, teacher)) = configs.first() else {
        return Ok(Vec::new());
    };
    let student = configs.get(1).map(|(_, c)| c);
    args.extend(reference_shapes(teacher, student, &reference_dir()?)?);
    let v = run_reference(&a.pytorch, Path::new(&a.reference_script), &args)?;
    let mut rows = Vec::new();
    for r in v["results"].as_array().into_iter().flatten() {
        let i = match r["name"].as_str() {
            Some("infer_teacher") => 0,
            Some("infer_student") => 1,
            _ => continue,
        };
        let Some((name, cfg)) = configs.get(i) else {
            continue;
        };
        rows.push(Row {
            name: name.clone(),
            implementation: "pytorch",
            batch: r["batch"].as_u64().unwrap_or(0) as usize,
            params: cfg.param_counts().total,
            flops_per_example: cfg.flops_per_token(a.seq) as f64 * a.seq as f64,
            latency_ms: r["ms_per_step_median"].as_f64().unwrap_or(f64::NAN),
            peak_rss_mb: r["process_max_rss_mb"].as_f64(),
        });
    }
    Ok(rows)
}

/// The display name of the first model, the speed-up baseline.
fn base_name(a: &Bench) -> &str {
    a.names
        .first()
        .or(a.models.first())
        .map_or("", String::as_str)
}

/// Speed-up of `row` relative to the first model with the same implementation and batch.
fn speedup(rows: &[Row], row: &Row, base_name: &str) -> Option<f64> {
    rows.iter()
        .find(|r| {
            r.implementation == row.implementation && r.batch == row.batch && r.name == base_name
        })
        .map(|base| base.latency_ms / row.latency_ms)
}

fn to_json(rows: &[Row], a: &Bench) -> Vec<Value> {
    rows.iter()
        .map(|r| {
            json!({
                "name": r.name, "impl": r.implementation, "batch": r.batch, "seq": a.seq,
                "params": r.params, "flops_per_example": r.flops_per_example,
                "latency_ms_median": r.latency_ms,
                "examples_per_s": r.batch as f64 / (r.latency_ms / 1e3),
                "speedup": speedup(rows, r, base_name(a)),
                "peak_rss_mb": r.peak_rss_mb,
            })
        })
        .collect()
}

fn markdown(rows: &[Row], a: &Bench) -> String {
    let mut s = format!(
        "| model | impl | batch | params | GFLOP/example | latency (ms) | examples/s | speed-up vs {} |\n|---|---|---|---|---|---|---|---|\n",
        base_name(a)
    );
    for r in rows {
        let sp = speedup(rows, r, base_name(a)).map_or("–".into(), |x| format!("{x:.1}x"));
        s.push_str(&format!(
            "| {} | {} | {} | {:.1}M | {:.2} | {:.1} | {:.1} | {} |\n",
            r.name,
            r.implementation,
            r.batch,
            r.params as f64 / 1e6,
            r.flops_per_example / 1e9,
            r.latency_ms,
            r.batch as f64 / (r.latency_ms / 1e3),
            sp
        ));
    }
    s
}
