//! The trainers: one engine (steps, gradient accumulation, BertAdam, checkpoints, exact resume,
//! metrics, NaN and Ctrl-C handling) and one objective per stage.

pub mod checkpoint;
pub mod common;
pub mod engine;
pub mod general;
pub mod mlm;
pub mod task;

pub use engine::{train, Loss, Objective, Pass, Plan, Quiet, RunOptions, RunResult, TrainProgress};
pub use general::{general_distill, StudentSpec};
pub use mlm::fit_mlm_head;
pub use task::{finetune, task_distill, TaskData};
pub use tinybert_run::DevEval;
