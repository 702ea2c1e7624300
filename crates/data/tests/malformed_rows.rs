//! Malformed rows are errors naming file and line, or, with `skip_bad_rows`, counted and
//! reported: never silently dropped.

mod common;

use std::path::{Path, PathBuf};
use tinybert_data::{build_glue, read_glue_file, GlueBuildOptions, ReadOptions, Task};

fn write(dir: &Path, task: &str, split: &str, text: &str) -> PathBuf {
    let folder = dir.join(task);
    std::fs::create_dir_all(&folder).unwrap();
    let p = folder.join(format!("{split}.tsv"));
    std::fs::write(&p, text).unwrap();
    p
}

fn error_of(task: Task, split: &str, path: &Path) -> String {
    read_glue_file(task, split, path, ReadOptions::default())
        .unwrap_err()
        .to_string()
}

const STSB_HEADER: &str =
    "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n";

#[test]
fn a_bad_float_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let text =
        format!("{STSB_HEADER}0\tg\tf\ty\to\ts\ts\ta\tb\t4.0\n1\tg\tf\ty\to\ts\ts\ta\tb\tfive\n");
    let p = write(dir.path(), "STS-B", "dev", &text);
    let err = error_of(Task::STSB, "dev", &p);
    assert!(err.contains(&format!("{}:3:", p.display())), "{err}");
    assert!(err.contains("score `five` is not a number"), "{err}");
}

#[test]
fn a_missing_column_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "QQP",
        "train",
        "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n1\t2\t3\tq?\tr?\t0\n4\t5\t6\tq?\t1\n",
    );
    let err = error_of(Task::QQP, "train", &p);
    assert!(err.contains(&format!("{}:3:", p.display())), "{err}");
    assert!(
        err.contains("expected 6 tab-separated columns, found 5"),
        "{err}"
    );
}

#[test]
fn an_unknown_mnli_label_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string(common::fixtures().join("MNLI/train.tsv")).unwrap();
    let broken = src.replacen("\tneutral\tneutral\n", "\tneutral\tmaybe\n", 1);
    let p = write(dir.path(), "MNLI", "train", &broken);
    let err = error_of(Task::MNLI, "train", &p);
    assert!(err.contains(&format!("{}:2:", p.display())), "{err}");
    assert!(err.contains("unknown label `maybe`"), "{err}");
}

#[test]
fn a_cola_row_with_a_header_like_first_line_is_an_error_at_line_1() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "CoLA",
        "train",
        "source\tlabel\tmark\tsentence\nx\t1\t\tok .\n",
    );
    let err = error_of(Task::COLA, "train", &p);
    assert!(err.contains(&format!("{}:1:", p.display())), "{err}");
}

#[test]
fn skip_bad_rows_reports_every_skipped_row_in_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let text = "index\tsentence1\tsentence2\tlabel\n\
                0\ta b\tc\tentailment\n\
                1\ta\tb\n\
                2\ta\tb\tyes\n\
                3\ta\tb\tnot_entailment\n";
    write(dir.path(), "RTE", "train", text);
    let tokdir = tempfile::tempdir().unwrap();
    let (tok, hash) = common::tiny_tokenizer(tokdir.path());
    let out = tempfile::tempdir().unwrap();
    let mut opts = GlueBuildOptions {
        task: Task::RTE,
        data_dir: dir.path().to_path_buf(),
        split: "train".into(),
        max_seq_len: None,
        output: out.path().to_path_buf(),
        skip_bad_rows: false,
        shard_size: 1000,
    };
    let err = build_glue(&opts, &tok, &hash).unwrap_err().to_string();
    assert!(err.contains("train.tsv:3:"), "{err}");

    opts.skip_bad_rows = true;
    let s = build_glue(&opts, &tok, &hash).unwrap();
    assert_eq!((s.rows, s.skipped_rows), (2, 2));
    let lines: Vec<usize> = s.bad_rows.iter().map(|b| b.line).collect();
    assert_eq!(lines, vec![3, 4]);
    let json = std::fs::read_to_string(out.path().join("summary.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["skipped_rows"], 2);
    assert_eq!(v["bad_rows"][1]["line"], 4);
    assert_eq!(v["label_distribution"]["entailment"], 1);
}
