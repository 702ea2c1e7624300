//! `tinybert bench distill`: examples/s and peak memory of one general-distillation step
//! (teacher bert-base shape, student TinyBERT-4) and one prediction-distillation step, with the
//! trainers' own objectives and BertAdam, next to the PyTorch reference run in the same
//! invocation.

use crate::jobs::measure::{
    median, reference_args, reference_dir, reference_shapes, run_reference, time_ms, write_results,
    REFERENCE_SCRIPT,
};
use crate::GlobalArgs;
use anyhow::Result;
use candle_core::Device;
use clap::Args;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::path::PathBuf;
use tinybert_data::{Example, Label};
use tinybert_distill::train::general::IntermediateObjective;
use tinybert_distill::train::task::PredictionObjective;
use tinybert_distill::train::{Objective, Pass};
use tinybert_distill::{BertAdam, BertAdamConfig, LossConfig};
use tinybert_model::{
    BertConfig, FitDenseKind, Heads, Model, ModelOptions, Precision, Trainable, Want,
};

#[derive(Debug, Args)]
pub struct DistillArgs {
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    #[arg(long, default_value_t = 128)]
    pub seq: usize,
    #[arg(long, default_value_t = 1)]
    pub warmup: usize,
    #[arg(long, default_value_t = 3)]
    pub iters: usize,
    /// Teacher shape (preset or config.json).
    #[arg(long, default_value = "bert-base")]
    pub teacher: String,
    /// Student shape (preset or config.json).
    #[arg(long, default_value = "tinybert-4")]
    pub student: String,
    /// Which steps: general, pred.
    #[arg(long, value_delimiter = ',', default_value = "general,pred")]
    pub steps: Vec<String>,
    /// Python with torch + transformers for the reference (`none` to skip).
    #[arg(long, default_value = "none")]
    pub pytorch: String,
    #[arg(long, default_value = REFERENCE_SCRIPT)]
    pub reference_script: PathBuf,
    /// Precision of the frozen teacher: f32, or bf16 (its products in bf16 on AVX-512 BF16
    /// CPUs; the student stays f32). The PyTorch reference runs under `torch.autocast(bfloat16)`
    /// with bf16 (teacher and student), its fastest CPU setting.
    #[arg(long, default_value = "f32")]
    pub dtype: Precision,
    /// CPU threads for both implementations (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    #[arg(long, default_value = "bench/distill.json")]
    pub output: PathBuf,
}

/// Random full-length-or-shorter examples shaped like the reference's batch.
fn examples(n: usize, seq: usize, vocab: usize) -> Vec<Example> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(99);
    (0..n)
        .map(|i| {
            let len = if i == 0 {
                seq
            } else {
                rng.random_range((seq / 2).max(2)..=seq)
            };
            let ids: Vec<u32> = (0..len)
                .map(|_| rng.random_range(1..vocab as u32))
                .collect();
            let types = (0..len).map(|p| u8::from(p >= len / 2)).collect();
            Example {
                guid: i.to_string(),
                input_ids: ids,
                token_type_ids: types,
                label: Label::Class((i % 2) as u32),
                source_index: None,
            }
        })
        .collect()
}

/// Resets this process's peak RSS so each measurement reports its own (Linux `clear_refs`).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub fn run(a: DistillArgs, g: &GlobalArgs) -> Result<()> {
    let threads = a
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    tinybert_model::kernels::flushing_thread_pool()
        .num_threads(threads)
        .build()?
        .install(|| bench(&a, g, threads))
}

