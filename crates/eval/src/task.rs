//! GLUE tasks by name: which metrics each reports and how they combine into one score.
//!
//! Keyed by the task's name string (case, `-` and `_` ignored: `SST-2`, `sst2`, `sts_b` all
//! work) so that trainers can use it without a shared task enum.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::metrics;

/// The metric family of a task (SPEC §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// Accuracy (SST-2, MNLI, QNLI, RTE, WNLI).
    Accuracy,
    /// F1 of class 1 and accuracy (MRPC, QQP).
    F1Accuracy,
    /// Matthews correlation (CoLA).
    Matthews,
    /// Pearson and Spearman correlation of a regression output (STS-B).
    PearsonSpearman,
}

/// How a task's metrics become one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Convention {
    /// Model selection on dev (SPEC §6): accuracy, CoLA Matthews, STS-B (Pearson+Spearman)/2;
    /// MRPC and QQP select on accuracy. This is [`Scores::score`].
    Selection,
    /// The GLUE benchmark's per-task score: MRPC/QQP mean of F1 and accuracy, STS-B mean of
    /// Pearson and Spearman, CoLA Matthews, others accuracy.
    Glue,
    /// The paper's Table 1 cells (BERT's convention): MRPC/QQP F1, STS-B Spearman, CoLA
    /// Matthews, others accuracy. The paper's "avg" is the plain mean of these cells.
    Paper,
}

/// A GLUE task's name and metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskInfo {
    /// Canonical name as in the GLUE data folders (`SST-2`, `STS-B`, ...).
    pub name: &'static str,
    /// Metrics the task reports.
    pub metric: MetricKind,
}

/// The nine GLUE tasks.
pub const TASKS: [TaskInfo; 9] = [
    task("CoLA", MetricKind::Matthews),
    task("SST-2", MetricKind::Accuracy),
    task("MRPC", MetricKind::F1Accuracy),
    task("STS-B", MetricKind::PearsonSpearman),
    task("QQP", MetricKind::F1Accuracy),
    task("MNLI", MetricKind::Accuracy),
    task("QNLI", MetricKind::Accuracy),
    task("RTE", MetricKind::Accuracy),
    task("WNLI", MetricKind::Accuracy),
];

const fn task(name: &'static str, metric: MetricKind) -> TaskInfo {
    TaskInfo { name, metric }
}

/// Looks a task up by name, ignoring case, `-` and `_`.
pub fn task_info(name: &str) -> Result<TaskInfo> {
    let key = normalise(name);
    TASKS
        .iter()
        .find(|t| normalise(t.name) == key)
        .copied()
        .ok_or_else(|| Error::UnknownTask {
            name: name.to_string(),
        })
}

fn normalise(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// A task's dev (or any labelled split's) metrics, as fractions. The JSON form is the
/// contract of `summary.json`, `metrics.jsonl` and `tinybert eval score --json`: keys
/// `accuracy`, `f1`, `matthews_corr`, `pearson`, `spearman` where the task has them, and
/// `score`, the task's selection score ([`Convention::Selection`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub f1: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matthews_corr: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pearson: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spearman: Option<f64>,
    /// The task's selection score (SPEC §6).
    pub score: f64,
}

impl TaskInfo {
    /// Whether the task is a regression (one output, float labels).
    pub fn is_regression(&self) -> bool {
        self.metric == MetricKind::PearsonSpearman
    }

    /// Scores a classification task from predicted and gold class ids. Every classification
    /// task reports accuracy; MRPC/QQP add F1, CoLA Matthews correlation.
    pub fn evaluate_classes(&self, predictions: &[u32], labels: &[u32]) -> Result<Scores> {
        if self.is_regression() {
            return Err(self.wrong_kind("classification"));
        }
        let mut s = empty_scores();
        s.accuracy = Some(metrics::accuracy(predictions, labels)?);
        match self.metric {
            MetricKind::F1Accuracy => s.f1 = Some(metrics::f1(predictions, labels)?),
            MetricKind::Matthews => {
                s.matthews_corr = Some(metrics::matthews_corr(predictions, labels)?)
            }
            MetricKind::Accuracy | MetricKind::PearsonSpearman => {}
        }
        s.score = self.score(&s, Convention::Selection)?;
        Ok(s)
    }

    /// Scores a regression task (STS-B) from predicted and gold values.
    pub fn evaluate_values<P, L>(&self, predictions: &[P], labels: &[L]) -> Result<Scores>
    where
        P: Copy + Into<f64>,
        L: Copy + Into<f64>,
    {
        if !self.is_regression() {
            return Err(self.wrong_kind("regression"));
        }
        let mut s = empty_scores();
        s.pearson = Some(metrics::pearson(predictions, labels)?);
        s.spearman = Some(metrics::spearman(predictions, labels)?);
        s.score = self.score(&s, Convention::Selection)?;
        Ok(s)
    }

