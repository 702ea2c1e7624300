//! The distill crate's one error type: every variant names the file, key, step or parameter at
//! fault.

use std::path::PathBuf;
use tinybert_model::FileError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An invalid setting or combination of inputs.
    #[error("{0}")]
    Config(String),
    /// A file whose content is wrong.
    #[error("{path}: {msg}")]
    File { path: PathBuf, msg: String },
    #[error(transparent)]
    Io(FileError<std::io::Error>),
    /// A NaN or infinite loss, gradient or parameter: the run stopped without saving anything
    /// after the step.
    #[error("non-finite {what} at step {step}: training stopped; {checkpoint}")]
    NonFinite {
        /// The 1-based optimizer step.
        step: usize,
        /// `loss (NaN)`, ``gradient of `name` (norm inf)``, ``parameter `name` ``.
        what: String,
        /// Where the last finite checkpoint is, or that there is none.
        checkpoint: String,
    },
    /// A gradient that is NaN or infinite, from [`crate::BertAdam::step`] (nothing updated).
    #[error("non-finite gradient of `{param}` (norm {norm}): no parameter was updated")]
    NonFiniteGradient { param: String, norm: f64 },
    /// The teacher guardrail of task distillation.
    #[error(
        "{task}: the teacher scores {teacher:.4} on {dev}, not clearly above the majority-class \
         baseline {baseline:.4} (at least {needed:.4} is needed: the baseline plus the larger of \
         teacher_margin {margin} and teacher_margin_se {k} standard errors of {examples} dev \
         examples, {k} x {se:.4}); fine-tune the teacher further, or set force_weak_teacher \
         (--force-weak-teacher) to distil from a teacher that may be no better than the \
         majority class"
    )]
    WeakTeacher {
        task: String,
        dev: String,
        teacher: f64,
        baseline: f64,
        margin: f64,
        k: f64,
        examples: usize,
        se: f64,
        needed: f64,
    },
    /// The teacher's label names are not the task's (task distillation).
    #[error(
        "teacher {teacher}: {message}; fine-tune the teacher on this task's data, or set \
         force_label_order (--force-label-order) to take the teacher's class i as the task's \
         label i"
    )]
    TeacherLabels { teacher: String, message: String },
    #[error("interrupted at step {step}; checkpoint saved to {checkpoint}")]
    Interrupted { step: usize, checkpoint: String },
    #[error(transparent)]
    Model(#[from] tinybert_model::Error),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error(transparent)]
    Data(#[from] tinybert_data::Error),
    /// Run-folder files and dev evaluation.
    #[error(transparent)]
    Run(#[from] tinybert_run::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io(FileError::new(path, None, source))
    }
}
