//! `tinybert bench inference`: forward latency and throughput per model and batch size, the
//! paper's "Params / Speedup" columns, next to PyTorch's own numbers for the same shapes.

use super::common::{
    median, peak_rss_mb, run_reference, synthetic_batch, time_ms, write_results, REFERENCE_SCRIPT,
};
use crate::GlobalArgs;
use anyhow::Result;
use candle_core::Device;
use clap::Args;
use serde_json::{json, Value};
use std::path::PathBuf;
use tinybert_model::{resolve_model, BertConfig, Heads, Model, ModelOptions, Want};

#[derive(Debug, Args)]
pub struct InferenceArgs {
    /// Model folders or hub ids, or presets (`bert-base`, `tinybert-4`, `tinybert-6`) with random
    /// weights. The first is the speed-up baseline.
    #[arg(long = "model", required = true)]
    pub models: Vec<String>,
    #[arg(long, value_delimiter = ',', default_value = "1,32")]
    pub batch: Vec<usize>,
    #[arg(long, default_value_t = 128)]
    pub seq: usize,
    #[arg(long, default_value_t = 1)]
    pub warmup: usize,
    #[arg(long, default_value_t = 5)]
    pub iters: usize,
    /// Python with torch + transformers for the reference (`none` to skip).
    #[arg(long, default_value = "none")]
    pub pytorch: String,
    #[arg(long, default_value = REFERENCE_SCRIPT)]
    pub reference_script: PathBuf,
    /// CPU threads for both implementations (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// JSON results (a Markdown table is written beside it).
    #[arg(long, default_value = "bench/inference.json")]
    pub output: PathBuf,
    /// Display names of the models, in order (default: as given); set by the pipeline's
    /// `bench` stage.
    #[arg(skip)]
    pub names: Vec<String>,
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

pub fn run(a: InferenceArgs, g: &GlobalArgs) -> Result<()> {
    let device = crate::device::parse_device(&g.device)?;
    bench(&a, &device, &g.device)
}

/// Benchmarks `a.models` on `device` and writes `a.output` (JSON) with a Markdown table beside
/// it: the core of `tinybert bench inference`, also run by the pipeline's `bench` stage.
pub fn bench(a: &InferenceArgs, device: &Device, device_name: &str) -> Result<()> {
    let threads = a
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    let opts = ModelOptions {
        device: device.clone(),
        heads: Heads {
            classifier: Want::Never,
            mlm: Want::Never,
            fit_dense: Want::Never,
        },
        ..Default::default()
    };
    let mut rows = Vec::new();
    let mut configs = Vec::new();
    for (i, spec) in a.models.iter().enumerate() {
        let name = a.names.get(i).unwrap_or(spec);
        let model = match BertConfig::preset(spec) {
            Some(cfg) => Model::init(&cfg, &opts)?,
            None => Model::load(&resolve_model(spec)?, &opts)?,
        };
        let cfg = model.config.clone();
        let params = model.num_params();
        for &b in &a.batch {
            let (ids, types, mask) = synthetic_batch(b, a.seq, cfg.vocab_size, 99, device)?;
            let times = time_ms(a.warmup, a.iters, || {
                let out = model.forward_t(&ids, &types, &mask, false)?;
                out.sequence_output.device().synchronize()?;
                Ok(())
            })?;
            let row = Row {
                name: name.clone(),
                implementation: "tinybert",
                batch: b,
                params,
                flops_per_example: cfg.flops_per_token(a.seq) as f64 * a.seq as f64,
                latency_ms: median(&times),
                peak_rss_mb: peak_rss_mb(),
            };
            tracing::info!("{name} batch {b}: {:.1} ms", row.latency_ms);
            rows.push(row);
        }
        configs.push((name.clone(), cfg));
    }
    if a.pytorch != "none" {
        rows.extend(reference_rows(a, threads, &configs)?);
    }
    let values = to_json(&rows, a);
    let md = markdown(&rows, a);
    let meta = json!({ "seq": a.seq, "threads": threads, "device": device_name, "iters": a.iters, "warmup": a.warmup });
    write_results(&a.output, meta, &values, &md)
}

/// PyTorch's numbers for the models whose shape is bert-base (its teacher) or TinyBERT-4 (its
/// student): the reference script builds exactly those two.
fn reference_rows(
    a: &InferenceArgs,
    threads: usize,
    configs: &[(String, BertConfig)],
) -> Result<Vec<Row>> {
    let batches: Vec<String> = a.batch.iter().map(|b| b.to_string()).collect();
    let args: Vec<String> = [
        "--device",
        "cpu",
        "--threads",
        &threads.to_string(),
        "--seq",
        &a.seq.to_string(),
        "--bench",
        "infer",
        "--infer-attn",
        "sdpa",
        "--infer-batches",
        &batches.join(","),
        "--steps",
        &a.iters.to_string(),
        "--warmup",
        &a.warmup.max(1).to_string(),
        "--min-time",
        "0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let v = run_reference(&a.pytorch, &a.reference_script, &args)?;
    let same_shape = |c: &BertConfig, p: &BertConfig| {
        (c.num_hidden_layers, c.hidden_size, c.intermediate_size)
            == (p.num_hidden_layers, p.hidden_size, p.intermediate_size)
    };
    let mut rows = Vec::new();
    for r in v["results"].as_array().into_iter().flatten() {
        let (shape, label) = match r["name"].as_str() {
            Some("infer_teacher") => (BertConfig::bert_base(), "bert-base"),
            Some("infer_student") => (BertConfig::tinybert_4(), "tinybert-4"),
            _ => continue,
        };
        let name = configs
            .iter()
            .find(|(_, c)| same_shape(c, &shape))
            .map_or(label.to_string(), |(n, _)| n.clone());
        rows.push(Row {
            name,
            implementation: "pytorch",
            batch: r["batch"].as_u64().unwrap_or(0) as usize,
            params: shape.param_counts().total,
            flops_per_example: shape.flops_per_token(a.seq) as f64 * a.seq as f64,
            latency_ms: r["ms_per_step_median"].as_f64().unwrap_or(f64::NAN),
            peak_rss_mb: r["process_max_rss_mb"].as_f64(),
        });
    }
    Ok(rows)
}

/// The display name of the first model, the speed-up baseline.
fn base_name(a: &InferenceArgs) -> &str {
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

fn to_json(rows: &[Row], a: &InferenceArgs) -> Vec<Value> {
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

fn markdown(rows: &[Row], a: &InferenceArgs) -> String {
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