    /// Combines `scores` into this task's single number under `convention`; an
    /// [`Error::MissingMetric`] when a metric it needs is absent.
    pub fn score(&self, scores: &Scores, convention: Convention) -> Result<f64> {
        let need = |value: Option<f64>, metric: &'static str| {
            value.ok_or_else(|| Error::MissingMetric {
                context: format!("{convention:?} score"),
                task: self.name,
                metric,
            })
        };
        let acc = || need(scores.accuracy, "accuracy");
        let f1 = || need(scores.f1, "f1");
        let pearson = || need(scores.pearson, "pearson");
        let spearman = || need(scores.spearman, "spearman");
        Ok(match (self.metric, convention) {
            (MetricKind::Accuracy, _) | (MetricKind::F1Accuracy, Convention::Selection) => acc()?,
            (MetricKind::F1Accuracy, Convention::Glue) => (f1()? + acc()?) / 2.0,
            (MetricKind::F1Accuracy, Convention::Paper) => f1()?,
            (MetricKind::Matthews, _) => need(scores.matthews_corr, "matthews_corr")?,
            (MetricKind::PearsonSpearman, Convention::Paper) => spearman()?,
            (MetricKind::PearsonSpearman, _) => (pearson()? + spearman()?) / 2.0,
        })
    }

    fn wrong_kind(&self, requested: &'static str) -> Error {
        Error::WrongTaskKind {
            task: self.name,
            actual: if self.is_regression() {
                "regression"
            } else {
                "classification"
            },
            requested,
        }
    }
}

fn empty_scores() -> Scores {
    Scores {
        accuracy: None,
        f1: None,
        matthews_corr: None,
        pearson: None,
        spearman: None,
        score: 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_ignores_case_dashes_and_underscores() {
        assert_eq!(task_info("sst2").unwrap().name, "SST-2");
        assert_eq!(task_info("STS_B").unwrap().name, "STS-B");
        assert_eq!(task_info("cola").unwrap().metric, MetricKind::Matthews);
        assert!(matches!(task_info("SQuAD"), Err(Error::UnknownTask { .. })));
    }

    #[test]
    fn mrpc_selects_on_accuracy_but_glue_averages_f1_and_accuracy() {
        let mrpc = task_info("MRPC").unwrap();
        // TP 2, FP 1, FN 1, TN 1: accuracy 0.6, F1 4/6.
        let s = mrpc
            .evaluate_classes(&[1, 1, 1, 0, 0], &[1, 1, 0, 1, 0])
            .unwrap();
        assert_eq!(s.score, 0.6);
        let glue = mrpc.score(&s, Convention::Glue).unwrap();
        assert!((glue - (0.6 + 4.0 / 6.0) / 2.0).abs() < 1e-12);
        assert!((mrpc.score(&s, Convention::Paper).unwrap() - 4.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn stsb_selection_is_mean_of_pearson_and_spearman_paper_is_spearman() {
        let stsb = task_info("STS-B").unwrap();
        let s = stsb
            .evaluate_values(&[1.0f32, 2.0, 3.0, 10.0], &[1.0f32, 2.0, 3.0, 4.0])
            .unwrap();
        let (p, r) = (s.pearson.unwrap(), s.spearman.unwrap());
        assert!((r - 1.0).abs() < 1e-12);
        assert!(p < 0.95);
        assert!((s.score - (p + r) / 2.0).abs() < 1e-12);
        assert_eq!(stsb.score(&s, Convention::Paper).unwrap(), r);
    }

    #[test]
    fn cola_scores_matthews_and_reports_accuracy() {
        let s = task_info("CoLA")
            .unwrap()
            .evaluate_classes(&[1, 1, 1, 1], &[1, 0, 1, 1])
            .unwrap();
        assert_eq!(s.matthews_corr, Some(0.0));
        assert_eq!(s.score, 0.0);
        assert_eq!(s.accuracy, Some(0.75));
    }

    #[test]
    fn regression_metrics_on_a_classification_task_are_an_error() {
        let rte = task_info("RTE").unwrap();
        assert!(matches!(
            rte.evaluate_values(&[0.5f32], &[1.0f32]),
            Err(Error::WrongTaskKind { task: "RTE", .. })
        ));
        let stsb = task_info("STS-B").unwrap();
        assert!(stsb.evaluate_classes(&[1], &[1]).is_err());
    }

    #[test]
    fn missing_metric_names_task_and_key() {
        let s = Scores {
            accuracy: Some(0.8),
            ..empty_scores()
        };
        let err = task_info("QQP")
            .unwrap()
            .score(&s, Convention::Glue)
            .unwrap_err();
        assert!(err.to_string().contains("QQP") && err.to_string().contains("`f1`"));
    }

    #[test]
    fn scores_json_uses_the_contract_keys_and_omits_absent_metrics() {
        let s = task_info("MRPC")
            .unwrap()
            .evaluate_classes(&[1, 0], &[1, 1])
            .unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(
            json,
            r#"{"accuracy":0.5,"f1":0.6666666666666666,"score":0.5}"#
        );
    }
}
