//! TinyBERT distillation (Jiao et al., 2020, §3-4; SPEC §2-§4, §6): the losses
//! ([`losses`]), layer mappings ([`mapping`]), BertAdam with its schedules ([`optim`]).

pub mod config;
pub mod error;
pub mod losses;
pub mod mapping;
pub mod optim;
pub mod train;

pub use config::{
    FinetuneConfig, GeneralDistillConfig, LossConfig, MlmHeadConfig, Phase, TaskDistillConfig,
    TrainConfig,
};
pub use error::{Error, Result};
pub use losses::{Compat, LossWeights};
pub use mapping::LayerMapping;
pub use optim::{BertAdam, BertAdamConfig, Schedule};

/// Whether this build has the test hooks (the `test-hooks` feature, enabled for the workspace's
/// tests only): fault injection here, test stage kinds in the binary.
pub const TEST_HOOKS: bool = cfg!(feature = "test-hooks");
