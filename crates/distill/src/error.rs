//! The distill crate's one error type.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(String),
    #[error("{path}: {msg}")]
    File { path: PathBuf, msg: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("non-finite loss ({loss}) at step {step}: training stopped; the last good checkpoint is kept in {checkpoint}")]
    NonFinite {
        step: usize,
        loss: f32,
        checkpoint: String,
    },
    #[error("interrupted at step {step}; checkpoint saved to {checkpoint}")]
    Interrupted { step: usize, checkpoint: String },
    #[error(transparent)]
    Model(#[from] tinybert_model::Error),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error(transparent)]
    Data(#[from] tinybert_data::Error),
    #[error(transparent)]
    Eval(#[from] tinybert_eval::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
