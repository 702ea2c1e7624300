//! `tinybert bench data-parallel`: general distillation as one process of `--threads` threads
//! against `--ranks` MPI ranks of `threads / ranks` threads each, at the same global batch for
//! the same steps (like with like: the same cores, examples and weights): examples/s of each, the
//! all-reduce's time and volume per step, the two runs' weight difference, and the all-reduce
//! projected to more ranks at given link bandwidths.
//!
//! The projection: a ring all-reduce sends and receives 2(N-1)/N of the buffer per rank, so a
//! step of N ranks, each one machine like this one computing `batch_size` examples (global batch
//! N x `batch_size`), takes the measured one-process step plus 2(N-1)/N x bytes / bandwidth
//! (latency and compute-communication overlap ignored; the trainers do not overlap).

use crate::jobs::measure::write_results;
use crate::pipeline::ranks;
use crate::GlobalArgs;
use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, Args)]
pub struct ParallelArgs {
    /// Teacher model folder.
    #[arg(long)]
    pub teacher: String,
    /// Pre-training instances (`data corpus` output).
    #[arg(long)]
    pub data: String,
    /// Student shape, as for `distill general --student`.
    #[arg(
        long,
        default_value = r#"{"layers":3,"hidden":192,"heads":12,"ffn":768}"#
    )]
    pub student: String,
    /// Global batch (examples per optimizer step).
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Steps of each run; the second half is timed.
    #[arg(long, default_value_t = 20)]
    pub steps: usize,
    #[arg(long, default_value_t = 2)]
    pub ranks: usize,
    /// Threads of the one process; each rank gets threads / ranks.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Ranks to project the all-reduce to.
    #[arg(long, value_delimiter = ',', default_value = "8,64")]
    pub project_ranks: Vec<usize>,
    /// Link bandwidths (GB/s) to project with: 1.25 is 10 Gb/s Ethernet, 12.5 is 100 Gb/s
    /// InfiniBand.
    #[arg(long, value_delimiter = ',', default_value = "1.25,12.5")]
    pub bandwidth_gbs: Vec<f64>,
    /// Folder of the two runs (replaced).
    #[arg(long, default_value = "bench/data-parallel")]
    pub work: PathBuf,
    #[arg(long, default_value = "bench/data-parallel.json")]
    pub output: PathBuf,
}

