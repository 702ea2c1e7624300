//! The eval crate's one error type: every variant names the input, file or key at fault.

use std::path::PathBuf;
use tinybert_model::FileError;

/// Errors from metrics, run folders, the paper's tables and report rendering.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Predictions and labels (or the two sides of a correlation) differ in length.
    #[error("{metric}: {left} predictions but {right} labels")]
    LengthMismatch {
        metric: &'static str,
        left: usize,
        right: usize,
    },
    /// A metric was asked for on zero examples.
    #[error("{metric}: no examples")]
    Empty { metric: &'static str },
    /// F1 with positive class 1 got a class id other than 0 or 1.
    #[error("{metric}: {side}[{index}] = {value}, but the metric needs binary classes 0/1")]
    NotBinary {
        metric: &'static str,
        side: &'static str,
        index: usize,
        value: u32,
    },
    /// A regression value was NaN or infinite.
    #[error("{metric}: {side}[{index}] = {value} is not finite")]
    NonFinite {
        metric: &'static str,
        side: &'static str,
        index: usize,
        value: f64,
    },
    /// Classification metrics asked of a regression task or the reverse.
    #[error("task {task} is {actual}, not {requested}")]
    WrongTaskKind {
        task: &'static str,
        actual: &'static str,
        requested: &'static str,
    },
    /// A score needs a metric the scores do not carry.
    #[error("{context}: task {task} needs `{metric}`, which is missing")]
    MissingMetric {
        context: String,
        task: &'static str,
        metric: &'static str,
    },
    /// A column name that is not one of the GLUE table columns.
    #[error("unknown GLUE column `{name}` (known: {known})")]
    UnknownColumn { name: String, known: String },
    /// The GLUE average was given a column twice or not at all.
    #[error("GLUE average: column {column} is {problem}")]
    AverageColumns {
        column: &'static str,
        problem: &'static str,
    },
    /// A file could not be read or written.
    #[error(transparent)]
    Io(FileError<std::io::Error>),
    /// A TOML file did not parse or did not match its schema.
    #[error("{path}: {source}")]
    Toml {
        path: PathBuf,
        #[source]
        source: Box<toml::de::Error>,
    },
    /// Running the model failed.
    #[error(transparent)]
    Model(#[from] tinybert_model::Error),
    /// Reading or batching a dataset, or encoding or decoding a Parquet file, failed.
    #[error(transparent)]
    Data(#[from] tinybert_data::Error),
    /// Reading or writing a run folder failed, or a file parsed but its content is inconsistent
    /// ([`tinybert_run::Error::Invalid`], built by [`Error::invalid`]).
    #[error(transparent)]
    Run(#[from] tinybert_run::Error),
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// A malformed row of a text file (a prediction file); `line` is 1-based.
    #[error("{path}:{line}: {message}")]
    Row {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// The model has no sequence-classification head to evaluate.
    #[error(
        "model {dir} has no classifier head (no `classifier.*` tensors): use a model \
         fine-tuned or distilled on a task"
    )]
    NoClassifier { dir: PathBuf },
    /// The model's classes are not the task's classes in the task's order.
    #[error("model {dir}: {message}")]
    LabelOrder { dir: PathBuf, message: String },
    /// Writing or reading a zip archive failed.
    #[error("{path}: zip: {source}")]
    Zip {
        path: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
    /// Drawing an SVG chart failed.
    #[error("chart {path}: {message}")]
    Chart { path: PathBuf, message: String },
}

/// Result alias of the eval crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io(FileError::new(path, None, source))
    }

    pub(crate) fn row(path: impl Into<PathBuf>, line: usize, message: impl Into<String>) -> Self {
        Error::Row {
            path: path.into(),
            line,
            message: message.into(),
        }
    }

    pub(crate) fn invalid(
        path: impl Into<PathBuf>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::Run(tinybert_run::Error::invalid(path, key, message))
    }
}

/// A dev evaluation's error as the run crate's ([`tinybert_run::DevEval`] returns those).
impl From<Error> for tinybert_run::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Run(inner) => inner,
            other => tinybert_run::Error::Evaluation(Box::new(other)),
        }
    }
}
