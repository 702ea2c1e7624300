//! The command line: the jobs' subcommands (each a [job](crate::jobs) struct, run by
//! [`jobs::run_cli`]) and the commands that are not pipeline stages (models, scoring files,
//! submissions, the distillation and data benchmarks, pipelines).

pub mod bench;
pub mod eval;
pub mod model;
pub mod pipeline;

use crate::jobs::{self, augment, corpus, demo, general, glue, mlm_head, task, JobArgs};
use anyhow::Result;
use clap::Subcommand;

/// `tinybert data ...`.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Plain text (a sentence or a paragraph per line, blank line between documents) into BERT
    /// pre-training instances: sharded Parquet + summary.json.
    Corpus(JobArgs<corpus::Corpus>),
    /// GLUE splits into tokenised Parquet datasets (OUTPUT/<split>/) + summary.json.
    Glue(JobArgs<glue::Glue>),
    /// Augment a task's training set (SPEC §5: teacher MLM + GloVe candidates, N_a variants):
    /// train_aug.tsv, Parquet with source_index, summary.json. Resumable (Ctrl-C, rerun).
    Augment(JobArgs<augment::Augment>),
    /// The quickstart's synthetic demo corpus, SST-2-format task, vocabulary and vectors.
    Demo(JobArgs<demo::DemoData>),
}

/// `tinybert distill ...`.
#[derive(Debug, Subcommand)]
pub enum DistillCommand {
    /// General distillation on a corpus (L_attn + L_hidn).
    General(JobArgs<general::GeneralDistill>),
    /// Task-specific distillation, intermediate or prediction phase.
    Task(JobArgs<task::TaskDistill>),
    /// Fit a masked-LM head on a frozen teacher (needed by augmentation), or pre-train a
    /// fresh model with masked LM.
    MlmHead(JobArgs<mlm_head::MlmHead>),
}

pub fn data(c: DataCommand, device: &str) -> Result<()> {
    match c {
        DataCommand::Corpus(j) => jobs::run_cli(&j, device),
        DataCommand::Glue(j) => jobs::run_cli(&j, device),
        DataCommand::Augment(j) => jobs::run_cli(&j, device),
        DataCommand::Demo(j) => jobs::run_cli(&j, device),
    }
}

pub fn distill(c: DistillCommand, device: &str) -> Result<()> {
    match c {
        DistillCommand::General(j) => jobs::run_cli(&j, device),
        DistillCommand::Task(j) => jobs::run_cli(&j, device),
        DistillCommand::MlmHead(j) => jobs::run_cli(&j, device),
    }
}
