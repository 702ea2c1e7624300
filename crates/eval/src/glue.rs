//! GLUE table columns (MNLI matched and mismatched are separate columns) and the GLUE average.

use crate::error::{Error, Result};
use crate::scoring::{combine, Convention};
use tinybert_data::Task;
use tinybert_run::Scores;

/// Which labelled evaluation set of a task a column reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalSet {
    /// The task's dev set (`dev.tsv`; MNLI `dev_matched.tsv`): a run's `dev` scores.
    Main,
    /// MNLI `dev_mismatched.tsv`: a run's `dev_mismatched` scores.
    Mismatched,
}

/// One score column of a GLUE table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlueColumn {
    /// Column header as in the paper (`MNLI-m`, `SST-2`, ...).
    pub name: &'static str,
    /// Task whose metrics fill it.
    pub task: Task,
    /// Which evaluation set of the task.
    pub set: EvalSet,
}

const fn col(name: &'static str, task: Task, set: EvalSet) -> GlueColumn {
    GlueColumn { name, task, set }
}

/// The nine columns of the paper's Table 1, in its order; the GLUE average runs over these.
pub const TABLE1_COLUMNS: [GlueColumn; 9] = [
    col("MNLI-m", Task::MNLI, EvalSet::Main),
    col("MNLI-mm", Task::MNLI, EvalSet::Mismatched),
    col("QQP", Task::QQP, EvalSet::Main),
    col("QNLI", Task::QNLI, EvalSet::Main),
    col("SST-2", Task::SST2, EvalSet::Main),
    col("CoLA", Task::COLA, EvalSet::Main),
    col("STS-B", Task::STSB, EvalSet::Main),
    col("MRPC", Task::MRPC, EvalSet::Main),
    col("RTE", Task::RTE, EvalSet::Main),
];

/// Columns of the paper's dev-set ablation tables (Tables 2-4).
pub const ABLATION_COLUMNS: [GlueColumn; 4] = [
    TABLE1_COLUMNS[0],
    TABLE1_COLUMNS[1],
    TABLE1_COLUMNS[7],
    TABLE1_COLUMNS[5],
];

/// Looks a Table 1 column up by its exact header (`MNLI-mm`, `STS-B`, ...).
pub fn column(name: &str) -> Result<GlueColumn> {
    column_index(name).map(|i| TABLE1_COLUMNS[i])
}

fn column_index(name: &str) -> Result<usize> {
    TABLE1_COLUMNS
        .iter()
        .position(|c| c.name == name)
        .ok_or_else(|| Error::UnknownColumn {
            name: name.to_string(),
            known: TABLE1_COLUMNS.map(|c| c.name).join(", "),
        })
}

/// The GLUE average: the mean over the nine [`TABLE1_COLUMNS`] of each column's score under
/// `convention` (MNLI-m and MNLI-mm count as two columns; WNLI is not part of it, as in the
/// paper). Each column must be given exactly once; the result is a fraction.
pub fn glue_average<'a>(
    cells: impl IntoIterator<Item = (&'a str, &'a Scores)>,
    convention: Convention,
) -> Result<f64> {
    let mut found: [Option<f64>; 9] = [None; 9];
    for (name, scores) in cells {
        let i = column_index(name)?;
        let c = TABLE1_COLUMNS[i];
        if found[i].is_some() {
            return Err(Error::AverageColumns {
                column: c.name,
                problem: "given twice",
            });
        }
        found[i] = Some(combine(c.task, scores, convention)?);
    }
    let mut sum = 0.0;
    for (c, v) in TABLE1_COLUMNS.iter().zip(found) {
        sum += v.ok_or(Error::AverageColumns {
            column: c.name,
            problem: "missing",
        })?;
    }
    Ok(sum / TABLE1_COLUMNS.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(a: f64) -> Scores {
        Scores {
            accuracy: Some(a),
            f1: None,
            matthews_corr: None,
            pearson: None,
            spearman: None,
            score: a,
        }
    }

    #[test]
    fn columns_read_the_task_they_are_named_after() {
        let tasks: Vec<&str> = TABLE1_COLUMNS.iter().map(|c| c.task.name()).collect();
        assert_eq!(
            tasks,
            ["MNLI", "MNLI", "QQP", "QNLI", "SST-2", "CoLA", "STS-B", "MRPC", "RTE"]
        );
        assert_eq!(TABLE1_COLUMNS[1].set, EvalSet::Mismatched);
        let ablation: Vec<&str> = ABLATION_COLUMNS.iter().map(|c| c.name).collect();
        assert_eq!(ablation, ["MNLI-m", "MNLI-mm", "MRPC", "CoLA"]);
    }

    #[test]
    fn average_counts_mnli_twice_and_combines_multi_metric_tasks() {
        let mnli_m = acc(0.80);
        let mnli_mm = acc(0.70);
        let simple = acc(0.90);
        let qqp = Scores {
            f1: Some(0.70),
            ..acc(0.90)
        };
        let mrpc = Scores {
            f1: Some(0.88),
            ..acc(0.84)
        };
        let cola = Scores {
            matthews_corr: Some(0.5),
            ..acc(0.8)
        };
        let stsb = Scores {
            pearson: Some(0.86),
            spearman: Some(0.84),
            ..acc(0.0)
        };
        let cells = [
            ("MNLI-m", &mnli_m),
            ("MNLI-mm", &mnli_mm),
            ("QQP", &qqp),
            ("QNLI", &simple),
            ("SST-2", &simple),
            ("CoLA", &cola),
            ("STS-B", &stsb),
            ("MRPC", &mrpc),
            ("RTE", &simple),
        ];
        let glue = glue_average(cells, Convention::Glue).unwrap();
        let expected = (0.80 + 0.70 + 0.80 + 0.90 + 0.90 + 0.5 + 0.85 + 0.86 + 0.90) / 9.0;
        assert!((glue - expected).abs() < 1e-12, "{glue} vs {expected}");
        let paper = glue_average(cells, Convention::Paper).unwrap();
        let expected = (0.80 + 0.70 + 0.70 + 0.90 + 0.90 + 0.5 + 0.84 + 0.88 + 0.90) / 9.0;
        assert!((paper - expected).abs() < 1e-12);
    }

    #[test]
    fn average_rejects_missing_and_repeated_columns() {
        let s = acc(0.5);
        let err = glue_average([("RTE", &s)], Convention::Glue).unwrap_err();
        assert!(matches!(
            err,
            Error::AverageColumns {
                column: "MNLI-m",
                problem: "missing"
            }
        ));
        let err = glue_average([("RTE", &s), ("RTE", &s)], Convention::Glue).unwrap_err();
        assert!(matches!(
            err,
            Error::AverageColumns {
                problem: "given twice",
                ..
            }
        ));
        assert!(matches!(
            glue_average([("WNLI", &s)], Convention::Glue),
            Err(Error::UnknownColumn { .. })
        ));
    }
}
