//! Running a classifier over a tokenised GLUE split and scoring it: the one implementation used
//! by `tinybert eval glue` and by every trainer's dev evaluation.

use crate::error::{Error, Result};
use crate::scoring;
use candle_core::Device;
use tinybert_data::{logits_in_order, Example, Label, Task};
use tinybert_model::Model;
use tinybert_run::Scores;

/// Model outputs for every example, in input order: class logits, or one value (regression).
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    pub logits: Vec<Vec<f32>>,
}

impl Predictions {
    /// Arg-max class per example.
    pub fn classes(&self) -> Vec<u32> {
        self.logits
            .iter()
            .map(|l| {
                l.iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .map_or(0, |(i, _)| i as u32)
            })
            .collect()
    }

    /// The first output per example (regression).
    pub fn values(&self) -> Vec<f32> {
        self.logits
            .iter()
            .map(|l| l.first().copied().unwrap_or(f32::NAN))
            .collect()
    }
}

/// Runs `model` (with its classifier, in eval mode) over `examples`, `batch_size` at a time,
/// sorted by length so that little padding is computed; outputs come back in input order.
pub fn predict(
    model: &Model,
    examples: &[Example],
    batch_size: usize,
    pad_id: u32,
    device: &Device,
) -> Result<Predictions> {
    let logits = logits_in_order(model, examples, batch_size, pad_id, device)?;
    Ok(Predictions { logits })
}

/// Scores predictions against the examples' gold labels.
pub fn score(task: Task, predictions: &Predictions, examples: &[Example]) -> Result<Scores> {
    if task.is_regression() {
        let gold = examples
            .iter()
            .map(|e| e.label.score().ok_or_else(|| unlabelled(task, e)))
            .collect::<Result<Vec<f32>>>()?;
        scoring::evaluate_values(task, &predictions.values(), &gold)
    } else {
        let gold = examples
            .iter()
            .map(|e| e.label.class().ok_or_else(|| unlabelled(task, e)))
            .collect::<Result<Vec<u32>>>()?;
        scoring::evaluate_classes(task, &predictions.classes(), &gold)
    }
}

fn unlabelled(task: Task, e: &Example) -> Error {
    let what = if e.label == Label::None {
        "no label"
    } else {
        "a label of the wrong kind"
    };
    Error::invalid(
        std::path::PathBuf::new(),
        format!("{} example {}", task.name(), e.guid),
        format!("has {what}; scoring needs a labelled split"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_the_arg_max_and_values_the_first_output() {
        let p = Predictions {
            logits: vec![vec![0.1, 0.7, 0.2], vec![2.0, -1.0, 0.0]],
        };
        assert_eq!(p.classes(), vec![1, 0]);
        assert_eq!(p.values(), vec![0.1, 2.0]);
    }
}
