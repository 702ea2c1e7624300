//! The paper's numbers (SPEC §8): Table 1 (GLUE test) and the TinyBERT-4 dev-set ablations,
//! embedded from `crates/eval/data/paper.toml` and parsed at run time.

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::glue::column;

const PAPER_TOML: &str = include_str!("../data/paper.toml");
const PAPER_PATH: &str = "crates/eval/data/paper.toml";

/// Both tables of the paper's numbers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaperNumbers {
    /// Table 1: GLUE test, teacher and students.
    pub table1: PaperTable,
    /// Tables 2-4: dev-set ablations of TinyBERT-4 (rows keyed by id, `full` shared).
    pub ablations: PaperTable,
}

/// One table of the paper: columns are GLUE column headers ([`crate::glue::TABLE1_COLUMNS`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaperTable {
    /// `test` or `dev`.
    pub split: String,
    /// Column headers in the paper's order.
    pub columns: Vec<String>,
    /// Rows in the paper's order.
    pub rows: Vec<PaperRow>,
}

/// One row as printed in the paper; scores are percentages in the table's column order.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaperRow {
    /// Stable id used by report layouts (`tinybert-4`, `no-gd`, ...).
    pub id: String,
    /// Row label as in SPEC §8.
    pub label: String,
    /// Whether this row is the teacher that "retained %" refers to.
    #[serde(default)]
    pub teacher: bool,
    /// Parameters in millions, where the paper gives them.
    pub params_m: Option<f64>,
    /// Inference speed-up over BERT-base, where the paper gives it.
    pub speedup: Option<f64>,
    /// One score per column.
    pub scores: Vec<f64>,
    /// The paper's average column.
    pub avg: f64,
}

impl PaperNumbers {
    /// Parses the embedded numbers and checks their shape (known columns, one score per
    /// column, unique row ids, at most one teacher per table).
    pub fn load() -> Result<Self> {
        let numbers: PaperNumbers = toml::from_str(PAPER_TOML).map_err(|e| Error::Toml {
            path: PAPER_PATH.into(),
            source: Box::new(e),
        })?;
        numbers.table1.check("table1")?;
        numbers.ablations.check("ablations")?;
        Ok(numbers)
    }
}

impl PaperTable {
    /// The row with this id.
    pub fn row(&self, id: &str) -> Option<&PaperRow> {
        self.rows.iter().find(|r| r.id == id)
    }

    /// The row's score in the named column.
    pub fn score(&self, row: &PaperRow, column: &str) -> Option<f64> {
        let i = self.columns.iter().position(|c| c == column)?;
        row.scores.get(i).copied()
    }

    /// The teacher row, if the table has one.
    pub fn teacher(&self) -> Option<&PaperRow> {
        self.rows.iter().find(|r| r.teacher)
    }

    fn check(&self, table: &str) -> Result<()> {
        for (i, c) in self.columns.iter().enumerate() {
            column(c).map_err(|e| {
                Error::invalid(PAPER_PATH, format!("{table}.columns[{i}]"), e.to_string())
            })?;
        }
        for (i, row) in self.rows.iter().enumerate() {
            let key = format!("{table}.rows[{i}] ({})", row.id);
            if row.scores.len() != self.columns.len() {
                return Err(Error::invalid(
                    PAPER_PATH,
                    key,
                    format!(
                        "{} scores for {} columns",
                        row.scores.len(),
                        self.columns.len()
                    ),
                ));
            }
            if self.rows[..i].iter().any(|r| r.id == row.id) {
                return Err(Error::invalid(PAPER_PATH, key, "duplicate row id"));
            }
        }
        if self.rows.iter().filter(|r| r.teacher).count() > 1 {
            return Err(Error::invalid(
                PAPER_PATH,
                table,
                "more than one teacher row",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_numbers_parse_with_expected_shape() {
        let p = PaperNumbers::load().unwrap();
        assert_eq!(p.table1.rows.len(), 5);
        assert_eq!(p.table1.columns.len(), 9);
        assert_eq!(p.ablations.rows.len(), 11);
        assert_eq!(p.table1.teacher().unwrap().id, "bert-base");
        assert!(p.ablations.teacher().is_none());
    }

    #[test]
    fn score_looks_up_by_column_header() {
        let p = PaperNumbers::load().unwrap();
        let t4 = p.table1.row("tinybert-4").unwrap();
        assert_eq!(p.table1.score(t4, "CoLA"), Some(44.1));
        assert_eq!(p.table1.score(t4, "MNLI-mm"), Some(81.8));
        assert_eq!(p.table1.score(t4, "WNLI"), None);
    }

    #[test]
    fn every_printed_average_is_the_mean_of_its_cells() {
        let p = PaperNumbers::load().unwrap();
        for row in p.table1.rows.iter().chain(&p.ablations.rows) {
            let mean = row.scores.iter().sum::<f64>() / row.scores.len() as f64;
            assert!(
                (mean - row.avg).abs() <= 0.05 + 1e-9,
                "{}: mean {mean} vs printed {}",
                row.id,
                row.avg
            );
        }
    }
}
