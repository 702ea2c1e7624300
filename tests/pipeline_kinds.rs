//! The built-in stage kinds and the shipped pipeline files, through the binary: every file in
//! `pipelines/` plans; the quickstart (reduced) runs end to end, is up to date on a second run,
//! and a parameter change reruns exactly the stages it reaches; a killed training stage resumes
//! from its checkpoint to the same weights; parameter errors name file, stage and key.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tinybert(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tinybert"));
    c.current_dir(dir).env("TINYBERT_LOG", "warn");
    c
}

fn texts(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn run_ok(dir: &Path, args: &[&str]) -> (String, String) {
    let out = tinybert(dir).args(args).output().unwrap();
    let (stdout, stderr) = texts(&out);
    assert!(
        out.status.success(),
        "tinybert {args:?} failed:\n{stdout}\n{stderr}"
    );
    (stdout, stderr)
}

/// A checkout-like layout in a temporary folder: `<tmp>/main/pipelines/<files>`, with
/// `<tmp>/shared` linked to the real `../shared` when it exists (the pipelines' `../shared`).
fn checkout(files: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let main = tmp.path().join("main");
    std::fs::create_dir_all(main.join("pipelines")).unwrap();
    for f in files {
        std::fs::copy(
            repo().join("pipelines").join(f),
            main.join("pipelines").join(f),
        )
        .unwrap();
    }
    let shared = repo().join("../shared");
    if shared.exists() {
        std::os::unix::fs::symlink(shared.canonicalize().unwrap(), tmp.path().join("shared"))
            .unwrap();
    }
    (tmp, main)
}

/// `(stage, status)` pairs of the summary table (after the stages' result lines).
fn statuses(summary: &str) -> Vec<(String, String)> {
    summary
        .lines()
        .skip_while(|l| !l.starts_with("stage "))
        .skip(1)
        .filter(|l| !l.contains(" stages: "))
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let name = parts.next()?.to_string();
            let status = match parts.next()? {
                "up" => "up to date".to_string(),
                "would" => "would run".to_string(),
                other => other.to_string(),
            };
            Some((name, status))
        })
        .collect()
}

fn ran(summary: &str) -> Vec<String> {
    statuses(summary)
        .into_iter()
        .filter(|(_, s)| s == "ran")
        .map(|(n, _)| n)
        .collect()
}

