//! The data crate's one error type: every variant names the file (and line) at fault.

use std::path::{Path, PathBuf};
use tinybert_model::FileError;

/// Errors from reading GLUE files and corpora, tokenising, and Parquet I/O.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened, read or written.
    #[error(transparent)]
    Io(FileError<std::io::Error>),
    /// A malformed input row: wrong column count, unknown label, bad number, invalid UTF-8.
    #[error("{path}:{line}: {msg}")]
    Row {
        path: PathBuf,
        /// 1-based line number in the file (the header, if any, is line 1).
        line: usize,
        msg: String,
    },
    /// The file's header does not have the columns the task needs.
    #[error("{path}: header: {msg}")]
    Header { path: PathBuf, msg: String },
    /// Tokenisation failed.
    #[error("tokenizer: {0}")]
    Tokenize(String),
    /// Parquet encoding or decoding failed.
    #[error("{path}: parquet: {source}")]
    Parquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// Arrow array construction or conversion failed.
    #[error("{path}: arrow: {source}")]
    Arrow {
        path: PathBuf,
        #[source]
        source: arrow::error::ArrowError,
    },
    /// An input with nothing to use (an empty or all-blank corpus); `path` names it.
    #[error("{path}: {msg}")]
    Input { path: PathBuf, msg: String },
    /// A Parquet file is not a dataset of the expected kind, schema version or tokenizer.
    #[error("{path}: {msg}")]
    Schema { path: PathBuf, msg: String },
    /// A JSON file could not be written or parsed.
    #[error("{path}: JSON: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// An error from the model crate (loading the tokenizer).
    #[error(transparent)]
    Model(#[from] tinybert_model::Error),
    /// An error building tensors from a batch.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// An invalid argument or option.
    #[error("{0}")]
    Invalid(String),
    /// The caller's stop flag was set (Ctrl-C) before the work was done.
    #[error("interrupted after {done} of {total} items")]
    Interrupted { done: usize, total: usize },
}

/// Result alias of the data crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io(FileError::new(path, None, source))
    }

    pub(crate) fn row(path: &Path, line: usize, msg: impl Into<String>) -> Self {
        Error::Row {
            path: path.to_path_buf(),
            line,
            msg: msg.into(),
        }
    }

    /// A Parquet failure on `path` (the eval crate reports its own as these too).
    pub fn parquet(path: &Path, source: parquet::errors::ParquetError) -> Self {
        Error::Parquet {
            path: path.to_path_buf(),
            source,
        }
    }

    /// An Arrow failure on `path` (the eval crate reports its own as these too).
    pub fn arrow(path: &Path, source: arrow::error::ArrowError) -> Self {
        Error::Arrow {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn schema(path: &Path, msg: impl Into<String>) -> Self {
        Error::Schema {
            path: path.to_path_buf(),
            msg: msg.into(),
        }
    }
}