pub fn run(a: ParallelArgs, g: &GlobalArgs) -> Result<()> {
    if a.ranks < 2 || a.threads % a.ranks != 0 {
        bail!("--ranks must be at least 2 and divide --threads (each rank gets threads / ranks)");
    }
    let trainer = |threads: usize, out: &Path| {
        let mut args: Vec<String> = ["--device", &g.device, "-q", "distill", "general"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for (k, v) in [
            ("--teacher", a.teacher.clone()),
            ("--student", a.student.clone()),
            ("--data", a.data.clone()),
            ("--max-steps", a.steps.to_string()),
            ("--batch-size", a.batch_size.to_string()),
            ("--log-every", (a.steps / 2).max(1).to_string()),
            ("--threads", threads.to_string()),
            ("--output", out.display().to_string()),
        ] {
            args.extend([k.to_string(), v]);
        }
        args
    };
    let one = a.work.join("one-process");
    let many = a.work.join(format!("{}-ranks", a.ranks));
    for dir in [&one, &many] {
        if dir.exists() {
            std::fs::remove_dir_all(dir).with_context(|| dir.display().to_string())?;
        }
    }
    let exe = std::env::current_exe()?;
    tracing::info!("one process, {} threads -> {}", a.threads, one.display());
    let status = Command::new(exe).args(trainer(a.threads, &one)).status()?;
    if !status.success() {
        bail!("the one-process run failed ({status})");
    }
    let per_rank = a.threads / a.ranks;
    tracing::info!(
        "{} ranks, {per_rank} thread(s) each -> {}",
        a.ranks,
        many.display()
    );
    let mut cmd = ranks::launcher(a.ranks)?;
    cmd.args(trainer(per_rank, &many));
    ranks::wait(cmd, "the data-parallel run")?;

    let (s1, sn) = (summary(&one)?, summary(&many)?);
    let rate = |s: &Value| s["examples_per_s"].as_f64().unwrap_or(f64::NAN);
    let dp = &sn["data_parallel"];
    let bytes = dp["allreduce_bytes_per_step"].as_f64().unwrap_or(f64::NAN);
    let allreduce_ms = dp["allreduce_ms_per_step"].as_f64().unwrap_or(f64::NAN);
    let step_s = a.batch_size as f64 / rate(&s1);
    let weights_rel = max_relative_difference(&one, &many)?;
    let mut rows = vec![
        json!({"name": "one process", "ranks": 1, "threads_per_rank": a.threads,
               "examples_per_s": rate(&s1), "step_ms": 1e3 * step_s}),
        json!({"name": format!("{} ranks", a.ranks), "ranks": a.ranks,
               "threads_per_rank": per_rank, "examples_per_s": rate(&sn),
               "step_ms": 1e3 * a.batch_size as f64 / rate(&sn),
               "allreduce_ms_per_step": allreduce_ms, "allreduce_bytes_per_step": bytes,
               "max_relative_weight_difference": weights_rel}),
    ];
    let mut md = format!(
        "| run | ranks x threads | examples/s | step ms | all-reduce ms/step |\n|---|---|---|---|---|\n\
         | one process | 1 x {} | {:.1} | {:.0} | |\n| {} ranks | {} x {per_rank} | {:.1} | {:.0} | {allreduce_ms:.1} |\n\n\
         Speed of {} ranks against one process: {:.2}x; all-reduced per step: {:.1} MB per rank; \
         largest relative weight difference between the two runs: {weights_rel:.1e}.\n\n\
         | ranks | link GB/s | all-reduce ms/step | step ms | scaling efficiency | examples/s |\n|---|---|---|---|---|---|\n",
        a.threads,
        rate(&s1),
        1e3 * step_s,
        a.ranks,
        a.ranks,
        rate(&sn),
        1e3 * a.batch_size as f64 / rate(&sn),
        a.ranks,
        rate(&sn) / rate(&s1),
        bytes / 1e6,
    );
    for &n in &a.project_ranks {
        for &bw in &a.bandwidth_gbs {
            let comm = 2.0 * (n as f64 - 1.0) / n as f64 * bytes / (bw * 1e9);
            let eff = step_s / (step_s + comm);
            let eps = n as f64 * a.batch_size as f64 / (step_s + comm);
            md.push_str(&format!(
                "| {n} | {bw} | {:.1} | {:.0} | {:.1}% | {eps:.0} |\n",
                1e3 * comm,
                1e3 * (step_s + comm),
                100.0 * eff
            ));
            rows.push(
                json!({"name": "projection", "ranks": n, "bandwidth_gbs": bw,
                "allreduce_ms_per_step": 1e3 * comm, "step_ms": 1e3 * (step_s + comm),
                "scaling_efficiency": eff, "examples_per_s": eps}),
            );
        }
    }
    let meta = json!({
        "teacher": a.teacher, "data": a.data, "student": a.student, "batch_size": a.batch_size,
        "steps": a.steps, "timed": "the second half of the steps", "device": g.device,
        "engine": dp["engine"],
        "projection": "each rank one machine like this one computing batch_size examples per step (global batch ranks x batch_size); ring all-reduce: 2(N-1)/N x bytes / bandwidth per step; latency and overlap ignored",
    });
    write_results(&a.output, meta, &rows, &md)
}

fn summary(dir: &Path) -> Result<Value> {
    let p = dir.join("summary.json");
    let text = std::fs::read_to_string(&p).with_context(|| p.display().to_string())?;
    Ok(serde_json::from_str(&text)?)
}

/// The largest `|a - b| / |a|` (norms per tensor, `|a|` at least 1e-3) between the two runs'
/// students.
fn max_relative_difference(a: &Path, b: &Path) -> Result<f64> {
    let dev = candle_core::Device::Cpu;
    let load = |d: &Path| candle_core::safetensors::load(d.join("model.safetensors"), &dev);
    let (ta, tb) = (load(a)?, load(b)?);
    let mut worst = 0f64;
    for (name, x) in &ta {
        let y = tb
            .get(name)
            .with_context(|| format!("{name} missing from {}", b.display()))?;
        let norm = |t: &candle_core::Tensor| -> Result<f64> {
            Ok((t.sqr()?.sum_all()?.to_scalar::<f32>()? as f64).sqrt())
        };
        worst = worst.max(norm(&(x - y)?)? / norm(x)?.max(1e-3));
    }
    Ok(worst)
}
