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