#[test]
fn every_shipped_pipeline_parses_and_plans_its_whole_graph() {
    let mut files: Vec<String> = std::fs::read_dir(repo().join("pipelines"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    files.sort();
    for expected in [
        "ablations.toml",
        "glue-mini.toml",
        "glue.toml",
        "quickstart.toml",
    ] {
        assert!(files.iter().any(|f| f == expected), "{expected} missing");
    }
    let names: Vec<&str> = files.iter().map(String::as_str).collect();
    let (_tmp, main) = checkout(&names);
    // Stage counts: glue 5 + 8 tasks x 8; ablations 4 + 3 tasks x 35; glue-mini 5 + 5 teacher
    // tasks x 3 + 5 student tasks x (4 + 3 seeds) + 5 ablation tasks x (2 + 3 x 3 seeds) + 2
    // GD snapshots x 2.
    let expected = [
        ("ablations.toml", 109),
        ("glue-mini.toml", 114),
        ("glue.toml", 69),
        ("quickstart.toml", 15),
    ];
    for f in &files {
        let path = format!("pipelines/{f}");
        let (summary, _) = run_ok(&main, &["run", &path, "--dry-run"]);
        let rows = statuses(&summary);
        assert!(!rows.is_empty(), "{f}: {summary}");
        assert!(rows.iter().all(|(_, s)| s == "would run"), "{f}: {summary}");
        if let Some((_, n)) = expected.iter().find(|(name, _)| name == f) {
            assert_eq!(rows.len(), *n, "{f}: {summary}");
        }
        let (dag, _) = run_ok(&main, &["dag", &path, "--mermaid"]);
        assert!(dag.starts_with("flowchart TD\n"), "{f}: {dag}");
        assert!(!main.join("runs").exists(), "{f}: a dry run wrote outputs");
    }
    // The report of each file reads every evaluation of its tasks.
    let (dag, _) = run_ok(
        &main,
        &["dag", "pipelines/glue.toml", "-p", "tasks=RTE,MRPC"],
    );
    let report = dag
        .lines()
        .find(|l| l.starts_with("report [report] <- "))
        .unwrap_or_default();
    for upstream in [
        "eval-teacher@RTE",
        "eval-teacher@MRPC",
        "eval-student@RTE",
        "eval-student@MRPC",
        "bench",
    ] {
        assert!(report.contains(upstream), "{upstream}: {dag}");
    }
}

#[test]
fn without_a_file_run_uses_the_built_in_quickstart() {
    let tmp = tempfile::tempdir().unwrap();
    let (summary, progress) = run_ok(tmp.path(), &["run", "--dry-run"]);
    let written = std::fs::read_to_string(tmp.path().join("pipelines/quickstart.toml")).unwrap();
    let shipped = std::fs::read_to_string(repo().join("pipelines/quickstart.toml")).unwrap();
    assert_eq!(written, shipped);
    assert!(
        progress.contains("wrote the built-in quickstart"),
        "{progress}"
    );
    assert!(summary.contains("15 stages: 15 would run"), "{summary}");
    let (status, _) = run_ok(tmp.path(), &["status"]);
    assert!(
        status.contains("report") && status.contains("stale: never run"),
        "{status}"
    );
}

/// The quickstart at toy sizes: every stage kind but `bench`'s speed matters here. The toy
/// teacher is no better than the majority class, so the guardrail is told to let it through.
const REDUCED: [&str; 24] = [
    "-p",
    "documents=40",
    "-p",
    "train_rows=160",
    "-p",
    "dev_rows=64",
    "-p",
    "pretrain_epochs=1",
    "-p",
    "finetune_epochs=1",
    "-p",
    "general_epochs=1",
    "-p",
    "n_aug=1",
    "-p",
    "intermediate_epochs=1",
    "-p",
    "prediction_epochs=1",
    "-p",
    "teacher.layers=2",
    "-p",
    "student.layers=1",
    "-p",
    "force_weak_teacher=true",
];

#[test]
fn the_reduced_quickstart_runs_end_to_end_then_is_up_to_date_then_reruns_what_a_change_reaches() {
    let (_tmp, main) = checkout(&["quickstart.toml"]);
    let file = "pipelines/quickstart.toml";
    let args = |extra: &[&'static str]| -> Vec<&'static str> {
        let mut a = vec!["run", "pipelines/quickstart.toml"];
        a.extend(REDUCED);
        a.extend(extra);
        a
    };
    let (summary, _) = run_ok(&main, &args(&[]));
    assert!(summary.contains("15 stages: 15 ran"), "{summary}");
    let report = main.join("runs/quickstart/report/report.md");
    assert!(
        summary.contains(&format!("report: {}", report.display())),
        "{summary}"
    );
    let md = std::fs::read_to_string(&report).unwrap();
    for row in [
        "Teacher (4L-64)",
        "TinyBERT (2L-32)",
        "Student fine-tuned (no task distillation)",
    ] {
        assert!(md.contains(row), "{row} missing:\n{md}");
    }
    for f in [
        "demo/README.md",
        "demo/glove.txt",
        "augment/train_aug.tsv",
        "general/fit_dense.safetensors",
        "td-pred/summary.json",
        "eval/tinybert/summary.json",
        "bench/inference.json",
    ] {
        assert!(main.join("runs/quickstart").join(f).exists(), "{f}");
    }
    // Training stages leave no checkpoint behind unless asked to.
    assert!(!main.join("runs/quickstart/teacher/checkpoint").exists());

    let started = Instant::now();
    let (summary, _) = run_ok(&main, &args(&[]));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(summary.contains("15 stages: 15 up to date"), "{summary}");

    // The prediction phase's length reaches only it and what reads its output.
    let (summary, _) = run_ok(&main, &args(&["-p", "prediction_epochs=2"]));
    assert_eq!(
        ran(&summary),
        ["td-pred", "eval-student", "bench", "report"],
        "{summary}"
    );
    // N_a reaches augmentation and both distillation phases, not the teacher or the baseline.
    let (summary, _) = run_ok(
        &main,
        &args(&["-p", "prediction_epochs=2", "-p", "n_aug=2"]),
    );
    assert_eq!(
        ran(&summary),
        [
            "augment",
            "td-inter",
            "td-pred",
            "eval-student",
            "bench",
            "report"
        ],
        "{summary}"
    );
    let (status, _) = run_ok(&main, &["status", file]);
    assert!(status.contains("stale"), "{status}");
}

/// demo -> corpus -> a tiny masked-LM pre-training with a checkpoint every step.
const RESUME_PIPELINE: &str = r#"
[stages.demo]
kind = "demo-data"
documents = 30
train = 20
dev = 10
outs = ["runs/demo"]
[stages.corpus]
kind = "corpus"
input = "${stages.demo.out}/corpus.txt"
model = "${stages.demo.out}"
max_seq_len = 32
outs = ["runs/corpus"]
[stages.mlm]
kind = "mlm-head"
init = { layers = 2, hidden = 32, heads = 2, ffn = 64, max_position_embeddings = 64 }
tokenizer = "${stages.demo.out}"
data = "${stages.corpus.out}"
train_encoder = true
threads = 1
outs = ["runs/mlm"]
max_steps = 6
batch_size = 8
save_every = 1
log_every = 1
"#;

#[test]
fn a_training_stage_killed_mid_run_resumes_from_its_checkpoint_to_the_same_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("p.toml"), RESUME_PIPELINE).unwrap();
    let out = tinybert(d)
        .args(["run", "p.toml"])
        .env("TINYBERT_TEST_KILL_AFTER_STEP", "3")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the run was not killed");
    let lock = std::fs::read_to_string(d.join("p.lock")).unwrap();
    assert!(
        lock.contains("[stages.corpus]") && !lock.contains("[stages.mlm]"),
        "{lock}"
    );
    assert!(d.join("runs/mlm/checkpoint/trainer_state.json").exists());

    let (summary, progress) = run_ok(d, &["run", "p.toml"]);
    assert!(
        progress.contains("[3/3] mlm [mlm-head]: resuming an interrupted run"),
        "{progress}"
    );
    assert!(
        summary.contains("3 stages: 1 ran, 2 up to date"),
        "{summary}"
    );
    let metrics = std::fs::read_to_string(d.join("runs/mlm/metrics.jsonl")).unwrap();
    let steps: Vec<u64> = metrics
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["step"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(steps, [1, 2, 3, 4, 5, 6], "{metrics}");
    let resumed = std::fs::read(d.join("runs/mlm/model.safetensors")).unwrap();

    // The same stage run without interruption ends with the same weights.
    let (summary, _) = run_ok(d, &["run", "p.toml", "mlm", "--force", "--single"]);
    assert!(summary.contains("1 stages: 1 ran"), "{summary}");
    let clean = std::fs::read(d.join("runs/mlm/model.safetensors")).unwrap();
    assert!(
        resumed == clean,
        "resumed weights differ from an uninterrupted run"
    );
}

#[test]
fn parameter_errors_name_the_file_the_stage_and_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::create_dir_all(d.join("data")).unwrap();
    let cases: [(&str, &[&str]); 5] = [
        (
            "[stages.ft]\nkind = \"finetune\"\nmodel = \"m\"\ndata = \"data/x\"\ndeps = [\"data\"]\nepoch = 3\nouts = [\"runs/ft\"]\n",
            &["p.toml:6: stage `ft`: unknown key `epoch` for kind `finetune`", "epochs"],
        ),
        (
            "[stages.g]\nkind = \"glue\"\ntsk = \"RTE\"\nouts = [\"runs/g\"]\n",
            &["p.toml:3: stage `g`: unknown key `tsk` for kind `glue`"],
        ),
        (
            "[stages.c]\nkind = \"corpus\"\ninput = \"data/wiki.txt\"\nmodel = \"m\"\nouts = [\"runs/c\"]\n",
            &["stage `c`: parameter `input`: `data/wiki.txt` is not among the stage's inputs"],
        ),
        (
            "[stages.g]\nkind = \"glue\"\ntask = \"RTX\"\ndata_dir = \"data\"\nmodel = \"m\"\ndeps = [\"data\"]\nouts = [\"runs/g\"]\n",
            &["stage `g`: parameter `task` = `RTX`", "unknown"],
        ),
        (
            "[stages.r]\nkind = \"report\"\nlayout = \"table9\"\nrows = [{ label = \"a\", runs = \"data/a\" }]\ndeps = [\"data\"]\nouts = [\"runs/r\"]\n",
            &["stage `r`: parameter `layout` = `table9`: unknown layout"],
        ),
    ];
    for (text, wanted) in cases {
        std::fs::write(d.join("p.toml"), text).unwrap();
        let out = tinybert(d)
            .args(["run", "p.toml", "--dry-run"])
            .output()
            .unwrap();
        let (_, err) = texts(&out);
        assert!(!out.status.success(), "{text}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        for w in wanted {
            assert!(err.contains(w), "`{w}` not in: {err}");
        }
    }
}

#[test]
#[ignore = "minutes of CPU: the paper pipeline with the local MiniLM model, RTE, a few steps"]
fn the_paper_pipeline_runs_end_to_end_with_minilm_on_rte() {
    for what in [
        "models/all-MiniLM-L6-v2",
        "data/glue/RTE",
        "data/corpus/enwiki_sample_10MB.txt",
        "data/glove/glove.6B.50d.top100k.txt",
    ] {
        if tinybert_testkit::shared(what).is_none() {
            return;
        }
    }
    let (_tmp, main) = checkout(&["glue.toml"]);
    let params = [
        "teacher=../shared/models/all-MiniLM-L6-v2",
        "teacher_label=MiniLM-L6",
        "fit_mlm_head=true",
        "glue_dir=../shared/data/glue",
        "tasks=RTE",
        "max_train_rows=16",
        "corpus=../shared/data/corpus/enwiki_sample_10MB.txt",
        "glove=../shared/data/glove/glove.6B.50d.top100k.txt",
        "student.layers=3",
        "mlm_head_max_steps=1",
        "general_max_steps=1",
        "teacher_max_steps=1",
        "n_aug=1",
        "intermediate_max_steps=1",
        "prediction_max_steps=1",
        // One teacher step leaves the teacher at the majority class or below.
        "force_weak_teacher=true",
    ];
    let mut args = vec!["run", "pipelines/glue.toml"];
    for p in &params {
        args.extend(["-p", p]);
    }
    let (summary, _) = run_ok(&main, &args);
    assert!(summary.contains("13 stages: 13 ran"), "{summary}");
    assert!(main.join("runs/glue/test/RTE/RTE.tsv").exists());
    assert!(main.join("runs/glue/report/report.md").exists());
}
