//! One module per command group; each exposes its clap enum and `run`.

pub mod bench;
pub mod data;
pub mod distill;
pub mod eval;
pub mod model;
pub mod pipeline;
pub mod report;
