//! GLUE leaderboard files (SPEC §7): one `<TASK>.tsv` per test split, `index\tprediction` rows,
//! label strings for MNLI/QNLI/RTE, `0`/`1` for the other classification tasks and a number for
//! STS-B. MNLI's two test sets are `MNLI-m.tsv` and `MNLI-mm.tsv`.

use std::fmt::Write as _;
use std::path::Path;

use tinybert_data::Task;

use crate::column::PredictionColumn;
use crate::error::{Error, Result};
use tinybert_model::io::write_atomic;

/// Header line of every leaderboard file.
pub const LEADERBOARD_HEADER: &str = "index\tprediction";

/// One file of a GLUE submission: its name and the test split it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderboardFile {
    /// File name inside the submission zip (`RTE.tsv`).
    pub name: &'static str,
    pub task: Task,
    /// The test split (`test`, MNLI `test_matched`/`test_mismatched`).
    pub split: &'static str,
}

const fn file(name: &'static str, task: Task, split: &'static str) -> LeaderboardFile {
    LeaderboardFile { name, task, split }
}

/// The leaderboard files of the nine GLUE tasks, in GLUE order (the diagnostic `AX.tsv` is not
/// produced).
pub const LEADERBOARD_FILES: [LeaderboardFile; 10] = [
    file("CoLA.tsv", Task::COLA, "test"),
    file("SST-2.tsv", Task::SST2, "test"),
    file("MRPC.tsv", Task::MRPC, "test"),
    file("STS-B.tsv", Task::STSB, "test"),
    file("QQP.tsv", Task::QQP, "test"),
    file("MNLI-m.tsv", Task::MNLI, "test_matched"),
    file("MNLI-mm.tsv", Task::MNLI, "test_mismatched"),
    file("QNLI.tsv", Task::QNLI, "test"),
    file("RTE.tsv", Task::RTE, "test"),
    file("WNLI.tsv", Task::WNLI, "test"),
];

/// The leaderboard file of `task`'s test split `split`; an error for a split that is not a
/// test split.
pub fn leaderboard_file(task: Task, split: &str) -> Result<LeaderboardFile> {
    LEADERBOARD_FILES
        .iter()
        .find(|f| f.task == task && f.split == split)
        .copied()
        .ok_or_else(|| {
            let splits: Vec<&str> = LEADERBOARD_FILES
                .iter()
                .filter(|f| f.task == task)
                .map(|f| f.split)
                .collect();
            Error::invalid(
                task.name(),
                "split",
                format!(
                    "`{split}` has no leaderboard file (test splits: {})",
                    splits.join(", ")
                ),
            )
        })
}

/// The text of prediction `i` as the leaderboard expects it: the label string of a class, or
/// the value of a regression.
pub fn prediction_text(task: Task, column: &PredictionColumn, i: usize) -> Result<String> {
    let out_of_range = || {
        Error::invalid(
            task.name(),
            format!("prediction {i}"),
            format!("only {} predictions", column.len()),
        )
    };
    match column {
        PredictionColumn::Classes(c) => {
            let class = *c.get(i).ok_or_else(out_of_range)?;
            task.labels()
                .get(class as usize)
                .map(|s| s.to_string())
                .ok_or_else(|| {
                    Error::invalid(
                        task.name(),
                        format!("prediction {i}"),
                        format!(
                            "class {class} is not one of the task's labels ({})",
                            task.labels().join(", ")
                        ),
                    )
                })
        }
        PredictionColumn::Values(v) => {
            let value = *v.get(i).ok_or_else(out_of_range)?;
            if value.is_finite() {
                Ok(value.to_string())
            } else {
                Err(Error::invalid(
                    task.name(),
                    format!("prediction {i}"),
                    format!("{value} is not a finite number"),
                ))
            }
        }
    }
}

/// Writes a leaderboard file: the header, then `index\tprediction` per example, `indices`
/// being the test file's index column (one per prediction, in the same order).
pub fn write_leaderboard(
    path: &Path,
    task: Task,
    indices: &[String],
    column: &PredictionColumn,
) -> Result<()> {
    if indices.len() != column.len() {
        return Err(Error::invalid(
            path,
            "rows",
            format!("{} indices but {} predictions", indices.len(), column.len()),
        ));
    }
    let mut text = String::with_capacity(16 * indices.len() + 32);
    text.push_str(LEADERBOARD_HEADER);
    text.push('\n');
    for (i, index) in indices.iter().enumerate() {
        let prediction = prediction_text(task, column, i).map_err(|e| match e {
            Error::Run(tinybert_run::Error::Invalid { key, message, .. }) => {
                Error::invalid(path, key, message)
            }
            other => other,
        })?;
        // Writing into a String cannot fail.
        let _ = writeln!(text, "{index}\t{prediction}");
    }
    Ok(write_atomic(path, text.as_bytes())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinybert_testkit::assert_mentions;

    #[test]
    fn mnli_test_sets_map_to_m_and_mm_files() {
        assert_eq!(
            leaderboard_file(Task::MNLI, "test_matched").unwrap().name,
            "MNLI-m.tsv"
        );
        assert_eq!(
            leaderboard_file(Task::MNLI, "test_mismatched")
                .unwrap()
                .name,
            "MNLI-mm.tsv"
        );
        assert_eq!(
            leaderboard_file(Task::SST2, "test").unwrap().name,
            "SST-2.tsv"
        );
        let err = leaderboard_file(Task::RTE, "dev").unwrap_err().to_string();
        assert_mentions(&err, &["`dev` has no leaderboard file"]);
    }

    #[test]
    fn every_task_has_a_leaderboard_file() {
        for task in Task::GLUE {
            assert!(LEADERBOARD_FILES.iter().any(|f| f.task == task), "{task}");
        }
    }

    #[test]
    fn classes_become_label_strings_and_values_numbers() {
        let rte = PredictionColumn::Classes(vec![1, 0]);
        assert_eq!(
            prediction_text(Task::RTE, &rte, 0).unwrap(),
            "not_entailment"
        );
        assert_eq!(prediction_text(Task::RTE, &rte, 1).unwrap(), "entailment");
        assert_eq!(prediction_text(Task::COLA, &rte, 0).unwrap(), "1");
        let mnli = PredictionColumn::Classes(vec![2]);
        assert_eq!(prediction_text(Task::MNLI, &mnli, 0).unwrap(), "neutral");
        let stsb = PredictionColumn::Values(vec![3.25, f32::NAN]);
        assert_eq!(prediction_text(Task::STSB, &stsb, 0).unwrap(), "3.25");
        assert!(prediction_text(Task::STSB, &stsb, 1).is_err());
        assert!(prediction_text(Task::RTE, &PredictionColumn::Classes(vec![2]), 0).is_err());
    }

    #[test]
    fn written_file_has_the_header_and_one_row_per_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("RTE.tsv");
        let column = PredictionColumn::Classes(vec![0, 1]);
        write_leaderboard(&path, Task::RTE, &["7".into(), "8".into()], &column).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "index\tprediction\n7\tentailment\n8\tnot_entailment\n"
        );
        let err = write_leaderboard(&path, Task::RTE, &["7".into()], &column).unwrap_err();
        assert!(err.to_string().contains("1 indices but 2 predictions"));
    }
}
