//! The run-folder contract of TinyBERT's trainers and evaluators, in one place: what a run
//! writes so that reports (and resumed runs) can read it. The trainers (distill crate) and the
//! evaluation (eval crate) both use it without depending on each other.
//!
//! A run folder holds one model trained or evaluated (on one task):
//!
//! - `summary.json`, the final numbers ([`Summary`], written only by [`Summary::save`]):
//!   ```json
//!   {"stage": "task-distill", "task": "RTE", "model": "TinyBERT 4L-312", "params": 14350874,
//!    "steps": 1200, "step": 1100, "examples": 2490, "loss": 0.21,
//!    "dev": {"accuracy": 0.664, "score": 0.664}, "score": 0.664,
//!    "teacher_dev": {"accuracy": 0.70, "score": 0.70},
//!    "baseline": {"accuracy": 0.527, "score": 0.527}}
//!   ```
//!   Every key but `stage` is optional, and each is present when the stage knows it: `task`
//!   (a task name, e.g. a GLUE task), `model` (the label: runs with the same `model` form one
//!   report row), `params`, `speedup` (measured inference speed-up over the teacher), `steps`
//!   (optimizer steps in all), `step` (the step of the kept checkpoint), `examples`, `loss` (mean
//!   of the last logged window), `examples_per_s`; `dev` the dev [`Scores`] of the kept model
//!   (MNLI: matched; `dev_mismatched` the mismatched set) and `score` = `dev.score`;
//!   `teacher_dev` and `baseline` the teacher's dev scores and the dev set's trivial baseline
//!   (task distillation's teacher guardrail). Other keys are kept and ignored. A report reads
//!   runs that have `task`, `model`, `params` and `dev`.
//! - `metrics.jsonl`, one JSON object per logged step ([`StepRecord`], [`MetricsWriter`],
//!   [`read_metrics`]):
//!   ```json
//!   {"step": 100, "epoch": 0.4, "lr": 4.5e-5, "loss": 0.71, "att_loss": 0.3}
//!   {"step": 200, "epoch": 0.8, "lr": 4.0e-5, "loss": 0.52, "dev": {"accuracy": 0.61, "score": 0.61}}
//!   ```
//!   `step` (optimizer steps so far) is required; training lines carry `epoch` (fractional),
//!   `lr` and `loss`; a line where the model was evaluated carries `dev` (and, for MNLI,
//!   `dev_mismatched`) in the same [`Scores`] shape. Further keys (loss terms,
//!   `examples_per_s`, `skipped`) are allowed. A non-finite loss is written as `null`. Optional
//!   for evaluation-only runs.
//! - `train_config.json`, the training run's configuration as it was asked for
//!   ([`write_train_config`]): `{"stage": ..., <inputs>, "config": {<stage config>, "train":
//!   {<train config>}}}`. A resumed run compares it with its own.
//!
//! [`DevEval`] is the dev evaluation a trainer calls (implemented by the eval crate).

mod dev;
mod error;
mod folder;
mod metrics_log;
mod scores;
mod summary;
mod train_config;

pub use dev::DevEval;
pub use error::{Error, Result};
pub use folder::Run;
pub use metrics_log::{read_metrics, truncate_metrics, MetricsWriter, StepRecord};
pub use scores::Scores;
pub use summary::Summary;
pub use train_config::{check_train_config, read_train_config, write_train_config};

/// File name of a run's final numbers.
pub const SUMMARY_FILE: &str = "summary.json";
/// File name of a run's per-step log.
pub const METRICS_FILE: &str = "metrics.jsonl";
/// File name of a training run's configuration.
pub const TRAIN_CONFIG_FILE: &str = "train_config.json";
