//! `eval score`: prediction files in the leaderboard format scored against the gold labels of
//! GLUE files, with no model involved.

mod common;

use std::path::{Path, PathBuf};

use common::{data_glue_dir, eval_glue_dir};
use tinybert_data::Task;
use tinybert_eval::score_prediction_file;

fn write(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("predictions.tsv");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn predictions_equal_to_the_gold_labels_score_accuracy_one() {
    let tmp = tempfile::tempdir().unwrap();
    // Rows out of order, labels as strings and as ids, no header.
    let p = write(
        tmp.path(),
        "5\tentailment\n0\tentailment\n1\tnot_entailment\n2\t0\n3\t1\n4\tnot_entailment\n",
    );
    let s = score_prediction_file(Task::RTE, &eval_glue_dir(), "dev", &p).unwrap();
    assert_eq!(s.examples, 6);
    assert_eq!(s.scores.accuracy, Some(1.0));
    assert_eq!(s.scores.score, 1.0);
    assert!(s.gold.ends_with("RTE/dev.tsv"));
}

#[test]
fn one_wrong_prediction_in_six_scores_five_sixths() {
    let tmp = tempfile::tempdir().unwrap();
    let p = write(
        tmp.path(),
        "index\tprediction\n0\tentailment\n1\tnot_entailment\n2\tentailment\n\
         3\tnot_entailment\n4\tnot_entailment\n5\tnot_entailment\n",
    );
    let s = score_prediction_file(Task::RTE, &eval_glue_dir(), "dev", &p).unwrap();
    assert_eq!(s.scores.accuracy, Some(5.0 / 6.0));
}

#[test]
fn stsb_gold_scores_as_predictions_correlate_perfectly() {
    let tmp = tempfile::tempdir().unwrap();
    let p = write(
        tmp.path(),
        "index\tprediction\n0\t5.0\n1\t0.6\n2\t4.2\n3\t2\n",
    );
    let s = score_prediction_file(Task::STSB, &data_glue_dir(), "dev", &p).unwrap();
    assert!((s.scores.pearson.unwrap() - 1.0).abs() < 1e-6);
    assert!((s.scores.spearman.unwrap() - 1.0).abs() < 1e-12);
    assert!(s.scores.accuracy.is_none());
}

#[test]
fn mnli_is_scored_per_dev_set() {
    let tmp = tempfile::tempdir().unwrap();
    let p = write(tmp.path(), "0\tcontradiction\n1\tentailment\n");
    let s = score_prediction_file(Task::MNLI, &data_glue_dir(), "dev_mismatched", &p).unwrap();
    assert_eq!(s.scores.accuracy, Some(1.0));
    let err = score_prediction_file(Task::MNLI, &data_glue_dir(), "dev", &p)
        .unwrap_err()
        .to_string();
    assert!(err.contains("dev_matched"), "{err}");
}

#[test]
fn bad_files_are_errors_naming_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        // A count mismatch: one example has no prediction.
        (
            "0\tentailment\n1\tentailment\n2\tentailment\n3\tentailment\n4\tentailment\n",
            "predictions.tsv: index 5: missing: the file has 5 predictions for the 6 examples",
        ),
        // One prediction too many.
        (
            "0\t0\n1\t0\n2\t0\n3\t0\n4\t0\n5\t0\n6\t0\n",
            "predictions.tsv:7: index 6 is beyond the 6 examples",
        ),
        (
            "index\tprediction\n0\t0\n1\t0\n1\t1\n",
            "predictions.tsv:4: index 1 is repeated (first on line 3)",
        ),
        (
            "index\tprediction\n0\tentailed\n",
            "predictions.tsv:2: unknown label `entailed` for RTE",
        ),
    ];
    for (text, expected) in cases {
        let p = write(tmp.path(), text);
        let err = score_prediction_file(Task::RTE, &eval_glue_dir(), "dev", &p)
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{err}\nexpected: {expected}");
    }
}

#[test]
fn a_missing_gold_file_names_the_places_looked_at() {
    let tmp = tempfile::tempdir().unwrap();
    let p = write(tmp.path(), "0\t1\n");
    let err = score_prediction_file(Task::COLA, tmp.path(), "dev", &p)
        .unwrap_err()
        .to_string();
    assert!(err.contains("CoLA/dev.tsv"), "{err}");
}

/// A prediction per gold score `g`: `1 + g * 2^-40`, written at full precision. In `f64` these
/// are distinct for distinct gold scores and in the same order (Spearman 1, as scipy computes
/// it); read as `f32` they would all be `1.0`, a constant whose correlations are undefined.
fn near_ties(gold: &[f32]) -> String {
    let mut text = String::from("index\tprediction\n");
    for (i, g) in gold.iter().enumerate() {
        let p = 1.0 + *g as f64 * 2f64.powi(-40);
        text.push_str(&format!("{i}\t{p}\n"));
    }
    text
}

fn stsb_gold(dir: &Path) -> Vec<f32> {
    let path = tinybert_data::glue::glue_file_path(dir, Task::STSB, "dev").unwrap();
    tinybert_data::read_glue_file(Task::STSB, "dev", &path, Default::default())
        .unwrap()
        .examples
        .iter()
        .map(|e| e.label.score().unwrap())
        .collect()
}

fn check_full_precision(dir: &Path) {
    let tmp = tempfile::tempdir().unwrap();
    let gold = stsb_gold(dir);
    let text = near_ties(&gold);
    assert!(
        text.lines().nth(1).unwrap().contains("1.000000000"),
        "{text}"
    );
    let p = write(tmp.path(), &text);
    let s = score_prediction_file(Task::STSB, dir, "dev", &p).unwrap();
    assert_eq!(s.examples, gold.len());
    let spearman = s.scores.spearman.unwrap();
    assert!((spearman - 1.0).abs() < 1e-12, "spearman {spearman}");
    let pearson = s.scores.pearson.unwrap();
    assert!(pearson > 1.0 - 1e-6, "pearson {pearson}");
}

#[test]
fn stsb_predictions_are_read_at_full_precision() {
    check_full_precision(&data_glue_dir());
}

#[test]
fn stsb_predictions_are_read_at_full_precision_on_the_real_dev_set() {
    if let Some(dir) = tinybert_testkit::shared("data/glue") {
        check_full_precision(&dir);
    }
}
