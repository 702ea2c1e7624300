//! `tinybert eval ...`: a fine-tuned model on a GLUE split, prediction files scored against
//! gold labels, and the GLUE leaderboard submission zip.

use crate::jobs::values::{check_data_dir, TaskArg};
use crate::GlobalArgs;
use anyhow::Result;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use tinybert_data::{OwnTask, Task};
use tinybert_eval::{score_prediction_file, write_submission};

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// A fine-tuned model on a GLUE split: metrics.json, per-example predictions
    /// (predictions_<split>.parquet), on a test split the leaderboard file <TASK>.tsv, and on a
    /// labelled split summary.json for reports.
    Glue(crate::jobs::JobArgs<crate::jobs::eval::Eval>),
    /// Score a prediction file (`index<TAB>prediction`, index = row of the split) against the
    /// gold labels of a GLUE split; no model needed.
    Score(ScoreArgs),
    /// Gather the leaderboard files (<TASK>.tsv) of run folders into the GLUE submission zip.
    Submission(SubmissionArgs),
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE, WNLI, or a task file of one's own.
    #[arg(long, value_parser = crate::jobs::values::task)]
    pub task: TaskArg,
    /// GLUE root folder (holding RTE/ ...) or the task's folder (GLUE tasks only).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// A labelled split: dev (MNLI: dev_matched or dev_mismatched), or train.
    #[arg(long, default_value = "dev")]
    pub split: String,
    /// The prediction file: `index<TAB>prediction` rows, optional header; label strings or
    /// class ids, numbers for STS-B.
    #[arg(long)]
    pub predictions: PathBuf,
    /// Print the metrics as JSON (`accuracy`, `f1`, `matthews_corr`, `pearson`, `spearman` as
    /// the task has them, and `score`).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SubmissionArgs {
    /// Run folders holding leaderboard files (RTE.tsv, MNLI-m.tsv, ...).
    #[arg(long, required = true, num_args = 1..)]
    pub runs: Vec<PathBuf>,
    /// The zip to write.
    #[arg(long, default_value = "glue_submission.zip")]
    pub output: PathBuf,
}

pub fn run(c: EvalCommand, g: &GlobalArgs) -> Result<()> {
    match c {
        EvalCommand::Glue(j) => crate::jobs::run_cli(&j, &g.device),
        EvalCommand::Score(a) => score(a),
        EvalCommand::Submission(a) => submission(a),
    }
}

fn score(a: ScoreArgs) -> Result<()> {
    let dir = a.data_dir.as_ref().map(|d| d.to_string_lossy());
    check_data_dir(&a.task, dir.as_deref())?;
    let task = match &a.task {
        TaskArg::Named(t) => *t,
        TaskArg::File(f) => OwnTask::load(f.as_ref())?,
    };
    let data_dir = a.data_dir.unwrap_or_default();
    let s = score_prediction_file(task, &data_dir, &a.split, &a.predictions)?;
    if a.json {
        println!("{}", serde_json::to_string(&s.scores)?);
    } else {
        println!(
            "{task} {} ({} examples, {})",
            a.split,
            s.examples,
            s.gold.display()
        );
        for (name, value) in s.scores.named() {
            println!("  {name:<14}{value:.4}");
        }
    }
    Ok(())
}

fn submission(a: SubmissionArgs) -> Result<()> {
    let s = write_submission(&a.runs, &a.output)?;
    println!("{}", s.output.display());
    for i in &s.included {
        println!(
            "  {:<12} {:>7} rows  from {}",
            i.file.name,
            i.rows,
            i.run.display()
        );
    }
    let names = |tasks: Vec<Task>| tasks.iter().map(|t| t.name()).collect::<Vec<_>>();
    let complete = names(s.complete_tasks());
    let incomplete = names(s.incomplete_tasks());
    println!(
        "tasks included ({}/9): {}",
        complete.len(),
        complete.join(", ")
    );
    if !incomplete.is_empty() {
        let files: Vec<&str> = s.missing.iter().map(|f| f.name).collect();
        println!(
            "tasks missing: {} (files: {})",
            incomplete.join(", "),
            files.join(", ")
        );
    }
    for run in &s.runs_without_files {
        println!("no leaderboard file in {}", run.display());
    }
    Ok(())
}
