//! Data parallelism over MPI (`cargo test --features mpi --test data_parallel`; needs `mpirun`):
//! `mpirun -np 2` (one thread per rank) ends each trainer with the weights and logged losses of
//! one process at the same global batch, and a rank killed with SIGKILL takes the job down in
//! bounded time, after which a resume (here with one process) reaches the uninterrupted weights;
//! a pipeline stage with `ranks = 2` runs through the launcher.
#![cfg(feature = "mpi")]

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const STUDENT: &str = r#"{"layers":1,"hidden":16,"heads":2,"ffn":32,"max_position_embeddings":64}"#;
const TEACHER: &str = r#"{"layers":2,"hidden":32,"heads":2,"ffn":64,"max_position_embeddings":64}"#;
/// Relative difference allowed between one process and two ranks (summation order only).
const REL: f64 = 1e-5;

fn tinybert(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tinybert"));
    c.current_dir(dir).arg("-q");
    c
}

/// `mpirun -np 2` of the binary, one thread per rank; `env` is passed to both ranks.
fn mpirun(dir: &Path, env: &[(&str, &str)]) -> Command {
    let mut c = Command::new("mpirun");
    c.current_dir(dir)
        .args([
            "--allow-run-as-root",
            "--oversubscribe",
            "--bind-to",
            "none",
        ])
        .args(["-np", "2"]);
    for (k, v) in env {
        c.env(k, v).args(["-x", k]);
    }
    c.args([env!("CARGO_BIN_EXE_tinybert"), "-q"]);
    c
}

fn ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The demo task and corpus, tokenised, and a tiny teacher with an MLM head fitted.
fn setup(dir: &Path) {
    let run = |args: &[&str]| ok(tinybert(dir).args(args));
    run(&[
        "data",
        "demo",
        "--documents",
        "40",
        "--train",
        "96",
        "--dev",
        "24",
        "--output",
        "demo",
    ]);
    run(&[
        "data",
        "corpus",
        "--input",
        "demo/corpus.txt",
        "--model",
        "demo",
        "--max-seq-len",
        "32",
        "--sentence-split",
        "lines",
        "--output",
        "corpus",
    ]);
    run(&[
        "data",
        "glue",
        "--task",
        "SST-2",
        "--data-dir",
        "demo",
        "--model",
        "demo",
        "--max-seq-len",
        "32",
        "--output",
        "glue",
    ]);
    run(&[
        "distill",
        "mlm-head",
        "--init",
        TEACHER,
        "--tokenizer",
        "demo",
        "--data",
        "corpus",
        "--train-encoder",
        "--max-steps",
        "20",
        "--batch-size",
        "16",
        "--dev-instances",
        "16",
        "--output",
        "mlm",
    ]);
}

/// The trainers compared, each 30 steps at a global batch of 32.
fn trainers() -> Vec<(&'static str, Vec<&'static str>)> {
    let common = [
        "--max-steps",
        "30",
        "--batch-size",
        "32",
        "--epochs",
        "100",
        "--log-every",
        "1",
    ];
    let with = |args: &[&'static str]| args.iter().chain(&common).copied().collect::<Vec<_>>();
    vec![
        (
            "general",
            with(&[
                "distill",
                "general",
                "--teacher",
                "mlm",
                "--student",
                STUDENT,
                "--data",
                "corpus",
                "--save-every",
                "2",
            ]),
        ),
        (
            "finetune",
            with(&[
                "finetune",
                "--model",
                "mlm",
                "--data",
                "glue/train",
                "--dev",
                "glue/dev",
                "--eval-every",
                "10",
                "--learning-rate",
                "1e-3",
            ]),
        ),
        (
            "td-inter",
            with(&[
                "distill",
                "task",
                "--phase",
                "intermediate",
                "--teacher",
                "finetune-1",
                "--student",
                "general-1",
                "--data",
                "glue/train",
            ]),
        ),
        (
            "td-pred",
            with(&[
                "distill",
                "task",
                "--phase",
                "prediction",
                "--teacher",
                "finetune-1",
                "--student",
                "td-inter-1",
                "--data",
                "glue/train",
                "--dev",
                "glue/dev",
                "--cache-teacher",
                "--force-weak-teacher",
                "--eval-every",
                "10",
            ]),
        ),
    ]
}

fn tensors(path: &Path) -> std::collections::HashMap<String, candle_core::Tensor> {
    candle_core::safetensors::load(path, &candle_core::Device::Cpu).unwrap()
}

/// Every tensor of `b` within `REL` of `a`'s, relative to the tensor's norm (at least 1e-3: a
/// key bias, whose gradient is zero in exact arithmetic, holds only rounding noise).
fn assert_same_weights(a: &Path, b: &Path) {
    let (ta, tb) = (tensors(a), tensors(b));
    assert_eq!(
        ta.keys().collect::<std::collections::BTreeSet<_>>(),
        tb.keys().collect(),
        "{} and {} hold different tensors",
        a.display(),
        b.display()
    );
    for (name, x) in &ta {
        let y = &tb[name];
        let diff = (x - y).unwrap().sqr().unwrap().sum_all().unwrap();
        let norm = x.sqr().unwrap().sum_all().unwrap();
        let (diff, norm) = (
            diff.to_scalar::<f32>().unwrap().sqrt() as f64,
            norm.to_scalar::<f32>().unwrap().sqrt() as f64,
        );
        assert!(
            diff <= REL * norm.max(1e-3),
            "{name}: |a - b| = {diff:e}, |a| = {norm:e} ({} vs {})",
            a.display(),
            b.display()
        );
    }
}

/// The logged losses of each step (every key ending in `loss`).
fn losses(dir: &Path) -> Vec<(u64, Vec<(String, f64)>)> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|v| {
            let step = v["step"].as_u64().unwrap();
            let mut l: Vec<(String, f64)> = v
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| k.ends_with("loss"))
                .map(|(k, x)| (k.clone(), x.as_f64().unwrap()))
                .collect();
            l.sort_by(|a, b| a.0.cmp(&b.0));
            (step, l)
        })
        .collect()
}

