//! `tinybert estimate` / `tinybert run --estimate` end to end through the binary: the projection
//! of each training stage of a tiny pipeline (the quickstart on demo data, shortened) against
//! the real run that follows, and what estimating leaves behind (nothing).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// The projection of a training stage must be within this factor of its real time. The real
/// run's times are wall-clock times, so the estimate counts its waits for a core too
/// (`--wall-clock`); timing on a machine shared with other jobs is noisy, so the factor is
/// generous. The projection of `pipelines/glue-mini.toml` was checked to a factor of 1.5
/// (docs/estimate.md).
const FACTOR: f64 = 2.0;
/// Stages shorter than this are too short to compare (on an idle 2-core machine the shortened
/// quickstart's trainers take 2.8-3.1 s; at 3 s only one of them qualified).
const MIN_SECONDS: f64 = 2.0;

fn tinybert(dir: &Path, args: &[&str]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tinybert"))
        .current_dir(dir)
        .env("TINYBERT_LOG", "warn")
        .args(args)
        .output()
        .unwrap();
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "tinybert {args:?} failed:\n{o}\n{e}");
    (o, e)
}

/// The quickstart in `dir/pipelines/p.toml` (its workdir is `dir`).
fn quickstart(dir: &Path) {
    std::fs::create_dir_all(dir.join("pipelines")).unwrap();
    let text = include_str!("../pipelines/quickstart.toml");
    std::fs::write(dir.join("pipelines/p.toml"), text).unwrap();
}

/// Shorter than the quickstart, with training stages of a few seconds.
const PARAMS: &[&str] = &[
    "-p",
    "documents=300",
    "-p",
    "train_rows=800",
    "-p",
    "dev_rows=200",
    "-p",
    "n_aug=2",
    "-p",
    "pretrain_epochs=1",
    "-p",
    "general_epochs=3",
    "-p",
    "finetune_epochs=2",
    "-p",
    "force_weak_teacher=true",
];

fn args<'a>(first: &[&'a str]) -> Vec<&'a str> {
    first.iter().chain(PARAMS).copied().collect()
}

/// `[n/m] NAME: done in 12.3s` (or `1m02s`) lines of `tinybert run`.
fn stage_times(stderr: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in stderr.lines() {
        let Some((head, time)) = line.split_once(": done in ") else {
            continue;
        };
        let name = head.rsplit(' ').next().unwrap().to_string();
        let secs = match time.trim().split_once('m') {
            Some((m, s)) => {
                m.parse::<f64>().unwrap() * 60.0 + s.trim_end_matches('s').parse::<f64>().unwrap()
            }
            None => time.trim().trim_end_matches('s').parse().unwrap(),
        };
        out.insert(name, secs);
    }
    out
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn each_training_stage_is_projected_within_a_factor_of_its_real_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    quickstart(d);

    // Estimating runs miniatures in a scratch folder: no output, lock or scratch is left.
    let (table, _) = tinybert(
        d,
        &args(&[
            "estimate",
            "pipelines/p.toml",
            "--wall-clock",
            "--estimate-json",
            "e.json",
        ]),
    );
    assert!(table.contains("total"), "{table}");
    assert!(!d.join("runs").exists(), "estimating wrote outputs");
    assert!(
        !d.join("pipelines/p.lock").exists(),
        "estimating wrote the lock"
    );
    let leftovers: Vec<_> = std::fs::read_dir(d.join("pipelines/.tinybert"))
        .map(|r| r.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        !leftovers
            .iter()
            .any(|n| n.to_string_lossy().starts_with("estimate")),
        "{leftovers:?}"
    );
    let est = read_json(&d.join("e.json"));
    let stages = est["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 15);
    for s in stages {
        assert_eq!(s["status"], "estimated", "{s}");
        assert!(s["seconds"].as_f64().unwrap() >= 0.0, "{s}");
    }

    // The real run, timed per stage.
    let (_, log) = tinybert(d, &args(&["run", "pipelines/p.toml"]));
    let real = stage_times(&log);
    let mut compared = Vec::new();
    for s in stages {
        let kind = s["kind"].as_str().unwrap();
        if !matches!(
            kind,
            "mlm-head" | "finetune" | "general-distill" | "task-distill"
        ) {
            continue;
        }
        let name = s["name"].as_str().unwrap();
        let r = real[name];
        if r < MIN_SECONDS {
            continue;
        }
        let e = s["seconds"].as_f64().unwrap();
        compared.push(format!("{name}: projected {e:.1} s, real {r:.1} s"));
        assert!(
            e / r <= FACTOR && r / e <= FACTOR,
            "{name}: projected {e:.1} s, real {r:.1} s (factor {FACTOR})\n{table}\n{log}"
        );
    }
    assert!(
        compared.len() >= 2,
        "too few stages to compare: {compared:?}\n{log}"
    );
    eprintln!("{}", compared.join("\n"));

    // Afterwards every stage is up to date: nothing to estimate.
    let (table, _) = tinybert(
        d,
        &args(&[
            "run",
            "pipelines/p.toml",
            "--estimate",
            "--estimate-json",
            "e2.json",
        ]),
    );
    let est = read_json(&d.join("e2.json"));
    for s in est["stages"].as_array().unwrap() {
        assert_eq!(s["status"], "up to date", "{s}\n{table}");
    }
    assert_eq!(est["total_seconds"].as_f64(), Some(0.0));
}

#[test]
fn a_stage_whose_miniature_fails_is_named_in_one_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("text.txt"), "one sentence.\n\nanother one.\n").unwrap();
    std::fs::create_dir(d.join("no-vocab")).unwrap();
    std::fs::write(
        d.join("p.toml"),
        r#"
[stages.corpus]
kind = "corpus"
input = "text.txt"
model = "no-vocab"
deps = ["text.txt", "no-vocab"]
outs = ["runs/corpus"]
"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tinybert"))
        .current_dir(d)
        .args(["estimate", "p.toml"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("estimating stage `corpus` (kind `corpus`)") && err.contains("no-vocab"),
        "{err}"
    );
    assert!(!d.join("runs").exists());
}

#[test]
fn what_if_options_need_estimate() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tinybert"))
        .current_dir(dir.path())
        .args(["run", "p.toml", "--assume", "corpus.words=1M"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("go with --estimate"));
}
