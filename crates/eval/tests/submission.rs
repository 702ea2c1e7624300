//! `eval submission`: leaderboard files of several run folders gathered into one zip.

use std::io::Read;
use std::path::{Path, PathBuf};

use tinybert_data::Task;
use tinybert_eval::write_submission;

fn run(root: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (file, text) in files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    dir
}

const RTE: &str = "index\tprediction\n0\tentailment\n1\tnot_entailment\n";
const MNLI_M: &str = "index\tprediction\n0\tneutral\n";
const STSB: &str = "index\tprediction\n0\t3.5\n1\t0.25\n";

#[test]
fn the_zip_holds_each_runs_files_byte_for_byte_and_lists_what_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let a = run(
        tmp.path(),
        "rte",
        &[("RTE.tsv", RTE), ("metrics.json", "{}")],
    );
    let b = run(
        tmp.path(),
        "mnli",
        &[("MNLI-m.tsv", MNLI_M), ("STS-B.tsv", STSB)],
    );
    let empty = run(tmp.path(), "dev-only", &[("metrics.json", "{}")]);
    let zip_path = tmp.path().join("glue_submission.zip");
    let s = write_submission(&[a.clone(), b.clone(), empty.clone()], &zip_path).unwrap();

    let names: Vec<&str> = s.included.iter().map(|i| i.file.name).collect();
    assert_eq!(names, ["STS-B.tsv", "MNLI-m.tsv", "RTE.tsv"]);
    assert_eq!(s.included[2].run, a);
    assert_eq!(s.included[2].rows, 2);
    assert_eq!(s.runs_without_files, [empty]);
    assert_eq!(s.complete_tasks(), [Task::STSB, Task::RTE]);
    assert!(
        s.incomplete_tasks().contains(&Task::MNLI),
        "MNLI-mm is missing"
    );
    assert_eq!(s.missing.len(), 7);

    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    assert_eq!(archive.len(), 3);
    for (name, text) in [
        ("RTE.tsv", RTE),
        ("MNLI-m.tsv", MNLI_M),
        ("STS-B.tsv", STSB),
    ] {
        let mut entry = archive.by_name(name).unwrap();
        assert_eq!(entry.compression(), zip::CompressionMethod::Deflated);
        let mut content = String::new();
        entry.read_to_string(&mut content).unwrap();
        assert_eq!(content, text, "{name}");
    }
}

#[test]
fn two_runs_with_the_same_task_file_are_an_error_naming_both() {
    let tmp = tempfile::tempdir().unwrap();
    let a = run(tmp.path(), "first", &[("RTE.tsv", RTE)]);
    let b = run(tmp.path(), "second", &[("RTE.tsv", RTE)]);
    let zip_path = tmp.path().join("s.zip");
    let err = write_submission(&[a, b], &zip_path)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("second/RTE.tsv")
            && err.contains("also provided by run")
            && err.contains("first"),
        "{err}"
    );
    assert!(!zip_path.exists());
}

#[test]
fn files_the_leaderboard_would_reject_are_errors_naming_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        (
            "ids",
            "index\tprediction\n0\t1\n",
            "RTE.tsv:2: a class id where",
        ),
        (
            "no-header",
            "0\tentailment\n",
            "RTE.tsv:1: the first line must be the header",
        ),
        (
            "bad-label",
            "index\tprediction\n0\tyes\n",
            "RTE.tsv:2: unknown label `yes`",
        ),
    ];
    for (name, text, expected) in cases {
        let dir = run(tmp.path(), name, &[("RTE.tsv", text)]);
        let err = write_submission(&[dir], &tmp.path().join("s.zip"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{err}\nexpected: {expected}");
    }
}

#[test]
fn no_leaderboard_file_at_all_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = run(tmp.path(), "dev-only", &[("metrics.json", "{}")]);
    let err = write_submission(&[dir], &tmp.path().join("s.zip"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("holds a leaderboard file"), "{err}");
    let err = write_submission(&[tmp.path().join("absent")], &tmp.path().join("s.zip"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("absent") && err.contains("not a folder"),
        "{err}"
    );
}
