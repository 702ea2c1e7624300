//! The run crate's one error type: every variant names the file (and line or key) at fault.

use std::path::PathBuf;
use tinybert_model::FileError;

/// Errors reading or writing a run folder, and from a dev evaluation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error(transparent)]
    Io(FileError<std::io::Error>),
    /// A JSON file or JSON Lines record did not parse or did not match the contract.
    #[error(transparent)]
    Json(FileError<serde_json::Error>),
    /// A file parsed but its content breaks the contract; `key` says where.
    #[error("{path}: {key}: {message}")]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
    /// Writing through the model crate's atomic-write helpers failed.
    #[error(transparent)]
    Model(#[from] tinybert_model::Error),
    /// A [`crate::DevEval`] implementation failed (its own error, boxed).
    #[error(transparent)]
    Evaluation(Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// Result alias of the run crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io(FileError::new(path, None, source))
    }

    /// A JSON failure on `path` (at `line` of a JSON Lines file).
    pub fn json(path: impl Into<PathBuf>, line: Option<usize>, source: serde_json::Error) -> Self {
        Self::Json(FileError::new(path, line, source))
    }

    /// A file whose content breaks its contract at `key` (the eval crate reports its own
    /// invalid files as these too).
    pub fn invalid(
        path: impl Into<PathBuf>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Error::Invalid {
            path: path.into(),
            key: key.into(),
            message: message.into(),
        }
    }
}
