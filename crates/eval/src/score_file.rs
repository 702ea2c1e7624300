//! Prediction files in the GLUE leaderboard format (`index\tprediction`), read and scored
//! against the gold labels of a GLUE split: the way to score any model's predictions, ours or
//! not (`tinybert eval score`).
//!
//! Format: one `index\tprediction` row per example; `index` is the example's 0-based row in the
//! split (for test files, the file's own index column, which counts rows the same way); the
//! rows may come in any order. An optional header is recognised as a first line whose first
//! field is not a number. A prediction is a label string of the task (`entailment`,
//! `not_entailment`, `contradiction`, `neutral`, `0`, `1`) or a class id, or a number for
//! STS-B, read as `f64` (full-precision predictions such as `3.0000000000000004` stay distinct
//! from `3`, so ties and ranks are scipy's). Blank lines, a UTF-8 BOM and CRLF line ends are
//! accepted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tinybert_data::task::is_test_split;
use tinybert_data::{read_task_split, Label, ReadOptions, Task};

use crate::column::Column;
use crate::error::{Error, Result};
use crate::leaderboard::LEADERBOARD_HEADER;
use tinybert_run::Scores;

/// One prediction as written in the file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Predicted {
    /// A class id (written as the label string or as the id).
    Class(u32),
    /// A regression value (STS-B), at full precision.
    Value(f64),
}

/// A prediction file's predictions in index order; regression values are read at full
/// precision (`f64`).
pub type FileColumn = Column<f64>;

/// One data row of a prediction file.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionRow {
    /// 1-based line number.
    pub line: usize,
    /// The example's 0-based row in the split.
    pub index: usize,
    pub prediction: Predicted,
    /// True when a class was written as its label string (as the leaderboard wants).
    pub as_label: bool,
}

/// A prediction file read and checked row by row (indices unique, labels known).
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionFile {
    pub path: PathBuf,
    pub task: Task,
    /// The header line, if the file has one.
    pub header: Option<String>,
    /// Data rows in file order.
    pub rows: Vec<PredictionRow>,
}

/// A prediction file scored against a GLUE split.
#[derive(Debug, Clone, PartialEq)]
pub struct FileScore {
    /// The GLUE file the gold labels came from.
    pub gold: PathBuf,
    /// Number of examples scored.
    pub examples: usize,
    pub scores: Scores,
}

/// Reads a prediction file for `task`; errors name the file and line (bad column count, an
/// index that is not a number or is repeated, an unknown label, a value that is not a number).
pub fn read_prediction_file(path: &Path, task: Task) -> Result<PredictionFile> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut out = PredictionFile {
        path: path.to_path_buf(),
        task,
        header: None,
        rows: Vec::new(),
    };
    let mut seen: HashMap<usize, usize> = HashMap::new();
    let mut first = true;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let row = raw.strip_suffix('\r').unwrap_or(raw);
        if row.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = row.split('\t').map(str::trim).collect();
        let is_header = first && fields[0].parse::<usize>().is_err();
        first = false;
        if is_header {
            out.header = Some(row.to_string());
            continue;
        }
        if fields.len() != 2 {
            return Err(Error::row(
                path,
                line,
                format!(
                    "expected 2 tab-separated columns `index<TAB>prediction`, found {}",
                    fields.len()
                ),
            ));
        }
        let index: usize = fields[0].parse().map_err(|_| {
            Error::row(
                path,
                line,
                format!("index `{}` is not a non-negative integer", fields[0]),
            )
        })?;
        if let Some(earlier) = seen.insert(index, line) {
            return Err(Error::row(
                path,
                line,
                format!("index {index} is repeated (first on line {earlier})"),
            ));
        }
        let (prediction, as_label) =
            parse_prediction(task, fields[1]).map_err(|m| Error::row(path, line, m))?;
        out.rows.push(PredictionRow {
            line,
            index,
            prediction,
            as_label,
        });
    }
    Ok(out)
}

/// Parses one prediction field: a label string or class id, or a finite number for STS-B.
fn parse_prediction(task: Task, field: &str) -> std::result::Result<(Predicted, bool), String> {
    if task.is_regression() {
        return match field.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok((Predicted::Value(v), false)),
            _ => Err(format!(
                "prediction `{field}` is not a finite number ({task} is a regression)"
            )),
        };
    }
    if let Some(id) = task.label_id(field) {
        return Ok((Predicted::Class(id), true));
    }
    match field.parse::<u32>() {
        Ok(id) if (id as usize) < task.num_labels() => Ok((Predicted::Class(id), false)),
        _ => Err(format!(
            "unknown label `{field}` for {task} (expected one of: {}, or a class id 0-{})",
            task.labels().join(", "),
            task.num_labels() - 1
        )),
    }
}

impl PredictionFile {
    /// The predictions in index order for a split of `expected` examples (`what` names the
    /// split in errors): every index from 0 to `expected - 1` exactly once.
    pub fn column(&self, expected: usize, what: &str) -> Result<FileColumn> {
        let mut slots: Vec<Option<Predicted>> = vec![None; expected];
        for row in &self.rows {
            let slot = slots.get_mut(row.index).ok_or_else(|| {
                Error::row(
                    &self.path,
                    row.line,
                    format!(
                        "index {} is beyond the {expected} examples of {what} (indices 0-{})",
                        row.index,
                        expected.saturating_sub(1)
                    ),
                )
            })?;
            *slot = Some(row.prediction);
        }
        if let Some(missing) = slots.iter().position(Option::is_none) {
            return Err(Error::invalid(
                &self.path,
                format!("index {missing}"),
                format!(
                    "missing: the file has {} predictions for the {expected} examples of {what}",
                    self.rows.len()
                ),
            ));
        }
        let all = slots.into_iter().flatten();
        Ok(if self.task.is_regression() {
            FileColumn::Values(
                all.map(|p| match p {
                    Predicted::Value(v) => v,
                    Predicted::Class(c) => c as f64,
                })
                .collect(),
            )
        } else {
            FileColumn::Classes(
                all.map(|p| match p {
                    Predicted::Class(c) => c,
                    Predicted::Value(v) => v as u32,
                })
                .collect(),
            )
        })
    }

