//! `summary.json`: a run's final numbers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::task::{task_info, Scores, TaskInfo};

use super::SUMMARY_FILE;

/// A run's final numbers; see [`crate::run`] for the contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// GLUE task name.
    pub task: String,
    /// Model label; runs with equal labels form one report row under `--runs`.
    pub model: String,
    /// Parameter count of the evaluated model.
    pub params: u64,
    /// Measured inference speed-up over the teacher.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speedup: Option<f64>,
    /// Optimizer step of the kept checkpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<u64>,
    /// Dev scores of the kept checkpoint (MNLI: matched).
    pub dev: Scores,
    /// MNLI only: scores on the mismatched dev set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev_mismatched: Option<Scores>,
    /// Repeats `dev.score`.
    pub score: f64,
    /// Further keys, kept as written.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Summary {
    /// A summary whose top-level `score` is `dev.score`.
    pub fn new(task: &str, model: &str, params: u64, dev: Scores) -> Result<Self> {
        let info = task_info(task)?;
        Ok(Summary {
            task: info.name.to_string(),
            model: model.to_string(),
            params,
            speedup: None,
            step: None,
            score: dev.score,
            dev,
            dev_mismatched: None,
            extra: BTreeMap::new(),
        })
    }

    /// The task named by `task`.
    pub fn task_info(&self) -> Result<TaskInfo> {
        task_info(&self.task)
    }

    /// Reads and checks a `summary.json`: a known task, finite scores, `score == dev.score`.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let summary: Summary = serde_json::from_str(&text).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            line: None,
            source,
        })?;
        summary.check(path)?;
        Ok(summary)
    }

    /// Writes `dir/summary.json` (pretty-printed) through a temporary file and a rename.
    pub fn save(&self, dir: &Path) -> Result<PathBuf> {
        self.check(&dir.join(SUMMARY_FILE))?;
        let path = dir.join(SUMMARY_FILE);
        let tmp = dir.join(format!("{SUMMARY_FILE}.tmp"));
        let mut text = serde_json::to_string_pretty(self).map_err(|source| Error::Json {
            path: path.clone(),
            line: None,
            source,
        })?;
        text.push('\n');
        std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
        Ok(path)
    }

    fn check(&self, path: &Path) -> Result<()> {
        let info =
            task_info(&self.task).map_err(|e| Error::invalid(path, "task", e.to_string()))?;
        if !self.dev.score.is_finite() {
            return Err(Error::invalid(path, "dev.score", "not a finite number"));
        }
        if (self.score - self.dev.score).abs() > 1e-9 {
            return Err(Error::invalid(
                path,
                "score",
                format!("{} differs from dev.score {}", self.score, self.dev.score),
            ));
        }
        if self.dev_mismatched.is_some() && info.name != "MNLI" {
            return Err(Error::invalid(
                path,
                "dev_mismatched",
                format!(
                    "only MNLI has a mismatched dev set, this run is {}",
                    info.name
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rte_scores() -> Scores {
        task_info("RTE")
            .unwrap()
            .evaluate_classes(&[1, 0, 1], &[1, 1, 1])
            .unwrap()
    }

    #[test]
    fn save_then_load_round_trips_and_keeps_extra_keys() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Summary::new("rte", "student", 14_000_000, rte_scores()).unwrap();
        s.step = Some(42);
        s.extra
            .insert("train_seconds".into(), serde_json::json!(12.5));
        s.save(dir.path()).unwrap();
        let back = Summary::load(&dir.path().join(SUMMARY_FILE)).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.task, "RTE");
        assert!(!dir.path().join("summary.json.tmp").exists());
    }

    #[test]
    fn load_rejects_a_score_that_is_not_dev_score() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SUMMARY_FILE);
        std::fs::write(
            &path,
            r#"{"task":"RTE","model":"m","params":1,"dev":{"accuracy":0.5,"score":0.5},"score":0.7}"#,
        )
        .unwrap();
        let err = Summary::load(&path).unwrap_err().to_string();
        assert!(err.contains("summary.json: score:"), "{err}");
    }

    #[test]
    fn load_names_the_file_on_bad_json_and_unknown_task() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SUMMARY_FILE);
        std::fs::write(&path, r#"{"task":"RTE"}"#).unwrap();
        let err = Summary::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("summary.json") && err.contains("model"),
            "{err}"
        );
        std::fs::write(
            &path,
            r#"{"task":"SQuAD","model":"m","params":1,"dev":{"score":0.5},"score":0.5}"#,
        )
        .unwrap();
        let err = Summary::load(&path).unwrap_err().to_string();
        assert!(err.contains("task") && err.contains("SQuAD"), "{err}");
    }
}
