//! `tinybert eval glue | score | submission` through the binary, on the workspace's tiny
//! fixture model (3 classes) and GLUE fixture files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tinybert(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tinybert"))
        .args(args)
        .env("TINYBERT_LOG", "warn")
        .output()
        .unwrap()
}

fn stdout_ok(args: &[&str]) -> String {
    let out = tinybert(args);
    assert!(
        out.status.success(),
        "tinybert {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn score_prints_the_scores_json_and_bad_files_fail_naming_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let data = root().join("crates/eval/tests/fixtures/glue");
    let good = tmp.path().join("good.tsv");
    std::fs::write(
        &good,
        "index\tprediction\n0\tentailment\n1\tnot_entailment\n2\tentailment\n\
         3\tnot_entailment\n4\tnot_entailment\n5\tentailment\n",
    )
    .unwrap();
    let args = ["eval", "score", "--task", "rte", "--data-dir", s(&data)];
    let json = stdout_ok(&[&args[..], &["--predictions", s(&good), "--json"]].concat());
    assert_eq!(json.trim(), r#"{"accuracy":1.0,"score":1.0}"#);
    let table = stdout_ok(&[&args[..], &["--predictions", s(&good)]].concat());
    assert!(
        table.contains("accuracy") && table.contains("1.0000"),
        "{table}"
    );

    let bad = tmp.path().join("bad.tsv");
    std::fs::write(&bad, "index\tprediction\n0\tentailment\n1\tperhaps\n").unwrap();
    let out = tinybert(&[&args[..], &["--predictions", s(&bad)]].concat());
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.tsv:3: unknown label `perhaps`"), "{err}");
}

#[test]
fn glue_dev_and_test_then_submission_gathers_the_mnli_files() {
    let tmp = tempfile::tempdir().unwrap();
    let model = root().join("crates/model/tests/fixtures/tiny");
    let data = root().join("crates/data/tests/fixtures/glue");
    let run = tmp.path().join("mnli");
    let glue = |split: &str| {
        stdout_ok(&[
            "eval",
            "glue",
            "--model",
            s(&model),
            "--task",
            "MNLI",
            "--data-dir",
            s(&data),
            "--split",
            split,
            "--batch-size",
            "2",
            "--output",
            s(&run),
        ])
    };
    let dev = glue("dev");
    assert!(
        dev.contains("MNLI dev_matched (3 examples): accuracy")
            && dev.contains("MNLI dev_mismatched (2 examples): accuracy"),
        "{dev}"
    );
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("metrics.json")).unwrap()).unwrap();
    assert!(metrics["dev_matched"]["accuracy"].is_number(), "{metrics}");
    assert!(metrics["dev_mismatched"]["score"].is_number(), "{metrics}");

    let test = glue("test");
    assert!(
        test.contains("MNLI-m.tsv") && test.contains("MNLI-mm.tsv"),
        "{test}"
    );
    assert!(run.join("predictions_test_matched.parquet").is_file());

    let zip = tmp.path().join("glue_submission.zip");
    let out = stdout_ok(&["eval", "submission", "--runs", s(&run), "--output", s(&zip)]);
    assert!(zip.is_file());
    assert!(out.contains("tasks included (1/9): MNLI"), "{out}");
    assert!(
        out.contains("tasks missing: CoLA, SST-2, MRPC, STS-B, QQP, QNLI, RTE, WNLI"),
        "{out}"
    );
}

#[test]
fn glue_without_a_classifier_fails_naming_the_model_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let data = root().join("crates/eval/tests/fixtures/glue");
    let model = tmp.path().join("encoder-only");
    stdout_ok(&[
        "model",
        "init",
        "--config",
        s(&root().join("crates/model/tests/fixtures/tiny/config.json")),
        "--tokenizer-from",
        s(&root().join("crates/model/tests/fixtures/tiny")),
        "--output",
        s(&model),
    ]);
    let out = tinybert(&[
        "eval",
        "glue",
        "--model",
        s(&model),
        "--task",
        "RTE",
        "--data-dir",
        s(&data),
        "--output",
        s(&tmp.path().join("out")),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("has no classifier head") && err.contains("encoder-only"),
        "{err}"
    );
}
