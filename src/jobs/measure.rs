//! Benchmark plumbing shared by `bench` and the command line's distillation and data
//! benchmarks: timing, peak memory, synthetic batches, and running the PyTorch reference script.

use anyhow::{bail, Context, Result};
use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tinybert_model::{BertConfig, Precision};

/// Default location of the PyTorch reference benchmark, beside the project checkout.
pub const REFERENCE_SCRIPT: &str = "../shared/bench/tinybert_bench.py";

/// Median and all timings (ms) of `iters` calls after `warmup` calls.
pub fn time_ms(warmup: usize, iters: usize, mut f: impl FnMut() -> Result<()>) -> Result<Vec<f64>> {
    for _ in 0..warmup {
        f()?;
    }
    let mut times = Vec::with_capacity(iters);
    for _ in 0..iters.max(1) {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(times)
}

pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Peak resident set size of this process so far (MiB), from `/proc/self/status`.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// A synthetic batch shaped like the reference's: random ids, real lengths in [seq/2, seq]
/// (the first row full), segment B on the second half of each real sequence.
/// Returns (input_ids, token_type_ids, attention_mask), each [batch, seq] u32.
pub fn synthetic_batch(
    batch: usize,
    seq: usize,
    vocab: usize,
    seed: u64,
    device: &Device,
) -> Result<(Tensor, Tensor, Tensor)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (mut ids, mut types, mut mask) = (vec![], vec![], vec![]);
    for b in 0..batch {
        let len = if b == 0 {
            seq
        } else {
            rng.random_range((seq / 2).max(1)..=seq)
        };
        for p in 0..seq {
            let real = p < len;
            ids.push(if real {
                rng.random_range(1..vocab as u32)
            } else {
                0
            });
            types.push(u32::from(real && p >= len / 2));
            mask.push(u32::from(real));
        }
    }
    let t = |v: Vec<u32>| Tensor::from_vec(v, (batch, seq), device);
    Ok((t(ids)?, t(types)?, t(mask)?))
}

/// A scratch folder for the reference's config files.
pub fn reference_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("tinybert-ref-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// Runs the PyTorch reference benchmark with `args` and returns its parsed JSON output.
pub fn run_reference(python: &str, script: &Path, args: &[String]) -> Result<serde_json::Value> {
    if !script.exists() {
        bail!(
            "{}: PyTorch reference script not found (set --reference-script, or --pytorch none to skip)",
            script.display()
        );
    }
    let out: PathBuf =
        std::env::temp_dir().join(format!("tinybert-ref-{}.json", std::process::id()));
    tracing::info!(
        "running the PyTorch reference: {python} {} {}",
        script.display(),
        args.join(" ")
    );
    let status = std::process::Command::new(python)
        .arg(script)
        .args(args)
        .arg("--out")
        .arg(&out)
        .status()
        .with_context(|| format!("cannot start `{python}`"))?;
    if !status.success() {
        bail!("the PyTorch reference failed ({status})");
    }
    let text = std::fs::read_to_string(&out).with_context(|| out.display().to_string())?;
    let _ = std::fs::remove_file(&out);
    Ok(serde_json::from_str(&text)?)
}

/// The PyTorch reference's flags every benchmark passes: the CPU, `threads`, sequence length
/// `seq`, `iters` timed steps after `warmup` (at least one), and the dtype (bf16: autocast).
pub fn reference_args(
    threads: usize,
    seq: usize,
    iters: usize,
    warmup: usize,
    dtype: Precision,
) -> Vec<String> {
    let dtype = if dtype == Precision::Bf16 {
        "bf16"
    } else {
        "fp32"
    };
    let warmup = warmup.max(1);
    ["--device", "cpu", "--min-time", "0", "--dtype", dtype]
        .iter()
        .map(|s| s.to_string())
        .chain([
            format!("--threads={threads}"),
            format!("--seq={seq}"),
            format!("--steps={iters}"),
            format!("--warmup={warmup}"),
        ])
        .collect()
}

/// Writes `rows` as JSON to `path` and a Markdown table beside it (`.md`).
pub fn write_results(
    path: &Path,
    meta: serde_json::Value,
    rows: &[serde_json::Value],
    markdown: &str,
) -> Result<()> {
    if let Some(p) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(p).with_context(|| p.display().to_string())?;
    }
    let v = serde_json::json!({ "meta": meta, "results": rows });
    tinybert_model::io::write_atomic(path, serde_json::to_string_pretty(&v)?.as_bytes())?;
    let md = path.with_extension("md");
    tinybert_model::io::write_atomic(&md, markdown.as_bytes())?;
    println!("{markdown}");
    println!("results: {} and {}", path.display(), md.display());
    Ok(())
}

/// The reference script's flags that make it build the shapes of `teacher` and `student`
/// (config files written into `dir`), or why it cannot: it reads only the hidden size, layers,
/// heads and FFN size, and fixes the rest (a 30,522-word vocabulary, erf-GELU, two segments).
pub fn reference_shapes(
    teacher: &BertConfig,
    student: Option<&BertConfig>,
    dir: &Path,
) -> Result<Vec<String>> {
    let mut args = Vec::new();
    for (flag, cfg) in [
        ("--teacher-config", Some(teacher)),
        ("--student-config", student),
    ] {
        let Some(c) = cfg else { continue };
        if (c.vocab_size, c.hidden_act.as_str(), c.type_vocab_size) != (30522, "gelu", 2) {
            bail!(
                "the PyTorch reference cannot build this model (vocabulary {}, {}, {} segment types; it has 30522, gelu, 2): run without --pytorch",
                c.vocab_size,
                c.hidden_act,
                c.type_vocab_size
            );
        }
        let path = dir.join(format!("{}.json", &flag[2..]));
        std::fs::write(&path, c.to_json_string())
            .with_context(|| format!("cannot write {}", path.display()))?;
        args.extend([flag.to_string(), path.display().to_string()]);
    }
    Ok(args)
}
