//! Where each task keeps its text, label and index columns (SPEC §7).
//!
//! Files with a header are read by column name, which gives exactly SPEC §7's positions on the
//! official layouts (e.g. STS-B `sentence1`/`sentence2` are columns 7/8 and `score` the last;
//! MNLI `sentence1`/`sentence2` are 8/9 and `gold_label` the last) and also works for the test
//! files, whose columns differ. CoLA train/dev have no header: four columns, label in column 1,
//! sentence in column 3.

use crate::error::{Error, Result};
use crate::task::{is_test_split, Task};
use std::path::Path;

/// Column names (or positions for CoLA) of one task and split.
#[derive(Debug, Clone, Copy)]
struct Spec {
    text_a: &'static str,
    text_b: Option<&'static str>,
    label: Option<&'static str>,
    guid: Option<&'static str>,
}

/// The GLUE columns of a built-in task (`None` for a task that is not one of the nine).
fn spec(task: Task, test: bool) -> Option<Spec> {
    let (a, b) = match task.name() {
        "CoLA" | "SST-2" => ("sentence", None),
        "MRPC" => ("#1 String", Some("#2 String")),
        "QQP" => ("question1", Some("question2")),
        "QNLI" => ("question", Some("sentence")),
        "STS-B" | "MNLI" | "RTE" | "WNLI" => ("sentence1", Some("sentence2")),
        _ => return None,
    };
    let label = match task.name() {
        "MRPC" => "Quality",
        "STS-B" => "score",
        "QQP" => "is_duplicate",
        "MNLI" => "gold_label",
        _ => "label",
    };
    let guid = match task.name() {
        "QQP" => Some("id"),
        "CoLA" | "SST-2" | "MRPC" if !test => None,
        _ => Some("index"),
    };
    task.is_glue().then_some(Spec {
        text_a: a,
        text_b: b,
        label: (!test).then_some(label),
        guid,
    })
}

/// Resolved column positions for one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// True when line 1 is a header.
    pub has_header: bool,
    /// Number of tab-separated fields every row must have.
    pub columns: usize,
    pub text_a: usize,
    pub text_b: Option<usize>,
    pub label: Option<usize>,
    /// `None`: the guid is the 0-based data-row number.
    pub guid: Option<usize>,
}

/// True when the task's `split` file starts with a header line.
pub fn has_header(task: Task, split: &str) -> bool {
    task != Task::COLA || is_test_split(split)
}

/// The layout of CoLA train/dev, which have no header.
pub fn headerless_cola() -> Layout {
    Layout {
        has_header: false,
        columns: 4,
        text_a: 3,
        text_b: None,
        label: Some(1),
        guid: None,
    }
}

/// Finds the task's columns in a header line (already split on tabs).
pub fn from_header(task: Task, split: &str, header: &[&str], path: &Path) -> Result<Layout> {
    let s = spec(task, is_test_split(split)).ok_or_else(|| Error::Header {
        path: path.to_path_buf(),
        msg: format!("{task} is not a GLUE task: its file layout is not known"),
    })?;
    let find = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| Error::Header {
                path: path.to_path_buf(),
                msg: format!(
                    "no column `{name}` for {task} {split} (header: {})",
                    header.join(" | ")
                ),
            })
    };
    Ok(Layout {
        has_header: true,
        columns: header.len(),
        text_a: find(s.text_a)?,
        text_b: s.text_b.map(find).transpose()?,
        label: s.label.map(find).transpose()?,
        guid: s.guid.map(find).transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinybert_testkit::assert_mentions;

    fn layout(task: Task, split: &str, header: &str) -> Layout {
        let h: Vec<&str> = header.split('\t').collect();
        from_header(task, split, &h, Path::new("h.tsv")).unwrap()
    }

    #[test]
    fn stsb_uses_columns_7_8_and_the_last() {
        let l = layout(
            Task::STSB,
            "dev",
            "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore",
        );
        assert_eq!(
            (l.text_a, l.text_b, l.label, l.guid),
            (7, Some(8), Some(9), Some(0))
        );
    }

    #[test]
    fn mnli_dev_uses_columns_8_9_and_gold_label_last() {
        let l = layout(
            Task::MNLI,
            "dev_matched",
            "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t\
             sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tlabel2\tlabel3\t\
             label4\tlabel5\tgold_label",
        );
        assert_eq!(
            (l.text_a, l.text_b, l.label, l.columns),
            (8, Some(9), Some(15), 16)
        );
    }

    #[test]
    fn qqp_test_has_id_and_questions_only() {
        let l = layout(Task::QQP, "test", "id\tquestion1\tquestion2");
        assert_eq!(
            (l.guid, l.text_a, l.text_b, l.label),
            (Some(0), 1, Some(2), None)
        );
    }

    #[test]
    fn a_missing_column_is_a_header_error_naming_it() {
        let h = ["index", "sentence"];
        let err = from_header(Task::RTE, "dev", &h, Path::new("RTE/dev.tsv"))
            .unwrap_err()
            .to_string();
        assert_mentions(&err, &["RTE/dev.tsv", "sentence1"]);
    }

    #[test]
    fn only_cola_train_and_dev_lack_a_header() {
        assert!(!has_header(Task::COLA, "train"));
        assert!(!has_header(Task::COLA, "dev"));
        assert!(has_header(Task::COLA, "test"));
        assert!(has_header(Task::SST2, "train"));
    }
}
