//! GLUE evaluation for TinyBERT (Jiao et al., 2020, §4 and SPEC §6-§8): metrics, task scores,
//! the run-folder contract trainers write, the paper's numbers, and reports that set our runs
//! beside the paper's tables.
//!
//! Entry points:
//! - [`metrics`]: [`metrics::accuracy`], [`metrics::f1`], [`metrics::matthews_corr`],
//!   [`metrics::pearson`], [`metrics::spearman`] on slices, matching scikit-learn/scipy.
//! - [`task_info`] -> [`TaskInfo`]: a task by name; [`TaskInfo::evaluate_classes`] /
//!   [`TaskInfo::evaluate_values`] give a task's [`Scores`] (with `score`, the SPEC §6 selection
//!   score), [`TaskInfo::score`] combines them under a [`Convention`]; [`glue_average`].
//! - [`run`]: `summary.json` ([`Summary`]) and `metrics.jsonl` ([`StepRecord`],
//!   [`MetricsWriter`]) — the contract between trainers and reports.
//! - [`PaperNumbers::load`]: Table 1 and the dev-set ablations of the paper.
//! - [`report`]: [`ReportSpec`] (a `REPORT.toml` or a list of run folders) and
//!   [`write_report`] -> `report.md`, `report.csv` and SVG charts.

pub mod error;
pub mod glue;
pub mod metrics;
pub mod paper;
pub mod report;
pub mod run;
pub mod task;

pub use error::{Error, Result};
pub use glue::{glue_average, EvalSet, GlueColumn, ABLATION_COLUMNS, TABLE1_COLUMNS};
pub use paper::{PaperNumbers, PaperRow, PaperTable};
pub use report::{write_report, Layout, ReportSpec, RowSpec};
pub use run::{MetricsWriter, Run, StepRecord, Summary, METRICS_FILE, SUMMARY_FILE};
pub use task::{task_info, Convention, MetricKind, Scores, TaskInfo, TASKS};
