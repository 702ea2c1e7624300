//! `tinybert bench data`: data preparation speed next to the Python references of the TinyBERT
//! scripts, run on the same input in the same invocation.
//!
//! - corpus: `data corpus` ([`build_corpus`]) vs `pregenerate_reference.py` on
//!   `../shared/data/corpus/enwiki_sample_10MB.txt`, in corpus WordPieces per second;
//! - augmentation: [`augment_glue`] vs `augment_reference.py` on the first 500 SST-2 and 200
//!   MRPC training examples with a randomly initialised BERT-base-shaped MLM teacher (N_a 20,
//!   K 15, first 100,000 GloVe words), in examples per second.
//!
//! Each side runs in its own child process so that each peak RSS is its own: ours is this binary
//! started again in a hidden worker mode (reading `VmHWM`), the reference runs under a small
//! Python wrapper that reports its `ru_maxrss`. Setup (model construction, vocabulary and GloVe
//! loading) is excluded from both rates, as the reference scripts define them. Before each run
//! the machine is awaited idle (as the references' `--wait-idle`), and each row records how busy
//! other processes kept the machine meanwhile.

use crate::jobs::measure::{peak_rss_mb, write_results};
use crate::GlobalArgs;
use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tinybert_data::{
    augment_glue, build_corpus, AugmentOptions, AugmentOutcome, CorpusOptions, NoProgress, Task,
};
use tinybert_model::{
    load_tokenizer, tokenizer_hash, BertConfig, Heads, Model, ModelOptions, Precision, Want,
};

