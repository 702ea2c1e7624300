//! What happened to each stage of a run: the runner's result, which the summary table shows.

use super::staleness::Reason;
use std::time::Duration;

/// What happened to a stage.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Nothing changed since its last successful run.
    UpToDate,
    /// It ran and succeeded.
    Ran,
    /// `--dry-run`: it would run.
    WouldRun,
    /// It ran and failed (the error).
    Failed(String),
    /// Not attempted because a stage it reads from did not finish.
    Skipped(String),
    /// Not attempted because the run stopped at an earlier failure.
    NotRun,
}

/// One stage's line in the summary.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Stage name.
    pub name: String,
    /// What happened.
    pub status: Status,
    /// Why it ran (or would run).
    pub reason: Option<Reason>,
    /// How long it ran.
    pub elapsed: Option<Duration>,
}
