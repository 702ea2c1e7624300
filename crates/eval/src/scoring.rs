//! A task's metrics from predictions and gold labels, and how they combine into one number
//! (the selection score of SPEC §6, the GLUE score, the paper's table cell). Which metrics a
//! task reports is a fact of the task ([`Task::metric`]); the values are [`Scores`].

use serde::{Deserialize, Serialize};
use tinybert_data::{MetricKind, Task};
use tinybert_run::Scores;

use crate::error::{Error, Result};
use crate::metrics;

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

/// Scores a classification task from predicted and gold class ids. Every classification task
/// reports accuracy; F1 tasks (MRPC, QQP) add F1 of class 1, Matthews tasks (CoLA) the Matthews
/// correlation.
pub fn evaluate_classes(task: Task, predictions: &[u32], labels: &[u32]) -> Result<Scores> {
    if task.is_regression() {
        return Err(wrong_kind(task, "classification"));
    }
    let mut s = Scores::empty();
    s.accuracy = Some(metrics::accuracy(predictions, labels)?);
    match task.metric() {
        MetricKind::F1Accuracy => s.f1 = Some(metrics::f1(predictions, labels)?),
        MetricKind::Matthews => {
            s.matthews_corr = Some(metrics::matthews_corr(predictions, labels)?)
        }
        MetricKind::Accuracy | MetricKind::PearsonSpearman => {}
    }
    s.score = combine(task, &s, Convention::Selection)?;
    Ok(s)
}

/// Scores a regression task (STS-B) from predicted and gold values.
pub fn evaluate_values<P, L>(task: Task, predictions: &[P], labels: &[L]) -> Result<Scores>
where
    P: Copy + Into<f64>,
    L: Copy + Into<f64>,
{
    if !task.is_regression() {
        return Err(wrong_kind(task, "regression"));
    }
    let mut s = Scores::empty();
    s.pearson = Some(metrics::pearson(predictions, labels)?);
    s.spearman = Some(metrics::spearman(predictions, labels)?);
    s.score = combine(task, &s, Convention::Selection)?;
    Ok(s)
}

/// The scores of the trivial predictor against `gold` class ids: the most frequent class
/// (ties: the lowest id) predicted for every example.
pub fn majority_baseline(task: Task, gold: &[u32]) -> Result<Scores> {
    let mut counts = vec![0usize; task.num_labels()];
    for &g in gold {
        if let Some(c) = counts.get_mut(g as usize) {
            *c += 1;
        }
    }
    let majority = counts
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))
        .map_or(0, |(i, _)| i as u32);
    evaluate_classes(task, &vec![majority; gold.len()], gold)
}

/// The scores of a constant prediction on a regression task: its correlations with any gold
/// values are 0 by definition (the formulas divide by its zero variance).
pub fn constant_baseline(task: Task) -> Result<Scores> {
    if !task.is_regression() {
        return Err(wrong_kind(task, "regression"));
    }
    let mut s = Scores::empty();
    s.pearson = Some(0.0);
    s.spearman = Some(0.0);
    s.score = combine(task, &s, Convention::Selection)?;
    Ok(s)
}

/// Combines `scores` into `task`'s single number under `convention`; an
/// [`Error::MissingMetric`] when a metric it needs is absent.
pub fn combine(task: Task, scores: &Scores, convention: Convention) -> Result<f64> {
    let need = |value: Option<f64>, metric: &'static str| {
        value.ok_or_else(|| Error::MissingMetric {
            context: format!("{convention:?} score"),
            task: task.name(),
            metric,
        })
    };
    let acc = || need(scores.accuracy, "accuracy");
    let f1 = || need(scores.f1, "f1");
    let pearson = || need(scores.pearson, "pearson");
    let spearman = || need(scores.spearman, "spearman");
    Ok(match (task.metric(), convention) {
        (MetricKind::Accuracy, _) | (MetricKind::F1Accuracy, Convention::Selection) => acc()?,
        (MetricKind::F1Accuracy, Convention::Glue) => (f1()? + acc()?) / 2.0,
        (MetricKind::F1Accuracy, Convention::Paper) => f1()?,
        (MetricKind::Matthews, _) => need(scores.matthews_corr, "matthews_corr")?,
        (MetricKind::PearsonSpearman, Convention::Paper) => spearman()?,
        (MetricKind::PearsonSpearman, _) => (pearson()? + spearman()?) / 2.0,
    })
}

