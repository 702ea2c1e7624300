//! One split's predictions in the task's own terms: class ids (classification) or values
//! (STS-B), and their scoring against gold labels.

use tinybert_data::{Label, Task};

use crate::error::{Error, Result};
use crate::predict::Predictions;
use crate::scoring;
use tinybert_run::Scores;

/// Predictions of one split, in example order.
#[derive(Debug, Clone, PartialEq)]
pub enum PredictionColumn {
    /// Class ids: indices into [`Task::labels`].
    Classes(Vec<u32>),
    /// Regression outputs (STS-B).
    Values(Vec<f32>),
}

impl PredictionColumn {
    /// The model's answer per example: arg-max class, or the single output of a regression.
    pub fn from_predictions(task: Task, predictions: &Predictions) -> Self {
        if task.is_regression() {
            PredictionColumn::Values(predictions.values())
        } else {
            PredictionColumn::Classes(predictions.classes())
        }
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        match self {
            PredictionColumn::Classes(c) => c.len(),
            PredictionColumn::Values(v) => v.len(),
        }
    }

    /// True when there are no predictions.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Scores against the gold labels of the same examples (same order); `source` names the
    /// predictions in errors.
    pub fn score(&self, task: Task, gold: &[Label], source: &str) -> Result<Scores> {
        match self {
            PredictionColumn::Classes(p) => score_classes(task, p, gold, source),
            PredictionColumn::Values(p) => score_values(task, p, gold, source),
        }
    }
}

/// Scores class ids against gold labels (same order); `source` names the predictions in
/// errors.
pub fn score_classes(
    task: Task,
    predictions: &[u32],
    gold: &[Label],
    source: &str,
) -> Result<Scores> {
    let mut g = Vec::with_capacity(gold.len());
    for (i, label) in gold.iter().enumerate() {
        match label {
            Label::Class(c) => g.push(*c),
            other => return Err(not_gold(task, i, other, source)),
        }
    }
    scoring::evaluate_classes(task, predictions, &g)
}

/// Scores regression values (any float width: prediction files are read as `f64`) against
/// gold scores (same order); `source` names the predictions in errors.
pub fn score_values<P: Copy + Into<f64>>(
    task: Task,
    predictions: &[P],
    gold: &[Label],
    source: &str,
) -> Result<Scores> {
    let mut g = Vec::with_capacity(gold.len());
    for (i, label) in gold.iter().enumerate() {
        match label {
            Label::Score(s) => g.push(*s),
            other => return Err(not_gold(task, i, other, source)),
        }
    }
    scoring::evaluate_values(task, predictions, &g)
}

fn not_gold(task: Task, i: usize, label: &Label, source: &str) -> Error {
    let kind = if task.is_regression() {
        "regression"
    } else {
        "class"
    };
    Error::invalid(
        source,
        format!("gold label {i}"),
        format!("{label:?} is not a {kind} label"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_takes_the_arg_max_and_regression_the_first_output() {
        let p = Predictions {
            logits: vec![vec![0.2, 0.9], vec![1.5, -1.0]],
        };
        assert_eq!(
            PredictionColumn::from_predictions(Task::RTE, &p),
            PredictionColumn::Classes(vec![1, 0])
        );
        assert_eq!(
            PredictionColumn::from_predictions(Task::STSB, &p),
            PredictionColumn::Values(vec![0.2, 1.5])
        );
    }

    #[test]
    fn scoring_against_gold_of_the_wrong_kind_names_the_example() {
        let p = PredictionColumn::Classes(vec![1, 0]);
        let gold = [Label::Class(1), Label::None];
        let err = p.score(Task::RTE, &gold, "preds.tsv").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("preds.tsv") && msg.contains("gold label 1"),
            "{msg}"
        );
        let ok = p
            .score(Task::RTE, &[Label::Class(1), Label::Class(1)], "p")
            .unwrap();
        assert_eq!(ok.accuracy, Some(0.5));
    }
}
