//! The nine GLUE tasks (SPEC §7): label lists, metric, single sentence vs pair, default length,
//! folder and split names.

use crate::error::{Error, Result};
use std::fmt;
use std::str::FromStr;

/// A GLUE task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Task {
    #[serde(rename = "CoLA")]
    Cola,
    #[serde(rename = "SST-2")]
    Sst2,
    #[serde(rename = "MRPC")]
    Mrpc,
    #[serde(rename = "STS-B")]
    Stsb,
    #[serde(rename = "QQP")]
    Qqp,
    #[serde(rename = "MNLI")]
    Mnli,
    #[serde(rename = "QNLI")]
    Qnli,
    #[serde(rename = "RTE")]
    Rte,
    #[serde(rename = "WNLI")]
    Wnli,
}

/// How a task is scored on its dev set (SPEC §6, §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// Matthews correlation (CoLA).
    Matthews,
    /// Accuracy (SST-2, MNLI, QNLI, RTE, WNLI).
    Accuracy,
    /// F1 of the positive class and accuracy (MRPC, QQP).
    F1Accuracy,
    /// Pearson and Spearman correlation (STS-B); model selection uses their mean.
    PearsonSpearman,
}

impl Task {
    /// All nine tasks, in GLUE order.
    pub const ALL: [Task; 9] = [
        Task::Cola,
        Task::Sst2,
        Task::Mrpc,
        Task::Stsb,
        Task::Qqp,
        Task::Mnli,
        Task::Qnli,
        Task::Rte,
        Task::Wnli,
    ];

    /// The official name, also the folder name under the GLUE data directory (`SST-2`).
    pub fn name(self) -> &'static str {
        match self {
            Task::Cola => "CoLA",
            Task::Sst2 => "SST-2",
            Task::Mrpc => "MRPC",
            Task::Stsb => "STS-B",
            Task::Qqp => "QQP",
            Task::Mnli => "MNLI",
            Task::Qnli => "QNLI",
            Task::Rte => "RTE",
            Task::Wnli => "WNLI",
        }
    }

    /// The label strings as they appear in the files; a class id is an index into this list.
    /// Empty for the regression task STS-B. MNLI uses the reference code's order
    /// (contradiction, entailment, neutral); the order is recorded in every dataset's metadata.
    pub fn labels(self) -> &'static [&'static str] {
        match self {
            Task::Cola | Task::Sst2 | Task::Mrpc | Task::Qqp | Task::Wnli => &["0", "1"],
            Task::Stsb => &[],
            Task::Mnli => &["contradiction", "entailment", "neutral"],
            Task::Qnli | Task::Rte => &["entailment", "not_entailment"],
        }
    }

    /// Number of model outputs: the number of classes, or 1 for regression.
    pub fn num_labels(self) -> usize {
        self.labels().len().max(1)
    }

    /// True for STS-B, whose label is a float score in [0, 5].
    pub fn is_regression(self) -> bool {
        self == Task::Stsb
    }

    /// True for tasks whose examples are sentence pairs.
    pub fn is_pair(self) -> bool {
        !matches!(self, Task::Cola | Task::Sst2)
    }

    /// Maximum sequence length of SPEC §6: 64 for single sentences, 128 for pairs.
    pub fn default_max_seq_len(self) -> usize {
        if self.is_pair() {
            128
        } else {
            64
        }
    }

    /// The dev-set metric.
    pub fn metric(self) -> MetricKind {
        match self {
            Task::Cola => MetricKind::Matthews,
            Task::Mrpc | Task::Qqp => MetricKind::F1Accuracy,
            Task::Stsb => MetricKind::PearsonSpearman,
            _ => MetricKind::Accuracy,
        }
    }

    /// The splits (file stems) of this task: `train`, `dev`, `test`, or for MNLI `train`,
    /// `dev_matched`, `dev_mismatched`, `test_matched`, `test_mismatched`.
    pub fn splits(self) -> &'static [&'static str] {
        match self {
            Task::Mnli => &[
                "train",
                "dev_matched",
                "dev_mismatched",
                "test_matched",
                "test_mismatched",
            ],
            _ => &["train", "dev", "test"],
        }
    }

    /// Checks that `split` is one of [`Task::splits`].
    pub fn check_split(self, split: &str) -> Result<()> {
        if self.splits().contains(&split) {
            Ok(())
        } else {
            Err(Error::Invalid(format!(
                "{} has no split `{split}` (expected one of: {})",
                self.name(),
                self.splits().join(", ")
            )))
        }
    }

    /// The class id of a label string, if it is one of [`Task::labels`].
    pub fn label_id(self, label: &str) -> Option<u32> {
        self.labels()
            .iter()
            .position(|l| *l == label)
            .map(|i| i as u32)
    }
}

/// True for test splits, whose files have an `index` column and no label.
pub fn is_test_split(split: &str) -> bool {
    split.starts_with("test")
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Task {
    type Err = Error;

    /// Parses a task name case-insensitively, with or without the dash (`sst2`, `SST-2`).
    fn from_str(s: &str) -> Result<Self> {
        let key: String = s
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .collect::<String>()
            .to_ascii_lowercase();
        Task::ALL
            .into_iter()
            .find(|t| t.name().replace('-', "").to_ascii_lowercase() == key)
            .ok_or_else(|| {
                let names: Vec<&str> = Task::ALL.iter().map(|t| t.name()).collect();
                Error::Invalid(format!(
                    "unknown task `{s}` (expected one of: {})",
                    names.join(", ")
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_names_parse_case_insensitively_with_or_without_dash() {
        assert_eq!("sst2".parse::<Task>().unwrap(), Task::Sst2);
        assert_eq!("SST-2".parse::<Task>().unwrap(), Task::Sst2);
        assert_eq!("sts-b".parse::<Task>().unwrap(), Task::Stsb);
        assert_eq!("mnli".parse::<Task>().unwrap(), Task::Mnli);
        assert!("sst3".parse::<Task>().is_err());
    }

    #[test]
    fn single_sentence_tasks_default_to_64_and_pairs_to_128() {
        assert_eq!(Task::Cola.default_max_seq_len(), 64);
        assert_eq!(Task::Sst2.default_max_seq_len(), 64);
        assert_eq!(Task::Mrpc.default_max_seq_len(), 128);
        assert_eq!(Task::Mnli.default_max_seq_len(), 128);
    }

    #[test]
    fn mnli_uses_the_reference_label_order() {
        assert_eq!(Task::Mnli.label_id("contradiction"), Some(0));
        assert_eq!(Task::Mnli.label_id("entailment"), Some(1));
        assert_eq!(Task::Mnli.label_id("neutral"), Some(2));
        assert_eq!(Task::Stsb.num_labels(), 1);
    }

    #[test]
    fn mnli_rejects_plain_dev_split() {
        assert!(Task::Mnli.check_split("dev").is_err());
        assert!(Task::Mnli.check_split("dev_mismatched").is_ok());
        assert!(Task::Rte.check_split("dev").is_ok());
    }
}
