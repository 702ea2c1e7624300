//! A run folder as a report row reads it: a known task, a model label, a parameter count and
//! dev scores, all required here (the run crate's `summary.json` keeps them optional because
//! training stages without a task have none).

use std::path::Path;

use tinybert_data::Task;
use tinybert_run::{Run, Scores, Summary, SUMMARY_FILE};

use crate::error::{Error, Result};

/// A run with what a report needs from its `summary.json` (its `model` label is checked too:
/// rows are formed from it).
#[derive(Debug, Clone)]
pub struct ScoredRun {
    pub run: Run,
    pub task: Task,
    pub params: u64,
    pub dev: Scores,
}

impl ScoredRun {
    /// Reads the run folder `dir`; errors name its `summary.json` and the missing key.
    pub fn load(dir: &Path) -> Result<Self> {
        let run = Run::load(dir)?;
        let path = run.summary_path();
        let s = &run.summary;
        let task = task_of(&path, s)?;
        model_of(&path, s)?;
        let params = s
            .params
            .ok_or_else(|| Error::invalid(&path, "params", "missing: not a scored run"))?;
        let dev = s.dev.clone().ok_or_else(|| {
            Error::invalid(&path, "dev", "missing: the run has no dev scores to report")
        })?;
        if s.dev_mismatched.is_some() && task != Task::MNLI {
            return Err(Error::invalid(
                &path,
                "dev_mismatched",
                format!("only MNLI has a mismatched dev set, this run is {task}"),
            ));
        }
        Ok(ScoredRun {
            task,
            params,
            dev,
            run,
        })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.run.dir
    }
}

/// The run's task, which must be a known one.
fn task_of(path: &Path, s: &Summary) -> Result<Task> {
    let name = s
        .task
        .as_deref()
        .ok_or_else(|| Error::invalid(path, "task", "missing: the run is not on a task"))?;
    // A task of one's own is known from the definition the run recorded.
    if let Some(def) = s.extra.get(Task::RECORD_KEY) {
        Task::from_record(def)
            .map_err(|e| Error::invalid(path, Task::RECORD_KEY, e.to_string()))?;
    }
    name.parse::<Task>()
        .map_err(|e| Error::invalid(path, "task", e.to_string()))
}

/// The model label of the `summary.json` at `path`.
pub fn model_of(path: &Path, s: &Summary) -> Result<String> {
    s.model
        .clone()
        .ok_or_else(|| Error::invalid(path, "model", "missing: the run has no model label"))
}

/// The model label of the run folder `dir`.
pub fn model_label(dir: &Path) -> Result<String> {
    let path = dir.join(SUMMARY_FILE);
    model_of(&path, &Summary::load(&path)?)
}
