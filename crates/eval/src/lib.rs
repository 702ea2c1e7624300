//! GLUE evaluation for TinyBERT (Jiao et al., 2020, §4 and SPEC §6-§8): metrics, task scores,
//! the run-folder contract trainers write, the paper's numbers, and reports that set our runs
//! beside the paper's tables.
//!
//! Entry points:
//! - [`metrics`]: [`metrics::accuracy`], [`metrics::f1`], [`metrics::matthews_corr`],
//!   [`metrics::pearson`], [`metrics::spearman`] on slices, matching scikit-learn/scipy.
//! - [`scoring`]: [`scoring::evaluate_classes`] / [`scoring::evaluate_values`] give a task's
//!   [`Scores`] (with `score`, the SPEC §6 selection score; the task, its labels and metric are
//!   the data crate's [`tinybert_data::Task`]), [`scoring::combine`] combines them under a
//!   [`Convention`]; [`glue_average`]. Run folders (`summary.json`, `metrics.jsonl`) are the run
//!   crate's ([`tinybert_run`]).
//! - [`DevSet`]: a tokenised dev set as the trainers' [`tinybert_run::DevEval`] (prediction,
//!   metrics and the majority baseline).
//! - [`PaperNumbers::load`]: Table 1 and the dev-set ablations of the paper.
//! - [`report`]: [`ReportSpec`] (a `REPORT.toml` or a list of run folders) and
//!   [`write_report`] -> `report.md`, `report.csv` and SVG charts.
//! - [`evaluate_glue`]: a fine-tuned model on a GLUE split -> `metrics.json`, per-example
//!   predictions ([`predictions_file`]) and, on test splits, the leaderboard file
//!   ([`leaderboard`]); [`score_prediction_file`] scores any `index\tprediction` file against
//!   a split's gold labels; [`write_submission`] zips the leaderboard files of several runs.
//! - [`predict_table`]: a classifier over one's own table file (CSV, TSV, JSON Lines, Parquet)
//!   -> labels and class probabilities (or scores) in input order ([`infer`]).

pub mod classifier;
pub mod column;
pub mod dev;
pub mod error;
pub mod evaluate;
pub mod glue;
pub mod infer;
pub mod leaderboard;
pub mod metrics;
pub mod paper;
pub mod predict;
pub mod predictions_file;
pub mod report;
pub mod score_file;
pub mod scoring;
pub mod submission;

pub use classifier::{check_classes, load_classifier};
pub use column::{Column, PredictionColumn};
pub use dev::DevSet;
pub use error::{Error, Result};
pub use evaluate::{evaluate_glue, EvalData, EvalOptions, EvalResult, SplitResult, METRICS_JSON};
pub use glue::{glue_average, EvalSet, GlueColumn, ABLATION_COLUMNS, TABLE1_COLUMNS};
pub use infer::{predict_table, PredictOptions, PredictOutcome};
pub use leaderboard::{leaderboard_file, write_leaderboard, LeaderboardFile, LEADERBOARD_FILES};
pub use paper::{PaperNumbers, PaperRow, PaperTable};
pub use predict::{predict, score, Predictions};
pub use predictions_file::{read_predictions, write_predictions, PredictionTable};
pub use report::{write_report, Layout, ReportSpec, RowSpec};
pub use score_file::{
    read_prediction_file, score_prediction_file, FileColumn, FileScore, PredictionFile,
};
pub use scoring::Convention;
pub use submission::{write_submission, Submission};
pub use tinybert_run::Scores;
