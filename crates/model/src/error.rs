//! The model crate's one error type: every variant names the file, tensor or key at fault; and
//! [`FileError`], the failure about one file that every crate's error type reports I/O in.

use std::path::PathBuf;

/// A failure about one file, after its path and, when known, its 1-based line:
/// `{path}[:{line}]: {source}`. Each crate's `Error` holds its I/O failures as one (and the run
/// and eval crates their JSON ones), built by that crate's `Error::io`.
#[derive(Debug, thiserror::Error)]
#[error("{path}{}: {source}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct FileError<E> {
    pub path: PathBuf,
    pub line: Option<usize>,
    #[source]
    pub source: E,
}

impl<E> FileError<E> {
    /// `source` about the file `path` (at `line`, when known).
    pub fn new(path: impl Into<PathBuf>, line: Option<usize>, source: E) -> Self {
        Self {
            path: path.into(),
            line,
            source,
        }
    }
}

/// Errors from configs, checkpoints, tokenizers and model computation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened, read or written.
    #[error(transparent)]
    Io(FileError<std::io::Error>),
    #[error("{path}: invalid JSON: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: invalid config: {msg}")]
    Config { path: PathBuf, msg: String },
    #[error("{path}: cannot read weights: {msg}")]
    Checkpoint { path: PathBuf, msg: String },
    #[error("{path}: missing tensor `{name}` (the checkpoint does not match this architecture)")]
    MissingTensor { path: PathBuf, name: String },
    #[error("{path}: tensor `{name}` has shape {got:?}, the config implies {expected:?}")]
    ShapeMismatch {
        path: PathBuf,
        name: String,
        expected: Vec<usize>,
        got: Vec<usize>,
    },
    #[error("{path}: no model weights found (looked for model.safetensors, model.safetensors.index.json, pytorch_model.bin)")]
    NoWeights { path: PathBuf },
    #[error(
        "model `{id}` is neither a local folder nor resolvable on the Hugging Face hub: {msg}"
    )]
    Hub { id: String, msg: String },
    #[error("{path}: tokenizer: {msg}")]
    Tokenizer { path: PathBuf, msg: String },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Result alias of the model crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io(FileError::new(path, None, source))
    }
}