#[derive(Debug, Args)]
pub struct DataArgs {
    /// JSON results (a Markdown table is written beside it).
    #[arg(long, default_value = "bench/data.json")]
    pub output: PathBuf,
    /// Python with torch + transformers for the references (default: the one
    /// `REFERENCE_DIR/setup.sh` prints; `none` to skip the references).
    #[arg(long)]
    pub python: Option<String>,
    /// Folder of `pregenerate_reference.py`, `augment_reference.py` and `setup.sh`.
    #[arg(long, default_value = "../shared/bench")]
    pub reference_dir: PathBuf,
    #[arg(long, default_value = "../shared/data/corpus/enwiki_sample_10MB.txt")]
    pub corpus: PathBuf,
    /// GLUE root holding SST-2/ and MRPC/.
    #[arg(long, default_value = "../shared/data/glue")]
    pub glue: PathBuf,
    #[arg(long, default_value = "../shared/data/glove/glove.6B.50d.top100k.txt")]
    pub glove: PathBuf,
    /// Model folder whose tokenizer (bert-base-uncased vocabulary) both sides use.
    #[arg(long, default_value = "../shared/models/all-MiniLM-L6-v2")]
    pub vocab_model: PathBuf,
    /// Which benchmarks: corpus, sst2, mrpc.
    #[arg(long, value_delimiter = ',', default_value = "corpus,sst2,mrpc")]
    pub only: Vec<String>,
    #[arg(long, default_value_t = 500)]
    pub sst2_examples: usize,
    #[arg(long, default_value_t = 200)]
    pub mrpc_examples: usize,
    /// Our masked sentences per teacher forward.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Precision of our MLM forwards: f32, or bf16 (AVX-512 BF16 CPUs; f32 elsewhere). The
    /// reference scripts have no bf16 mode: they always compute in f32.
    #[arg(long, default_value = "f32")]
    pub dtype: Precision,
    /// N_a for both implementations.
    #[arg(long, default_value_t = 20)]
    pub n_aug: usize,
    /// Threads for the augmentation on both sides (the reference pre-generation is
    /// single-threaded by design; ours uses these threads).
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Before each run, wait up to this many seconds for the machine to be idle (< 10 % busy
    /// for 5 s).
    #[arg(long, default_value_t = 300.0)]
    pub wait_idle: f64,
    /// Scratch folder for outputs (default: a temporary folder, removed afterwards).
    #[arg(long)]
    pub scratch: Option<PathBuf>,
    /// Internal: run one measurement of ours in this process (`corpus`, `SST-2`, `MRPC`).
    #[arg(long, hide = true)]
    pub worker: Option<String>,
    /// Internal: where the worker writes its JSON result.
    #[arg(long, hide = true)]
    pub worker_result: Option<PathBuf>,
}

/// One benchmark: ours and the reference.
struct Case {
    name: &'static str,
    /// The worker kind / task name.
    kind: &'static str,
    rate_key: &'static str,
    unit: &'static str,
    target: f64,
}

const CASES: &[Case] = &[
    Case {
        name: "corpus_pregenerate",
        kind: "corpus",
        rate_key: "tokens_per_s",
        unit: "tokens/s",
        target: 20.0,
    },
    Case {
        name: "augment_sst2",
        kind: "SST-2",
        rate_key: "examples_per_s",
        unit: "examples/s",
        target: 5.0,
    },
    Case {
        name: "augment_mrpc",
        kind: "MRPC",
        rate_key: "examples_per_s",
        unit: "examples/s",
        target: 5.0,
    },
];

pub fn run(a: DataArgs, g: &GlobalArgs) -> Result<()> {
    if let Some(kind) = a.worker.clone() {
        return worker(&a, g, &kind);
    }
    let scratch_tmp;
    let scratch = match &a.scratch {
        Some(s) => s.clone(),
        None => {
            scratch_tmp = tempdir()?;
            scratch_tmp.0.clone()
        }
    };
    std::fs::create_dir_all(&scratch).with_context(|| scratch.display().to_string())?;
    let python = match a.python.as_deref() {
        Some("none") => None,
        Some(p) => Some(p.to_string()),
        None => Some(setup_python(&a.reference_dir)?),
    };
    let mut rows = Vec::new();
    for case in CASES {
        let key = case.kind.to_ascii_lowercase().replace('-', "");
        if !a.only.iter().any(|o| o.eq_ignore_ascii_case(&key)) {
            continue;
        }
        tracing::info!("{}: tinybert", case.name);
        let ours = run_worker(&a, g, case, &scratch)?;
        let reference = match &python {
            Some(py) => {
                tracing::info!("{}: reference", case.name);
                Some(run_reference(&a, py, case, &scratch)?)
            }
            None => None,
        };
        let ours_rate = ours[case.rate_key].as_f64().unwrap_or(f64::NAN);
        let ref_rate = reference
            .as_ref()
            .and_then(|r| r[case.rate_key].as_f64())
            .unwrap_or(f64::NAN);
        let mut our_row = row(case, "tinybert", &ours);
        our_row["speedup_vs_reference"] = json!(ours_rate / ref_rate);
        if let (Some(a), Some(b)) = (
            per_cpu_second(case, &ours),
            reference.as_ref().and_then(|r| per_cpu_second(case, r)),
        ) {
            our_row["cpu_efficiency_vs_reference"] = json!(a / b);
        }
        our_row["target_speedup"] = json!(case.target);
        rows.push(our_row);
        if let Some(r) = &reference {
            rows.push(row(case, "reference", r));
        }
    }
    let meta = json!({
        "benchmark": "data",
        "threads": a.threads,
        "dtype": a.dtype.name(),
        "reference_dtype": "f32",
        "n_aug": a.n_aug,
        "sst2_examples": a.sst2_examples,
        "mrpc_examples": a.mrpc_examples,
        "corpus": a.corpus,
        "glove": a.glove,
        "teacher": "random BERT-base-shaped MLM (12 layers, hidden 768) with the bert-base-uncased vocabulary",
        "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "definitions": "rates exclude setup (vocabulary, model and GloVe loading); augmentation \
                        seconds include writing the outputs; peak_rss_mb is each process's own",
    });
    write_results(&a.output, meta, &rows, &markdown(&rows))
}

/// Work done per second of the implementation's own CPU time (user + system, all threads): a
/// rate that a busy machine distorts much less than the wall-clock one.
fn per_cpu_second(case: &Case, r: &Value) -> Option<f64> {
    let amount = if case.kind == "corpus" {
        r["tokens"].as_f64()?
    } else {
        r["examples"].as_f64()?
    };
    let cpu = r["contention"]["own_cpu_seconds"].as_f64()?;
    (cpu > 0.0).then(|| amount / cpu)
}

/// The JSON row of one implementation: name, impl, the rate, peak RSS, and its details.
fn row(case: &Case, implementation: &str, r: &Value) -> Value {
    json!({
        "name": case.name,
        "impl": implementation,
        case.rate_key: r[case.rate_key],
        "per_cpu_second": per_cpu_second(case, r),
        "unit": case.unit,
        "peak_rss_mb": r["peak_rss_mb"],
        "seconds": r["seconds"],
        "contention": r["contention"],
        "details": r,
    })
}

fn markdown(rows: &[Value]) -> String {
    let mut md = String::from(
        "| benchmark | impl | rate | peak RSS (MB) | speed-up (target) | per CPU-second (ratio) \
         | other processes busy |\n|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let unit = r["unit"].as_str().unwrap_or("");
        let key = if unit == "tokens/s" {
            "tokens_per_s"
        } else {
            "examples_per_s"
        };
        let rate = r[key].as_f64().unwrap_or(f64::NAN);
        let speedup = match (
            r["speedup_vs_reference"].as_f64(),
            r["target_speedup"].as_f64(),
        ) {
            (Some(s), Some(t)) => format!("{s:.1}x ({t:.0}x)"),
            _ => String::new(),
        };
        let per_cpu = match (
            r["per_cpu_second"].as_f64(),
            r["cpu_efficiency_vs_reference"].as_f64(),
        ) {
            (Some(p), Some(x)) => format!("{p:.3} ({x:.1}x)"),
            (Some(p), None) => format!("{p:.3}"),
            _ => String::new(),
        };
        let busy = r["contention"]["other_processes_busy_frac"]
            .as_f64()
            .map_or("?".to_string(), |b| format!("{:.0} %", 100.0 * b));
        md.push_str(&format!(
            "| {} | {} | {:.3} {} | {:.0} | {} | {} | {} |\n",
            r["name"].as_str().unwrap_or(""),
            r["impl"].as_str().unwrap_or(""),
            rate,
            unit,
            r["peak_rss_mb"].as_f64().unwrap_or(f64::NAN),
            speedup,
            per_cpu,
            busy
        ));
    }
    md
}

/// Starts this binary in worker mode for `case` and returns its result.
fn run_worker(a: &DataArgs, g: &GlobalArgs, case: &Case, scratch: &Path) -> Result<Value> {
    let result = scratch.join(format!("ours-{}.json", case.kind));
    // `/proc/self/exe` still runs this binary when a rebuild has replaced its file meanwhile.
    let proc_exe = Path::new("/proc/self/exe");
    let exe = if proc_exe.exists() {
        proc_exe.to_path_buf()
    } else {
        std::env::current_exe().context("locating this binary")?
    };
    let mut cmd = Command::new(exe);
    cmd.arg("-q")
        .args(["--device", &g.device])
        .args(["bench", "data", "--worker", case.kind])
        .arg("--worker-result")
        .arg(&result)
        .arg("--scratch")
        .arg(scratch)
        .arg("--corpus")
        .arg(&a.corpus)
        .arg("--glue")
        .arg(&a.glue)
        .arg("--glove")
        .arg(&a.glove)
        .arg("--vocab-model")
        .arg(&a.vocab_model)
        .args(["--sst2-examples", &a.sst2_examples.to_string()])
        .args(["--mrpc-examples", &a.mrpc_examples.to_string()])
        .args(["--n-aug", &a.n_aug.to_string()])
        .args(["--batch-size", &a.batch_size.to_string()])
        .args(["--threads", &a.threads.to_string()])
        .args(["--wait-idle", &a.wait_idle.to_string()])
        .args(["--dtype", a.dtype.name()])
        .env("RAYON_NUM_THREADS", a.threads.to_string());
    let status = cmd.status().context("starting the benchmark worker")?;
    if !status.success() {
        bail!("the tinybert {} worker failed ({status})", case.name);
    }
    read_json(&result)
}

/// Worker mode: one measurement in this process, written as JSON.
fn worker(a: &DataArgs, g: &GlobalArgs, kind: &str) -> Result<()> {
    let out = a
        .worker_result
        .clone()
        .context("--worker needs --worker-result")?;
    let scratch = a.scratch.clone().context("--worker needs --scratch")?;
    let tok = load_tokenizer(&a.vocab_model)?;
    let hash = tokenizer_hash(&tok)?;
    let mut result = if kind == "corpus" {
        let waited = wait_for_idle(a.wait_idle);
        let meter = Contention::start();
        let mut opts = CorpusOptions::new(vec![a.corpus.clone()], scratch.join("ours-corpus"));
        opts.seed = 42;
        let s = build_corpus(&opts, &tok, &hash, &NoProgress)?;
        json!({
            "tokens_per_s": s.tokens_per_s,
            "tokens": s.tokens,
            "instances": s.instances,
            "documents": s.documents,
            "sentences": s.sentences,
            "input_bytes": s.input_bytes,
            "seconds": s.seconds,
            "contention": meter.finish(),
            "waited_for_idle_s": waited,
        })
    } else {
        let task: Task = kind.parse()?;
        let limit = if task == Task::MRPC {
            a.mrpc_examples
        } else {
            a.sst2_examples
        };
        let t0 = Instant::now();
        let mut cfg = BertConfig::bert_base();
        cfg.vocab_size = tok.get_vocab_size(true);
        let model_opts = ModelOptions {
            device: crate::device::parse_device(&g.device)?,
            heads: Heads {
                mlm: Want::Always(()),
                ..Heads::default()
            },
            compute: a.dtype,
            ..ModelOptions::default()
        };
        let teacher = Model::init(&cfg, &model_opts)?;
        let model_s = t0.elapsed().as_secs_f64();
        let output = scratch.join(format!("ours-{kind}"));
        let _ = std::fs::remove_dir_all(&output);
        let mut opts = AugmentOptions::new(task, a.glue.clone(), a.glove.clone(), output);
        opts.n_aug = a.n_aug;
        opts.batch_size = a.batch_size;
        opts.limit = Some(limit);
        let waited = wait_for_idle(a.wait_idle);
        let meter = Contention::start();
        let s = match augment_glue(&opts, &teacher, &tok, &hash, &NoProgress)? {
            AugmentOutcome::Done(s) => s,
            AugmentOutcome::Stopped { .. } => bail!("augmentation stopped"),
        };
        json!({
            "examples_per_s": s.examples_per_s,
            "examples": s.examples,
            "output_rows": s.output_rows,
            "mlm_forwards": s.mlm_forwards,
            "mlm_batches": s.work.mlm.batches,
            "mlm_tokens": s.work.mlm.tokens,
            "batch_size": a.batch_size,
            "mlm_seconds": s.work.mlm.seconds,
            "glove_lookups": s.glove_lookups,
            "glove_seconds": s.work.glove_seconds,
            "seconds": s.seconds,
            "seconds_setup": {"model": model_s, "glove_load": s.seconds_glove_load,
                              "read": s.seconds_read},
            "ms_per_mlm_sequence": 1e3 * s.work.mlm.seconds / (s.mlm_forwards.max(1) as f64),
            "contention": meter.finish(),
            "waited_for_idle_s": waited,
        })
    };
    result["peak_rss_mb"] = json!(peak_rss_mb());
    result["threads"] = json!(rayon::current_num_threads());
    tinybert_model::io::write_atomic(&out, serde_json::to_string_pretty(&result)?.as_bytes())?;
    Ok(())
}

/// Python wrapper: runs a reference script as `__main__` and records its own peak RSS.
const PY_WRAPPER: &str = "\
import json, resource, runpy, sys
script, rss_out = sys.argv[1], sys.argv[2]
sys.argv = [script] + sys.argv[3:]
try:
    runpy.run_path(script, run_name='__main__')
finally:
    with open(rss_out, 'w') as f:
        json.dump({'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}, f)
";

/// Runs the reference script of `case` and returns its summary with `peak_rss_mb` added.
fn run_reference(a: &DataArgs, python: &str, case: &Case, scratch: &Path) -> Result<Value> {
    let rss = scratch.join(format!("ref-{}-rss.json", case.kind));
    let summary = scratch.join(format!("ref-{}.summary.json", case.kind));
    let wait = a.wait_idle.to_string();
    let mut args: Vec<String> = Vec::new();
    let script = if case.kind == "corpus" {
        let vocab = a.vocab_model.join("vocab.txt");
        args.extend([
            "--input".into(),
            a.corpus.display().to_string(),
            "--vocab".into(),
            vocab.display().to_string(),
            "--output".into(),
            scratch.join("ref-corpus.jsonl").display().to_string(),
        ]);
        a.reference_dir.join("pregenerate_reference.py")
    } else {
        let limit = if case.kind == "MRPC" {
            a.mrpc_examples
        } else {
            a.sst2_examples
        };
        args.extend([
            "--task".into(),
            case.kind.into(),
            "--data-dir".into(),
            a.glue.display().to_string(),
            "--glove".into(),
            a.glove.display().to_string(),
            "--random-mlm".into(),
            "bert-base".into(),
            "--vocab".into(),
            a.vocab_model.join("vocab.txt").display().to_string(),
            "--n-aug".into(),
            a.n_aug.to_string(),
            "--limit".into(),
            limit.to_string(),
            "--threads".into(),
            a.threads.to_string(),
            "--output".into(),
            scratch
                .join(format!("ref-{}.tsv", case.kind))
                .display()
                .to_string(),
        ]);
        a.reference_dir.join("augment_reference.py")
    };
    if !script.is_file() {
        bail!(
            "{}: reference script not found (--python none skips the references)",
            script.display()
        );
    }
    args.extend([
        "--summary".into(),
        summary.display().to_string(),
        "--wait-idle".into(),
        wait,
    ]);
    tracing::info!("{python} {} {}", script.display(), args.join(" "));
    let status = Command::new(python)
        .arg("-c")
        .arg(PY_WRAPPER)
        .arg(&script)
        .arg(&rss)
        .args(&args)
        .stdout(Stdio::null())
        .status()
        .with_context(|| format!("starting `{python}`"))?;
    if !status.success() {
        bail!("the reference {} failed ({status})", script.display());
    }
    let mut v = read_json(&summary)?;
    v["peak_rss_mb"] = read_json(&rss)?["peak_rss_mb"].clone();
    Ok(v)
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    serde_json::from_str(&text).with_context(|| path.display().to_string())
}

/// The Python of the reference venv, as printed by `setup.sh`.
fn setup_python(reference_dir: &Path) -> Result<String> {
    let script = reference_dir.join("setup.sh");
    let out = Command::new("bash")
        .arg(&script)
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed: {} (pass --python PY, or --python none)",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .last()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .context("setup.sh printed no python path")
}

/// A scratch folder removed on drop.
struct TempDir(PathBuf);

fn tempdir() -> Result<TempDir> {
    let p = std::env::temp_dir().join(format!("tinybert-bench-data-{}", std::process::id()));
    std::fs::create_dir_all(&p).with_context(|| p.display().to_string())?;
    Ok(TempDir(p))
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// (total, idle) jiffies of all CPUs from `/proc/stat`.
fn cpu_jiffies() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let vals: Vec<u64> = text
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|v| v.parse().ok())
        .collect();
    (vals.len() == 8).then(|| (vals.iter().sum(), vals[3] + vals[4]))
}

/// This process's user + system CPU time in jiffies, from `/proc/self/stat`.
fn own_jiffies() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = &text[text.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of the line (utime, stime) are 11 and 12 after the command name.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// Waits up to `max_s` seconds until the machine has been < 10 % busy for 5 s (the
/// references' `--wait-idle`); returns the seconds waited.
fn wait_for_idle(max_s: f64) -> f64 {
    let start = Instant::now();
    let mut quiet = 0;
    while start.elapsed().as_secs_f64() < max_s && quiet < 5 {
        let Some(a) = cpu_jiffies() else { break };
        std::thread::sleep(Duration::from_secs(1));
        let Some(b) = cpu_jiffies() else { break };
        let (total, idle) = (b.0.saturating_sub(a.0), b.1.saturating_sub(a.1));
        let busy = if total == 0 {
            0.0
        } else {
            (total - idle.min(total)) as f64 / total as f64
        };
        quiet = if busy < 0.10 { quiet + 1 } else { 0 };
    }
    start.elapsed().as_secs_f64()
}

/// How busy the machine was during a measurement, and how much of it was this process (the
/// references' `contention` record).
struct Contention {
    machine: Option<(u64, u64)>,
    own: Option<u64>,
    started: Instant,
}

impl Contention {
    fn start() -> Self {
        Self {
            machine: cpu_jiffies(),
            own: own_jiffies(),
            started: Instant::now(),
        }
    }

    fn finish(&self) -> Value {
        let (Some(a), Some(b), Some(o0), Some(o1)) =
            (self.machine, cpu_jiffies(), self.own, own_jiffies())
        else {
            return json!({});
        };
        let total = b.0.saturating_sub(a.0) as f64;
        let busy = total - b.1.saturating_sub(a.1) as f64;
        let own = o1.saturating_sub(o0) as f64;
        let frac = |x: f64| if total > 0.0 { x / total } else { 0.0 };
        json!({
            "machine_busy_frac": frac(busy),
            "other_processes_busy_frac": frac((busy - own).max(0.0)),
            "own_cpu_seconds": own / 100.0,
            "wall_seconds": self.started.elapsed().as_secs_f64(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_cpu_time_and_machine_jiffies_are_readable() {
        assert!(cpu_jiffies().is_some());
        assert!(own_jiffies().is_some());
    }
}
