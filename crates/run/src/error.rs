//! The run crate's one error type: every variant names the file (and line or key) at fault.

use std::path::PathBuf;

/// Errors reading or writing a run folder, and from a dev evaluation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A JSON file or JSON Lines record did not parse or did not match the contract.
    #[error("{path}{}: {source}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Json {
        path: PathBuf,
        line: Option<usize>,
        #[source]
        source: serde_json::Error,
    },
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
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn json(
        path: impl Into<PathBuf>,
        line: Option<usize>,
        source: serde_json::Error,
    ) -> Self {
        Error::Json {
            path: path.into(),
            line,
            source,
        }
    }

    pub(crate) fn invalid(
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
