//! TinyBERT distillation (Jiao et al., 2020, §3-4; SPEC §2-§4, §6): the losses
//! ([`losses`]), layer mappings ([`mapping`]), BertAdam with its schedules ([`optim`]), and the
//! trainers ([`train`]: general distillation, task distillation in both phases, fine-tuning,
//! MLM-head fitting) on one engine with exact resume.
//!
//! Depends on the model, data and run crates only: run folders (`metrics.jsonl`,
//! `summary.json`, `train_config.json`) are the run crate's, and dev evaluation comes in as a
//! [`tinybert_run::DevEval`] (the eval crate implements it; the binary hands it over).

pub mod config;
pub mod error;
pub mod losses;
pub mod mapping;
pub mod optim;
pub mod parallel;
pub mod train;

pub use config::{
    FinetuneConfig, GeneralDistillConfig, LossConfig, MlmHeadConfig, NonFinite, Phase,
    TaskDistillConfig, TrainConfig,
};
pub use error::{Error, Result};
pub use losses::{Compat, LossWeights};
pub use mapping::LayerMapping;
pub use optim::{BertAdam, BertAdamConfig, Schedule, StepOutcome};

/// Whether this build has the test hooks (the `test-hooks` feature, enabled for the workspace's
/// tests only): fault injection here, test stage kinds in the binary.
pub const TEST_HOOKS: bool = cfg!(feature = "test-hooks");
