//! The dev evaluation a trainer calls: scores of a model on a task's dev set, and that dev set's
//! trivial baseline. The eval crate implements it (prediction and metrics); the distill crate
//! calls it (best-checkpoint selection, the teacher guardrail); neither depends on the other.

use tinybert_model::Model;

use crate::error::Result;
use crate::scores::Scores;

/// Evaluation on one labelled dev set of one task.
pub trait DevEval {
    /// The task's name (as in `summary.json`).
    fn task(&self) -> &str;

    /// What is evaluated, for messages (e.g. `RTE dev (runs/glue/dev)`).
    fn describe(&self) -> String;

    /// The number of labelled examples in the dev set (how precise its scores are).
    fn examples(&self) -> usize;

    /// The scores of `model` (its classifier, in eval mode) on the dev set.
    fn evaluate(&mut self, model: &Model) -> Result<Scores>;

    /// The scores of the trivial predictor on the dev set: the majority class for a
    /// classification (ties: the lowest class id), a constant for a regression (whose
    /// correlations are 0 by definition).
    fn baseline(&self) -> Result<Scores>;
}
