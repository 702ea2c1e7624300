//! One split's predictions in the task's own terms: class ids (classification) or values
//! (STS-B), and their scoring against gold labels.

use tinybert_data::{Label, Task};

use crate::error::{Error, Result};
use crate::predict::Predictions;
use crate::scoring;
use tinybert_run::Scores;

/// Predictions of one split, in example order: class ids, or regression values of width `V`.
#[derive(Debug, Clone, PartialEq)]
pub enum Column<V> {
    /// Class ids: indices into [`Task::labels`].
    Classes(Vec<u32>),
    /// Regression outputs (STS-B).
    Values(Vec<V>),
}

/// A model's predictions: regression outputs as the model computes them (`f32`).
pub type PredictionColumn = Column<f32>;

impl PredictionColumn {
    /// The model's answer per example: arg-max class, or the single output of a regression.
    pub fn from_predictions(task: Task, predictions: &Predictions) -> Self {
        if task.is_regression() {
            Column::Values(predictions.values())
        } else {
            Column::Classes(predictions.classes())
        }
    }
}

impl<V: Copy + Into<f64>> Column<V> {
    /// Number of examples.
    pub fn len(&self) -> usize {
        match self {
            Column::Classes(c) => c.len(),
            Column::Values(v) => v.len(),
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
            Column::Classes(p) => {
                scoring::evaluate_classes(task, p, &gold_column(task, gold, source, Label::class)?)
            }
            Column::Values(p) => {
                scoring::evaluate_values(task, p, &gold_column(task, gold, source, Label::score)?)
            }
        }
    }
}

/// The gold labels as `pick` reads them (class ids or scores); the first label `pick` rejects
/// is an error naming its index and `source`.
fn gold_column<T>(
    task: Task,
    gold: &[Label],
    source: &str,
    pick: fn(Label) -> Option<T>,
) -> Result<Vec<T>> {
    gold.iter()
        .enumerate()
        .map(|(i, label)| pick(*label).ok_or_else(|| not_gold(task, i, label, source)))
        .collect()
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
    use tinybert_testkit::assert_mentions;

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
        assert_mentions(&msg, &["preds.tsv", "gold label 1"]);
        let ok = p
            .score(Task::RTE, &[Label::Class(1), Label::Class(1)], "p")
            .unwrap();
        assert_eq!(ok.accuracy, Some(0.5));
    }
}
