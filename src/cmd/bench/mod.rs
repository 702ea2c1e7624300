//! `tinybert bench ...`: speed benchmarks written to a file, each next to the PyTorch reference
//! run in the same invocation (absolute times on shared machines are noise; ratios are not).

use crate::GlobalArgs;
use anyhow::Result;
use clap::Subcommand;

pub mod common;
pub mod inference;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Forward latency/throughput of models (folders, or presets with random weights).
    Inference(inference::InferenceArgs),
}

pub fn run(cmd: BenchCommand, g: &GlobalArgs) -> Result<()> {
    match cmd {
        BenchCommand::Inference(a) => inference::run(a, g),
    }
}