fn assert_same_losses(a: &Path, b: &Path) {
    let (la, lb) = (losses(a), losses(b));
    assert_eq!(la.len(), lb.len(), "{} vs {}", a.display(), b.display());
    for ((sa, xa), (sb, xb)) in la.iter().zip(&lb) {
        assert_eq!(sa, sb);
        assert_eq!(xa.len(), xb.len(), "step {sa}");
        for ((k, x), (_, y)) in xa.iter().zip(xb) {
            assert!(
                (x - y).abs() <= REL * x.abs().max(1e-6),
                "step {sa} {k}: {x} (one process) vs {y} (two ranks)"
            );
        }
    }
}

#[test]
fn two_ranks_end_every_trainer_with_the_weights_and_losses_of_one_process() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    for (name, args) in trainers() {
        let one = format!("{name}-1");
        let two = format!("{name}-2");
        ok(tinybert(dir)
            .args(&args)
            .args(["--threads", "2", "--output", &one]));
        ok(mpirun(dir, &[])
            .args(&args)
            .args(["--threads", "1", "--output", &two]));
        assert_same_weights(
            &dir.join(&one).join("model.safetensors"),
            &dir.join(&two).join("model.safetensors"),
        );
        assert_same_losses(&dir.join(&one), &dir.join(&two));
        let (s1, s2) = (
            std::fs::read_to_string(dir.join(&one).join("summary.json")).unwrap(),
            std::fs::read_to_string(dir.join(&two).join("summary.json")).unwrap(),
        );
        let step = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap()["step"].clone();
        assert_eq!(step(&s1), step(&s2), "{name}: the kept step differs");
    }
}

#[test]
fn a_rank_killed_mid_run_takes_the_job_down_and_a_resume_with_one_process_matches() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    let (_, general) = trainers().remove(0);
    ok(tinybert(dir)
        .args(&general)
        .args(["--threads", "2", "--output", "straight"]));
    let start = Instant::now();
    let killed = mpirun(
        dir,
        &[
            ("TINYBERT_TEST_KILL_AFTER_STEP", "3"),
            ("TINYBERT_TEST_KILL_RANK", "1"),
        ],
    )
    .args(&general)
    .args(["--threads", "1", "--output", "killed"])
    .output()
    .unwrap();
    let took = start.elapsed();
    assert!(
        !killed.status.success(),
        "the job must fail when a rank dies"
    );
    assert!(
        took < Duration::from_secs(120),
        "the job took {took:?} to end after a rank died"
    );
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("killed/checkpoint/trainer_state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        state["step"], 2,
        "the last checkpoint before the kill is step 2"
    );
    ok(tinybert(dir)
        .args(&general)
        .args(["--threads", "2", "--output", "killed"]));
    assert_same_weights(
        &dir.join("straight/model.safetensors"),
        &dir.join("killed/model.safetensors"),
    );
    assert_same_losses(&dir.join("straight"), &dir.join("killed"));
}

#[test]
fn only_the_trainers_run_as_several_ranks() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for (args, says) in [
        (
            &["data", "demo", "--documents", "5", "--output", "demo"][..],
            "only the trainers",
        ),
        (
            &["stage", "demo-data", "--documents", "5", "--output", "demo"][..],
            "`demo-data` does not run as several ranks",
        ),
    ] {
        let out = mpirun(dir, &[]).args(args).output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!dir.join("demo").exists(), "{args:?} wrote its output");
    }
}

#[test]
fn a_pipeline_stage_with_ranks_runs_through_the_launcher_and_ranks_stale_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    let stage = |name: &str, ranks: usize| {
        format!(
            "[stages.{name}]\nkind = \"general-distill\"\nteacher = \"mlm\"\n\
             student = {{ layers = 1, hidden = 16, heads = 2, ffn = 32, max_position_embeddings = 64 }}\n\
             data = \"corpus\"\nmax_steps = 6\nbatch_size = 32\nthreads = 1\nranks = {ranks}\n\
             deps = [\"mlm\", \"corpus\"]\nouts = [\"{name}\"]\n"
        )
    };
    let write = |ranks: usize| {
        let text = format!("{}{}", stage("one", 1), stage("two", ranks));
        std::fs::write(dir.join("p.toml"), text).unwrap();
    };
    let launcher = "mpirun --allow-run-as-root --oversubscribe --bind-to none -np {ranks}";
    write(2);
    ok(tinybert(dir)
        .args(["run", "p.toml"])
        .env("TINYBERT_MPIRUN", launcher));
    assert_same_weights(
        &dir.join("one/model.safetensors"),
        &dir.join("two/model.safetensors"),
    );
    write(1);
    let status = ok(tinybert(dir).args(["status", "p.toml"]));
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.matches("up to date").count() >= 2,
        "changing ranks must stale nothing:\n{text}"
    );
}
