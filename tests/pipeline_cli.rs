//! `tinybert run | status | dag` end to end through the binary, on pipelines of the hidden
//! `__test-*` stage kinds (enabled by `TINYBERT_TEST_KINDS=1`).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn tinybert(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tinybert"));
    c.current_dir(dir)
        .env("TINYBERT_TEST_KINDS", "1")
        .env("TINYBERT_LOG", "warn");
    c
}

fn run_ok(dir: &Path, args: &[&str]) -> (String, String) {
    let out = tinybert(dir).args(args).output().unwrap();
    let text = texts(&out);
    assert!(
        out.status.success(),
        "tinybert {args:?} failed:\n{}\n{}",
        text.0,
        text.1
    );
    text
}

fn texts(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// prep -> train (resumable, one checkpoint per 50 ms step) -> report.
const PIPELINE: &str = r#"
[params]
steps = 40
[stages.prep]
kind = "__test-write"
text = "prep"
deps = ["data.txt"]
outs = ["runs/prep.txt"]
[stages.train]
kind = "__test-steps"
steps = "${params.steps}"
step_ms = 50
deps = ["${stages.prep.out}"]
outs = ["runs/train"]
[stages.report]
kind = "__test-write"
text = "report"
with_device = true
deps = ["${stages.train.out}"]
outs = ["runs/report.txt"]
"#;

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data.txt"), "data\n").unwrap();
    std::fs::write(dir.path().join("p.toml"), PIPELINE).unwrap();
    dir
}

/// Starts `run`, waits until the training stage has checkpointed `at_least` steps, SIGKILLs
/// the process and returns the step it was killed at.
fn kill_during_training(dir: &Path, params: &[&str], at_least: u64) -> u64 {
    let mut args = vec!["run", "p.toml"];
    for p in params {
        args.extend(["-p", p]);
    }
    let mut child = tinybert(dir)
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let checkpoint = dir.join("runs/train/progress");
    let started = Instant::now();
    loop {
        let step = std::fs::read_to_string(&checkpoint)
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
            .unwrap_or(0);
        if step >= at_least {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "run ended before it was killed"
        );
        assert!(started.elapsed() < Duration::from_secs(60), "no progress");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let step: u64 = std::fs::read_to_string(&checkpoint)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(step < 40, "killed after training finished");
    step
}

fn lock(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("p.lock")).unwrap_or_default()
}

#[test]
fn sigkill_in_a_training_stage_then_run_resumes_it_and_the_lock_never_marks_it_done() {
    let dir = setup();
    let d = dir.path();
    let killed_at = kill_during_training(d, &[], 5);
    let l = lock(d);
    assert!(l.contains("[stages.prep]"), "{l}");
    assert!(
        !l.contains("[stages.train") && !l.contains("[stages.report"),
        "{l}"
    );
    let (status, _) = run_ok(d, &["status", "p.toml"]);
    assert!(status.contains("train   stale: never run"), "{status}");

    let (summary, progress) = run_ok(d, &["run", "p.toml"]);
    assert!(
        progress.contains("[2/3] train [__test-steps]: resuming an interrupted run"),
        "{progress}"
    );
    let result = std::fs::read_to_string(d.join("runs/train/result.txt")).unwrap();
    assert!(
        result.starts_with(&format!("resumed_from={killed_at}\n")),
        "{result}"
    );
    assert!(
        summary.contains("3 stages: 2 ran, 1 up to date"),
        "{summary}"
    );
    let report = std::fs::read_to_string(d.join("runs/report.txt")).unwrap();
    assert!(report.ends_with("device=cpu\n"), "{report}");
    let l = lock(d);
    assert!(
        l.contains("[stages.train]") && l.contains("[stages.report]"),
        "{l}"
    );

    let started = Instant::now();
    let (summary, _) = run_ok(d, &["run", "p.toml"]);
    assert!(summary.contains("3 stages: 3 up to date"), "{summary}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn ctrl_c_stops_the_whole_run_even_with_keep_going() {
    let dir = setup();
    let d = dir.path();
    let text = format!(
        "{PIPELINE}[stages.other]\nkind = \"__test-write\"\ntext = \"other\"\n\
         outs = [\"runs/other.txt\"]\n"
    );
    std::fs::write(d.join("p.toml"), text).unwrap();
    let child = tinybert(d)
        .args(["run", "p.toml", "--keep-going"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !d.join("runs/train/progress").exists() {
        assert!(started.elapsed() < Duration::from_secs(60), "no progress");
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    let (summary, _) = texts(&out);
    assert!(!out.status.success());
    assert!(summary.contains("interrupted at step"), "{summary}");
    assert!(
        !d.join("runs/other.txt").exists(),
        "a later independent stage ran after Ctrl-C:\n{summary}"
    );
    let (_, progress) = run_ok(d, &["run", "p.toml"]);
    assert!(
        progress.contains("resuming an interrupted run"),
        "{progress}"
    );
}

#[test]
fn an_interrupted_stage_whose_parameters_changed_starts_over() {
    let dir = setup();
    let d = dir.path();
    kill_during_training(d, &[], 3);
    let (_, progress) = run_ok(d, &["run", "p.toml", "-p", "steps=4"]);
    assert!(!progress.contains("resuming"), "{progress}");
    let result = std::fs::read_to_string(d.join("runs/train/result.txt")).unwrap();
    assert!(result.starts_with("resumed_from=0\n"), "{result}");
    assert_eq!(
        std::fs::read_to_string(d.join("runs/train/progress")).unwrap(),
        "4"
    );
}

#[test]
fn status_dag_and_errors_from_the_command_line() {
    let dir = setup();
    let d = dir.path();
    let (dag, _) = run_ok(d, &["dag", "p.toml", "--mermaid"]);
    assert!(
        dag.starts_with("flowchart TD\n") && dag.contains("s0 --> s1") && dag.contains("s1 --> s2"),
        "{dag}"
    );
    let (dag, _) = run_ok(d, &["dag", "p.toml"]);
    assert!(dag.contains("train [__test-steps] <- prep"), "{dag}");
    let (plan, _) = run_ok(d, &["run", "p.toml", "--dry-run"]);
    assert!(plan.contains("3 stages: 3 would run"), "{plan}");
    assert!(!d.join("runs").exists(), "a dry run runs nothing");

    std::fs::write(
        d.join("bad.toml"),
        "[stages.s]\nkind = \"__test-fail\"\nouts = [\"x\"]\n",
    )
    .unwrap();
    let out = tinybert(d).args(["run", "bad.toml"]).output().unwrap();
    let (summary, err) = texts(&out);
    assert!(!out.status.success());
    assert!(
        summary.contains("FAILED") && summary.contains("failed on purpose"),
        "{summary}"
    );
    assert!(err.contains("1 stage(s) failed"), "{err}");

    std::fs::write(
        d.join("unknown.toml"),
        "[stages.s]\nkind = \"no-such-kind\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tinybert"))
        .current_dir(d)
        .args(["run", "unknown.toml"])
        .output()
        .unwrap();
    let (_, err) = texts(&out);
    assert!(!out.status.success());
    assert!(
        err.starts_with("error: unknown.toml:2: stage `s`: unknown kind `no-such-kind` (")
            && err.trim().lines().count() == 1,
        "{err}"
    );
}
