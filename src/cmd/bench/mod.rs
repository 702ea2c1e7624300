//! `tinybert bench ...`: speed benchmarks written to a file, each next to the PyTorch reference
//! run in the same invocation (absolute times on shared machines are noise; ratios are not).

use crate::GlobalArgs;
use anyhow::Result;
use clap::Subcommand;

pub mod data;
pub mod distill;
pub mod parallel;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Corpus pre-generation and task augmentation speed vs the Python references.
    Data(data::DataArgs),
    /// Forward latency/throughput of models (folders, or presets with random weights).
    Inference(crate::jobs::JobArgs<crate::jobs::bench::Bench>),
    /// One general- and one prediction-distillation step (trainer code path) vs PyTorch.
    Distill(distill::DistillArgs),
    /// General distillation as one process against MPI ranks on the same cores (needs the `mpi`
    /// build and `mpirun`), with the all-reduce projected to more ranks.
    DataParallel(parallel::ParallelArgs),
}

pub fn run(cmd: BenchCommand, g: &GlobalArgs) -> Result<()> {
    match cmd {
        BenchCommand::Data(a) => data::run(a, g),
        BenchCommand::Inference(j) => crate::jobs::run_cli(&j, &g.device),
        BenchCommand::Distill(a) => distill::run(a, g),
        BenchCommand::DataParallel(a) => parallel::run(a, g),
    }
}
