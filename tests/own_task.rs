//! Tasks of one's own through the binary: the template `pipelines/own-task.toml` (reduced) runs
//! end to end on the demo's tasks in each of the four file formats, a classification and a
//! regression; the student names the task's labels; bad task files stop the run naming the
//! file, line and column.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tinybert(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tinybert"))
        .current_dir(dir)
        .env("TINYBERT_LOG", "warn")
        .args(args)
        .output()
        .unwrap()
}

fn run_ok(dir: &Path, args: &[&str]) -> String {
    let out = tinybert(dir, args);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "tinybert {args:?} failed:\n{stdout}\n{stderr}"
    );
    stdout.into_owned()
}

/// `<tmp>/main/pipelines/own-task.toml`, as in a checkout.
fn checkout() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let main = tmp.path().join("main");
    std::fs::create_dir_all(main.join("pipelines")).unwrap();
    std::fs::copy(
        repo().join("pipelines/own-task.toml"),
        main.join("pipelines/own-task.toml"),
    )
    .unwrap();
    (tmp, main)
}

/// The template at toy sizes; the toy teacher may be no better than the majority class.
const REDUCED: [&str; 22] = [
    "-p",
    "documents=40",
    "-p",
    "train_rows=120",
    "-p",
    "dev_rows=48",
    "-p",
    "pretrain_epochs=1",
    "-p",
    "finetune_epochs=1",
    "-p",
    "general_epochs=1",
    "-p",
    "n_aug=1",
    "-p",
    "prediction_epochs=1",
    "-p",
    "teacher.layers=2",
    "-p",
    "student.layers=1",
    "-p",
    "force_weak_teacher=true",
];

fn run_template(main: &Path, task_dir: &str) -> String {
    let dir = format!("task_dir=runs/own-task/demo/tasks/{task_dir}");
    let mut args = vec!["run", "pipelines/own-task.toml", "-p", &dir];
    args.extend(REDUCED);
    run_ok(main, &args)
}

fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn the_template_runs_end_to_end_in_every_format_for_a_classification_and_a_regression() {
    let (_tmp, main) = checkout();
    let runs = main.join("runs/own-task");
    for (case, (format, task)) in [
        ("csv", "reviews"),
        ("tsv", "similarity"),
        ("jsonl", "reviews"),
        ("parquet", "similarity"),
    ]
    .into_iter()
    .enumerate()
    {
        let summary = run_template(&main, &format!("{format}/{task}"));
        assert!(summary.contains("14 stages:"), "{summary}");
        assert!(!summary.contains("FAILED"), "{format}/{task}: {summary}");
        if case > 0 {
            // The task's data reaches only the task's stages, not the corpus or the teacher's
            // pre-training or general distillation.
            for shared in ["demo ", "corpus ", "teacher-mlm ", "general "] {
                let line = summary.lines().find(|l| l.starts_with(shared)).unwrap();
                assert!(line.contains("up to date"), "{format}/{task}: {line}");
            }
        }
        let report = std::fs::read_to_string(runs.join("report/report.md")).unwrap();
        assert!(
            report.contains(&format!("| {task} ")),
            "{format}/{task}:\n{report}"
        );
        let student = json(&runs.join("td-pred/config.json"));
        let eval = json(&runs.join("eval/student/summary.json"));
        assert_eq!(eval["task"], task, "{format}");
        let test = runs.join("test/predictions_test.parquet");
        assert!(test.exists(), "{format}/{task}: no test predictions");
        if task == "reviews" {
            assert_eq!(
                student["id2label"],
                serde_json::json!({"0": "negative", "1": "positive"}),
                "{format}"
            );
            assert_eq!(student["label2id"]["positive"], 1, "{format}");
            assert!(eval["dev"]["accuracy"].is_number(), "{format}: {eval}");
        } else {
            assert!(eval["dev"]["pearson"].is_number(), "{format}: {eval}");
            // One output and no label names (Hugging Face's placeholder at most).
            let names = &student["id2label"];
            assert!(
                names.is_null() || *names == serde_json::json!({"0": "LABEL_0"}),
                "{format}: {student}"
            );
        }
    }
}

#[test]
fn a_malformed_task_file_stops_the_run_naming_file_line_and_column() {
    let d = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(d.path().join(name), text).unwrap();
    write(
        "task.toml",
        "name = \"scores\"\noutput = \"regression\"\n[files]\ntrain = \"train.jsonl\"\n\
         [columns]\ntext = \"text\"\nlabel = \"score\"\n",
    );
    write(
        "train.jsonl",
        "{\"text\": \"fine\", \"score\": 1.5}\n{\"text\": \"bad\", \"score\": \"high\"}\n",
    );
    write("predictions.tsv", "index\tprediction\n0\t1.0\n1\t2.0\n");
    // Scoring needs no model: the gold file is read and checked row by row.
    let out = tinybert(
        d.path(),
        &[
            "eval",
            "score",
            "--task",
            "task.toml",
            "--split",
            "train",
            "--predictions",
            "predictions.tsv",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("train.jsonl:2:")
            && stderr.contains("column `score`: `high` is not a number"),
        "{stderr}"
    );
    write(
        "train.jsonl",
        "{\"text\": \"fine\", \"score\": 1.5}\n{\"text\": \"\", \"score\": 2}\n",
    );
    let out = tinybert(
        d.path(),
        &[
            "eval",
            "score",
            "--task",
            "task.toml",
            "--split",
            "train",
            "--predictions",
            "predictions.tsv",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("train.jsonl:2: column `text`: empty text"),
        "{stderr}"
    );
}