fn wrong_kind(task: Task, requested: &'static str) -> Error {
    Error::WrongTaskKind {
        task: task.name(),
        actual: if task.is_regression() {
            "regression"
        } else {
            "classification"
        },
        requested,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mrpc_selects_on_accuracy_but_glue_averages_f1_and_accuracy() {
        // TP 2, FP 1, FN 1, TN 1: accuracy 0.6, F1 4/6.
        let s = evaluate_classes(Task::MRPC, &[1, 1, 1, 0, 0], &[1, 1, 0, 1, 0]).unwrap();
        assert_eq!(s.score, 0.6);
        let glue = combine(Task::MRPC, &s, Convention::Glue).unwrap();
        assert!((glue - (0.6 + 4.0 / 6.0) / 2.0).abs() < 1e-12);
        assert!((combine(Task::MRPC, &s, Convention::Paper).unwrap() - 4.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn stsb_selection_is_mean_of_pearson_and_spearman_paper_is_spearman() {
        let s = evaluate_values(
            Task::STSB,
            &[1.0f32, 2.0, 3.0, 10.0],
            &[1.0f32, 2.0, 3.0, 4.0],
        )
        .unwrap();
        let (p, r) = (s.pearson.unwrap(), s.spearman.unwrap());
        assert!((r - 1.0).abs() < 1e-12);
        assert!(p < 0.95);
        assert!((s.score - (p + r) / 2.0).abs() < 1e-12);
        assert_eq!(combine(Task::STSB, &s, Convention::Paper).unwrap(), r);
    }

    #[test]
    fn cola_scores_matthews_and_reports_accuracy() {
        let s = evaluate_classes(Task::COLA, &[1, 1, 1, 1], &[1, 0, 1, 1]).unwrap();
        assert_eq!(s.matthews_corr, Some(0.0));
        assert_eq!(s.score, 0.0);
        assert_eq!(s.accuracy, Some(0.75));
    }

    #[test]
    fn regression_metrics_on_a_classification_task_are_an_error() {
        assert!(matches!(
            evaluate_values(Task::RTE, &[0.5f32], &[1.0f32]),
            Err(Error::WrongTaskKind { task: "RTE", .. })
        ));
        assert!(evaluate_classes(Task::STSB, &[1], &[1]).is_err());
    }

    #[test]
    fn missing_metric_names_task_and_key() {
        let s = Scores {
            accuracy: Some(0.8),
            ..Scores::empty()
        };
        let err = combine(Task::QQP, &s, Convention::Glue).unwrap_err();
        assert!(err.to_string().contains("QQP") && err.to_string().contains("`f1`"));
    }

    #[test]
    fn the_majority_baseline_predicts_the_most_frequent_class() {
        // RTE: 3 of 5 are class 1 (not_entailment).
        let s = majority_baseline(Task::RTE, &[1, 0, 1, 1, 0]).unwrap();
        assert_eq!((s.accuracy, s.score), (Some(0.6), 0.6));
        // CoLA: a constant prediction has Matthews correlation 0.
        let s = majority_baseline(Task::COLA, &[1, 1, 0]).unwrap();
        assert_eq!(s.score, 0.0);
        // MRPC: all-positive F1 is 2p/(1+p); ties go to the lower class id.
        let s = majority_baseline(Task::MRPC, &[1, 1, 1, 0]).unwrap();
        assert!((s.f1.unwrap() - 2.0 * 0.75 / 1.75).abs() < 1e-12);
        assert_eq!(
            majority_baseline(Task::SST2, &[0, 1]).unwrap().accuracy,
            Some(0.5)
        );
        let s = constant_baseline(Task::STSB).unwrap();
        assert_eq!(
            (s.pearson, s.spearman, s.score),
            (Some(0.0), Some(0.0), 0.0)
        );
        assert!(constant_baseline(Task::RTE).is_err());
    }
}
