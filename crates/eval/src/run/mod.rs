//! The run-folder contract: what a trainer or evaluator writes so that reports can read it.
//!
//! A run folder holds one model trained or evaluated on one task:
//!
//! - `summary.json`, the final numbers ([`Summary`]):
//!   ```json
//!   {"task": "RTE", "model": "tinybert-4L-312", "params": 14350874,
//!    "speedup": 9.4, "step": 1200,
//!    "dev": {"accuracy": 0.664, "score": 0.664}, "score": 0.664}
//!   ```
//!   `task` is a GLUE task name ([`crate::task_info`]); `model` the model's label (runs with the
//!   same `model` form one report row under `--runs`); `params` its parameter count; `dev` the
//!   dev scores of the kept checkpoint as a [`Scores`] object (fractions, keys `accuracy`,
//!   `f1`, `matthews_corr`, `pearson`, `spearman` as the task has them, and `score`, the
//!   selection score of SPEC §6); top-level `score` repeats `dev.score`. Optional: `speedup`
//!   (measured inference speed-up over the teacher), `step` (step of the kept checkpoint),
//!   `dev_mismatched` (MNLI: scores on `dev_mismatched.tsv`; `dev` is matched). Other keys are
//!   kept and ignored.
//! - `metrics.jsonl`, one JSON object per logged step ([`StepRecord`]):
//!   ```json
//!   {"step": 100, "epoch": 0.4, "lr": 4.5e-5, "loss": 0.71}
//!   {"step": 200, "epoch": 0.8, "lr": 4.0e-5, "loss": 0.52, "dev": {"accuracy": 0.61, "score": 0.61}}
//!   ```
//!   `step` (optimizer steps so far) is required; training lines carry `epoch` (fractional),
//!   `lr` and `loss`; a line where the model was evaluated carries `dev` (and, for MNLI,
//!   `dev_mismatched`) in the same [`Scores`] shape. Further keys (`loss_attn`, ...) are
//!   allowed. A non-finite loss is written as `null`. The file is optional for
//!   evaluation-only runs.
//!
//! Write them with [`Summary::save`] and [`MetricsWriter`]; read with [`Run::load`].

mod metrics_log;
mod summary;

pub use metrics_log::{read_metrics, MetricsWriter, StepRecord};
pub use summary::Summary;

use std::path::{Path, PathBuf};

use crate::error::Result;
#[cfg(doc)]
use crate::task::Scores;

/// File name of a run's final numbers.
pub const SUMMARY_FILE: &str = "summary.json";
/// File name of a run's per-step log.
pub const METRICS_FILE: &str = "metrics.jsonl";

/// A run folder read back: its summary and its logged steps (empty without `metrics.jsonl`).
#[derive(Debug, Clone)]
pub struct Run {
    /// The folder.
    pub dir: PathBuf,
    /// `summary.json`.
    pub summary: Summary,
    /// `metrics.jsonl`, in file order.
    pub metrics: Vec<StepRecord>,
}

impl Run {
    /// Reads `dir/summary.json` and, when present, `dir/metrics.jsonl`.
    pub fn load(dir: &Path) -> Result<Self> {
        let summary = Summary::load(&dir.join(SUMMARY_FILE))?;
        let metrics_path = dir.join(METRICS_FILE);
        let metrics = if metrics_path.is_file() {
            read_metrics(&metrics_path)?
        } else {
            Vec::new()
        };
        Ok(Run {
            dir: dir.to_path_buf(),
            summary,
            metrics,
        })
    }

    /// Whether `dir` looks like a run folder (has a `summary.json`).
    pub fn is_run_dir(dir: &Path) -> bool {
        dir.join(SUMMARY_FILE).is_file()
    }
}
