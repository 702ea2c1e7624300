//! `summary.json`: a run's final numbers, one shape for every stage.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::scores::Scores;
use crate::SUMMARY_FILE;

/// A run's final numbers; see the [crate] documentation for the contract. Build one with
/// [`Summary::new`] (a training run) or [`Summary::scored`] (a run with dev scores), fill in
/// what the stage knows, and write it with [`Summary::save`], the one writer of the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// What made the run: `general-distill`, `task-distill`, `finetune`, `mlm-head`, `eval`.
    /// Absent in summaries written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// The task's name (runs on a task).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// The model's label: runs with equal labels form one report row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Parameter count of the model the run produced or evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<u64>,
    /// Measured inference speed-up over the teacher.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speedup: Option<f64>,
    /// Optimizer steps the run took in all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<u64>,
    /// Optimizer step of the kept checkpoint (the best dev evaluation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<u64>,
    /// Training examples (one epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub examples: Option<u64>,
    /// Mean training loss of the last logged window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
    /// Training throughput of the last logged window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub examples_per_s: Option<f64>,
    /// Dev scores of the kept model (MNLI: matched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<Scores>,
    /// MNLI only: scores on the mismatched dev set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev_mismatched: Option<Scores>,
    /// Repeats `dev.score` (present exactly when `dev` is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Task distillation: the teacher's scores on the same dev set, before training.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teacher_dev: Option<Scores>,
    /// The dev set's majority-class (classification) or constant-prediction (regression)
    /// baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Scores>,
    /// Further keys (inputs, settings), kept as written.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Summary {
    /// The summary of a run of `stage` with nothing else known yet.
    pub fn new(stage: &str) -> Self {
        Summary {
            stage: Some(stage.to_string()),
            task: None,
            model: None,
            params: None,
            speedup: None,
            steps: None,
            step: None,
            examples: None,
            loss: None,
            examples_per_s: None,
            dev: None,
            dev_mismatched: None,
            score: None,
            teacher_dev: None,
            baseline: None,
            extra: BTreeMap::new(),
        }
    }

    /// A run of `stage` on `task` whose model (labelled `model`, `params` parameters) scored
    /// `dev`.
    pub fn scored(stage: &str, task: &str, model: &str, params: u64, dev: Scores) -> Self {
        let mut s = Summary::new(stage);
        s.task = Some(task.to_string());
        s.model = Some(model.to_string());
        s.params = Some(params);
        s.set_dev(dev);
        s
    }

    /// Sets `dev` and the top-level `score` with it.
    pub fn set_dev(&mut self, dev: Scores) {
        self.score = Some(dev.score);
        self.dev = Some(dev);
    }

    /// Adds a further key.
    pub fn insert(&mut self, key: &str, value: impl Into<serde_json::Value>) {
        self.extra.insert(key.to_string(), value.into());
    }

    /// Reads and checks a `summary.json` ([`Summary::check`]).
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let summary: Summary =
            serde_json::from_str(&text).map_err(|e| Error::json(path, None, e))?;
        summary.check(path)?;
        Ok(summary)
    }

    /// Checks and writes `dir/summary.json` (pretty-printed, atomically); returns its path.
    pub fn save(&self, dir: &Path) -> Result<PathBuf> {
        let path = dir.join(SUMMARY_FILE);
        self.check(&path)?;
        let mut text =
            serde_json::to_string_pretty(self).map_err(|e| Error::json(&path, None, e))?;
        text.push('\n');
        tinybert_model::io::write_atomic(&path, text.as_bytes())?;
        Ok(path)
    }

    /// The contract's rules (errors name `path` and the key): finite scores, `score` present
    /// exactly with `dev` and equal to `dev.score`, `step` not beyond `steps`. Task names are
    /// not checked here (the data crate knows the tasks).
    pub fn check(&self, path: &Path) -> Result<()> {
        for (key, scores) in [
            ("dev", &self.dev),
            ("dev_mismatched", &self.dev_mismatched),
            ("teacher_dev", &self.teacher_dev),
            ("baseline", &self.baseline),
        ] {
            if let Some((metric, v)) = scores.as_ref().and_then(Scores::first_non_finite) {
                return Err(Error::invalid(
                    path,
                    format!("{key}.{metric}"),
                    format!("{v} is not a finite number"),
                ));
            }
        }
        match (&self.dev, self.score) {
            (Some(d), Some(s)) if (s - d.score).abs() > 1e-9 => {
                return Err(Error::invalid(
                    path,
                    "score",
                    format!("{s} differs from dev.score {}", d.score),
                ))
            }
            (Some(_), None) => return Err(Error::invalid(path, "score", "missing (dev is set)")),
            (None, Some(_)) => return Err(Error::invalid(path, "score", "set without dev scores")),
            _ => {}
        }
        if let (Some(step), Some(steps)) = (self.step, self.steps) {
            if step > steps {
                return Err(Error::invalid(
                    path,
                    "step",
                    format!("{step} is beyond the run's {steps} steps"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(acc: f64) -> Scores {
        Scores {
            accuracy: Some(acc),
            score: acc,
            ..Scores::empty()
        }
    }

    #[test]
    fn save_then_load_round_trips_and_keeps_extra_keys() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Summary::scored("finetune", "RTE", "student", 14_000_000, scores(0.66));
        s.step = Some(42);
        s.steps = Some(50);
        s.teacher_dev = Some(scores(0.7));
        s.baseline = Some(scores(0.53));
        s.insert("train_seconds", 12.5);
        let path = s.save(dir.path()).unwrap();
        let back = Summary::load(&path).unwrap();
        assert_eq!(back, s);
        let only = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(only, 1, "no temporary file left");
    }

    #[test]
    fn a_training_summary_without_dev_scores_is_valid() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Summary::new("general-distill");
        s.steps = Some(8);
        s.loss = Some(0.25);
        s.save(dir.path()).unwrap();
        let json = std::fs::read_to_string(dir.path().join(SUMMARY_FILE)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"stage": "general-distill", "steps": 8, "loss": 0.25})
        );
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
    fn non_finite_scores_and_a_score_without_dev_are_refused_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Summary::new("task-distill");
        s.baseline = Some(Scores {
            pearson: Some(f64::NAN),
            ..Scores::empty()
        });
        let err = s.save(dir.path()).unwrap_err().to_string();
        assert!(err.contains("baseline.pearson"), "{err}");
        let mut s = Summary::new("eval");
        s.score = Some(0.5);
        let err = s.save(dir.path()).unwrap_err().to_string();
        assert!(err.contains("score: set without dev scores"), "{err}");
    }

    #[test]
    fn load_names_the_file_on_bad_json() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SUMMARY_FILE);
        std::fs::write(&path, r#"{"task": 3}"#).unwrap();
        let err = Summary::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("summary.json") && err.contains("string"),
            "{err}"
        );
    }
}
