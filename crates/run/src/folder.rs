//! A run folder read back (reports read them).

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::metrics_log::{read_metrics, StepRecord};
use crate::summary::Summary;
use crate::{METRICS_FILE, SUMMARY_FILE};

/// A run folder: its summary and its logged steps (empty without `metrics.jsonl`).
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

    /// The `summary.json` path, for messages.
    pub fn summary_path(&self) -> PathBuf {
        self.dir.join(SUMMARY_FILE)
    }
}
