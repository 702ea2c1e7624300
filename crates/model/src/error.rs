//! The model crate's one error type: every variant names the file, tensor or key at fault.

use std::path::PathBuf;

/// Errors from configs, checkpoints, tokenizers and model computation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
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
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
