//! The trainers: one engine (steps, gradient accumulation, BertAdam, checkpoints, exact resume,
//! metrics, NaN and Ctrl-C handling) and one objective per stage.

pub mod checkpoint;
pub mod engine;

pub use engine::{train, DevEval, Loss, Objective, RunOptions, RunResult, TrainProgress};
