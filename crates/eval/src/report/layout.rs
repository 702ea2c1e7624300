//! Table layouts: the paper's Table 1 and its three dev-set ablation tables.

use serde::{Deserialize, Serialize};

use crate::glue::{GlueColumn, ABLATION_COLUMNS, TABLE1_COLUMNS};
use crate::paper::{PaperNumbers, PaperTable};

/// Which of the paper's tables a report follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// Table 1: model, params, speed-up, the nine GLUE columns, avg (paper rows: GLUE test).
    #[serde(alias = "table-1")]
    Table1,
    /// Table 2: ablation of the learning procedure (general/task distillation, augmentation).
    #[serde(alias = "table2", alias = "table-2")]
    AblationProcedure,
    /// Table 3: ablation of the distillation objectives.
    #[serde(alias = "table3", alias = "table-3")]
    AblationObjective,
    /// Table 4: layer mapping strategies.
    #[serde(alias = "table4", alias = "table-4")]
    AblationMapping,
    /// Table 1's rows on tasks of one's own: model, params, speed-up, one column per task of
    /// the runs (in the order they first appear), avg; no paper rows.
    Tasks,
}

impl Layout {
    /// Every layout, in the paper's table order.
    pub const ALL: [Layout; 5] = [
        Layout::Table1,
        Layout::AblationProcedure,
        Layout::AblationObjective,
        Layout::AblationMapping,
        Layout::Tasks,
    ];

    /// The name used in `REPORT.toml` and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Layout::Table1 => "table1",
            Layout::AblationProcedure => "ablation-procedure",
            Layout::AblationObjective => "ablation-objective",
            Layout::AblationMapping => "ablation-mapping",
            Layout::Tasks => "tasks",
        }
    }

    /// Parses [`Layout::name`] (or `table2`..`table4`).
    pub fn from_name(name: &str) -> Option<Layout> {
        Layout::ALL
            .into_iter()
            .find(|l| l.name() == name)
            .or(match name {
                "table2" => Some(Layout::AblationProcedure),
                "table3" => Some(Layout::AblationObjective),
                "table4" => Some(Layout::AblationMapping),
                _ => None,
            })
    }

    /// The paper's caption, used as the default report title.
    pub fn caption(self) -> &'static str {
        match self {
            Layout::Table1 => "Table 1: GLUE results, teacher and students",
            Layout::AblationProcedure => {
                "Table 2: ablation of the learning procedure (TinyBERT-4, dev)"
            }
            Layout::AblationObjective => {
                "Table 3: ablation of the distillation objectives (TinyBERT-4, dev)"
            }
            Layout::AblationMapping => "Table 4: layer mapping strategies (TinyBERT-4, dev)",
            Layout::Tasks => "Teacher and students on our tasks (dev)",
        }
    }

    /// Score columns, in the paper's order (none for [`Layout::Tasks`], whose columns are its
    /// runs' tasks).
    pub fn columns(self) -> &'static [GlueColumn] {
        match self {
            Layout::Table1 => &TABLE1_COLUMNS,
            Layout::Tasks => &[],
            _ => &ABLATION_COLUMNS,
        }
    }

    /// Whether the table has the "params" and "speed-up" columns.
    pub fn has_size_columns(self) -> bool {
        matches!(self, Layout::Table1 | Layout::Tasks)
    }

    /// Ids of the paper rows this table shows, in the paper's order.
    pub fn paper_row_ids(self) -> &'static [&'static str] {
        match self {
            Layout::Table1 => &[
                "bert-base",
                "bert-tiny",
                "distilbert-4",
                "tinybert-4",
                "tinybert-6",
            ],
            Layout::AblationProcedure => &["full", "no-gd", "no-td", "no-da"],
            Layout::AblationObjective => {
                &["full", "no-embd", "no-pred", "no-trm", "no-attn", "no-hidn"]
            }
            Layout::AblationMapping => &["full", "top", "bottom"],
            Layout::Tasks => &[],
        }
    }

    /// The paper table holding this layout's rows (for [`Layout::Tasks`], which shows none,
    /// Table 1).
    pub fn paper_table(self, paper: &PaperNumbers) -> &PaperTable {
        match self {
            Layout::Table1 => &paper.table1,
            _ => &paper.ablations,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_table_numbers_are_aliases() {
        for l in Layout::ALL {
            assert_eq!(Layout::from_name(l.name()), Some(l));
        }
        assert_eq!(Layout::from_name("table3"), Some(Layout::AblationObjective));
        assert_eq!(Layout::from_name("table5"), None);
    }

    #[test]
    fn every_paper_row_id_exists_with_the_layout_columns() {
        let paper = PaperNumbers::load().unwrap();
        // The `tasks` layout shows no paper rows.
        for l in Layout::ALL
            .into_iter()
            .filter(|l| !l.paper_row_ids().is_empty())
        {
            let table = l.paper_table(&paper);
            let names: Vec<&str> = l.columns().iter().map(|c| c.name).collect();
            assert_eq!(table.columns, names, "{}", l.name());
            for id in l.paper_row_ids() {
                assert!(table.row(id).is_some(), "{}: {id}", l.name());
            }
        }
    }
}