/// The benchmark, on `threads` threads.
fn bench(a: &DistillArgs, g: &GlobalArgs, threads: usize) -> Result<()> {
    let device: Device = crate::device::parse_device(&g.device)?;
    let tcfg = BertConfig::from_preset_or_file(&a.teacher)?;
    let scfg = BertConfig::from_preset_or_file(&a.student)?;
    let teacher = Model::init(
        &tcfg,
        &ModelOptions {
            device: device.clone(),
            compute: a.dtype,
            heads: Heads {
                classifier: Want::Always(2),
                ..Default::default()
            },
            ..Default::default()
        },
    )?;
    let student = Model::init(
        &scfg,
        &ModelOptions {
            device: device.clone(),
            trainable: Trainable::All,
            heads: Heads {
                classifier: Want::Always(2),
                fit_dense: Want::Always((FitDenseKind::Shared, tcfg.hidden_size)),
                ..Default::default()
            },
            ..Default::default()
        },
    )?;
    let data = examples(a.batch, a.seq, tcfg.vocab_size);
    let indices: Vec<usize> = (0..a.batch).collect();
    let loss_cfg = LossConfig::default();
    let vars = || {
        student
            .vars()
            .into_iter()
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect::<Vec<_>>()
    };
    let mut rows: Vec<Value> = Vec::new();
    for which in &a.steps {
        let mut objective: Box<dyn Objective> = match which.as_str() {
            "general" => Box::new(IntermediateObjective::new(
                &teacher, &student, &data, 0, &loss_cfg, &device,
            )?),
            "pred" => Box::new(PredictionObjective {
                teacher: &teacher,
                student: &student,
                data: &data,
                pad_id: 0,
                loss: &loss_cfg,
                regression: false,
                cache: None,
                device: device.clone(),
            }),
            other => anyhow::bail!("--steps {other}: expected general or pred"),
        };
        let mut opt = BertAdam::new(
            vars(),
            BertAdamConfig {
                schedule: tinybert_distill::Schedule::Constant,
                ..Default::default()
            },
            1000,
        )?;
        reset_peak_rss();
        let times = time_ms(a.warmup, a.iters, || {
            let pass = Pass {
                step: 0,
                batch: &indices,
                range: 0..indices.len(),
            };
            let loss = objective.loss(&pass)?;
            let grads = loss.total.backward()?;
            opt.step(&grads)?;
            Ok(())
        })?;
        let ms = median(&times);
        let name = if which == "general" {
            "general_distill"
        } else {
            "pred_distill"
        };
        tracing::info!("{name}: {ms:.0} ms/step");
        rows.push(json!({
            "name": name, "impl": "tinybert", "batch": a.batch, "seq": a.seq,
            "ms_per_step_median": ms, "examples_per_s": a.batch as f64 / (ms / 1e3),
            "peak_rss_mb": crate::jobs::measure::peak_rss_mb(), "times_ms": times,
        }));
    }
    if a.pytorch != "none" {
        let mut args = reference_args(threads, a.seq, a.iters, a.warmup, a.dtype);
        args.extend([
            format!("--batch={}", a.batch),
            format!("--bench={}", a.steps.join(",")),
        ]);
        args.extend(reference_shapes(&tcfg, Some(&scfg), &reference_dir()?)?);
        let v = run_reference(&a.pytorch, &a.reference_script, &args)?;
        for r in v["results"].as_array().into_iter().flatten() {
            rows.push(json!({
                "name": r["name"], "impl": "pytorch", "batch": r["batch"], "seq": r["seq"],
                "ms_per_step_median": r["ms_per_step_median"], "examples_per_s": r["samples_per_s"],
                "peak_rss_mb": r["process_max_rss_mb"],
            }));
        }
    }
    let md = markdown(&rows);
    let meta = json!({ "threads": threads, "device": g.device, "teacher": a.teacher, "student": a.student, "teacher_dtype": teacher.compute.name(), "iters": a.iters, "warmup": a.warmup });
    write_results(&a.output, meta, &rows, &md)
}

fn markdown(rows: &[Value]) -> String {
    let mut s = String::from("| step | impl | batch | ms/step | examples/s | peak RSS (MB) | vs PyTorch |\n|---|---|---|---|---|---|---|\n");
    for r in rows {
        let torch = rows
            .iter()
            .find(|p| p["impl"] == "pytorch" && p["name"] == r["name"]);
        let ratio = match (
            r["examples_per_s"].as_f64(),
            torch.and_then(|t| t["examples_per_s"].as_f64()),
        ) {
            (Some(a), Some(b)) if r["impl"] == "tinybert" => format!("{:.2}x", a / b),
            _ => "–".into(),
        };
        s.push_str(&format!(
            "| {} | {} | {} | {:.0} | {:.2} | {:.0} | {} |\n",
            r["name"].as_str().unwrap_or(""),
            r["impl"].as_str().unwrap_or(""),
            r["batch"],
            r["ms_per_step_median"].as_f64().unwrap_or(f64::NAN),
            r["examples_per_s"].as_f64().unwrap_or(f64::NAN),
            r["peak_rss_mb"].as_f64().unwrap_or(f64::NAN),
            ratio
        ));
    }
    s
}