    /// Checks what the GLUE leaderboard needs beyond [`read_prediction_file`]'s checks: the
    /// `index\tprediction` header and classes written as label strings.
    pub fn check_leaderboard_format(&self) -> Result<()> {
        let header_ok = self
            .header
            .as_deref()
            .is_some_and(|h| h.trim_end() == LEADERBOARD_HEADER);
        if !header_ok {
            return Err(Error::row(
                &self.path,
                1,
                "the first line must be the header `index<TAB>prediction`",
            ));
        }
        match self
            .rows
            .iter()
            .find(|r| !r.as_label && !self.task.is_regression())
        {
            Some(r) => Err(Error::row(
                &self.path,
                r.line,
                format!(
                    "a class id where the leaderboard wants a label string ({})",
                    self.task.labels().join(", ")
                ),
            )),
            None => Ok(()),
        }
    }
}

/// Scores the prediction file `predictions` against the gold labels of `task`'s `split` under
/// `data_dir` (the GLUE root or the task's folder). No model or tokenizer is involved.
pub fn score_prediction_file(
    task: Task,
    data_dir: &Path,
    split: &str,
    predictions: &Path,
) -> Result<FileScore> {
    if is_test_split(split) {
        return Err(Error::invalid(
            predictions,
            "split",
            format!("{task} {split} has no gold labels: score a dev split"),
        ));
    }
    let gold_file = read_task_split(task, data_dir, split, ReadOptions::default())?;
    let gold_path = gold_file.path.clone();
    let gold: Vec<Label> = gold_file.examples.iter().map(|e| e.label).collect();
    let file = read_prediction_file(predictions, task)?;
    let what = format!("{task} {split} ({})", gold_path.display());
    let column = file.column(gold.len(), &what)?;
    let scores = column.score(task, &gold, &predictions.display().to_string())?;
    Ok(FileScore {
        gold: gold_path,
        examples: gold.len(),
        scores,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinybert_testkit::assert_mentions;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("preds.tsv");
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn label_strings_and_ids_read_in_index_order_with_or_without_header() {
        let dir = tempfile::tempdir().unwrap();
        let with = write(
            dir.path(),
            "\u{feff}index\tprediction\r\n1\tnot_entailment\r\n0\t0\r\n\n",
        );
        let f = read_prediction_file(&with, Task::RTE).unwrap();
        assert_eq!(f.header.as_deref(), Some("index\tprediction"));
        assert_eq!(
            f.column(2, "RTE dev").unwrap(),
            FileColumn::Classes(vec![0, 1])
        );
        assert!(
            f.check_leaderboard_format().is_err(),
            "0 is an id, not a label"
        );
        let without = write(dir.path(), "0\tentailment\n1\tentailment\n");
        let f = read_prediction_file(&without, Task::RTE).unwrap();
        assert_eq!(f.header, None);
        assert_eq!(
            f.column(2, "RTE dev").unwrap(),
            FileColumn::Classes(vec![0, 0])
        );
    }

    #[test]
    fn stsb_values_are_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "index\tprediction\n0\t4.5\n1\t0\n");
        let f = read_prediction_file(&p, Task::STSB).unwrap();
        assert_eq!(
            f.column(2, "STS-B dev").unwrap(),
            FileColumn::Values(vec![4.5, 0.0])
        );
        let bad = write(dir.path(), "0\tNaN\n");
        let err = read_prediction_file(&bad, Task::STSB)
            .unwrap_err()
            .to_string();
        assert_mentions(&err, &["preds.tsv:1:", "not a finite number"]);
    }

    #[test]
    fn row_errors_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                "index\tprediction\n0\tentailment\n0\tentailment\n",
                ":3:",
                "index 0 is repeated (first on line 2)",
            ),
            (
                "index\tprediction\n0\tmaybe\n",
                ":2:",
                "unknown label `maybe`",
            ),
            ("index\tprediction\n0\t2\n", ":2:", "unknown label `2`"),
            (
                "0\tentailment\n-1\tentailment\n",
                ":2:",
                "index `-1` is not a non-negative integer",
            ),
            ("0\tentailment\textra\n", ":1:", "found 3"),
        ];
        for (text, line, message) in cases {
            let p = write(dir.path(), text);
            let err = read_prediction_file(&p, Task::RTE).unwrap_err().to_string();
            assert!(err.contains(&format!("preds.tsv{line}")), "{err}");
            assert!(err.contains(message), "{err}");
        }
    }

    #[test]
    fn a_missing_or_out_of_range_index_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "0\tentailment\n2\tentailment\n");
        let f = read_prediction_file(&p, Task::RTE).unwrap();
        let err = f.column(3, "RTE dev").unwrap_err().to_string();
        assert_mentions(
            &err,
            &["preds.tsv", "index 1", "2 predictions for the 3 examples"],
        );
        let err = f.column(2, "RTE dev").unwrap_err().to_string();
        assert_mentions(&err, &["preds.tsv:2:", "beyond the 2 examples"]);
    }

    #[test]
    fn a_test_split_cannot_be_scored() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "0\tentailment\n");
        let err = score_prediction_file(Task::RTE, dir.path(), "test", &p)
            .unwrap_err()
            .to_string();
        assert_mentions(&err, &["no gold labels"]);
    }
}
