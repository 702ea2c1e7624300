//! `tinybert eval ...`: a fine-tuned model on a GLUE split, prediction files scored against
//! gold labels, and the GLUE leaderboard submission zip.

use crate::GlobalArgs;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use tinybert_data::Task;
use tinybert_eval::{
    evaluate_glue, score_prediction_file, write_submission, EvalData, EvalOptions, Scores,
};
use tinybert_model::resolve_model;

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// A fine-tuned model on a GLUE split: metrics.json, per-example predictions
    /// (predictions_<split>.parquet) and, on a test split, the leaderboard file <TASK>.tsv.
    Glue(GlueArgs),
    /// Score a prediction file (`index<TAB>prediction`, index = row of the split) against the
    /// gold labels of a GLUE split; no model needed.
    Score(ScoreArgs),
    /// Gather the leaderboard files (<TASK>.tsv) of run folders into the GLUE submission zip.
    Submission(SubmissionArgs),
}

#[derive(Debug, Args)]
pub struct GlueArgs {
    /// Model folder (or hub id) with a classifier for the task.
    #[arg(long)]
    pub model: String,
    /// CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE or WNLI.
    #[arg(long)]
    pub task: String,
    /// GLUE root folder (holding RTE/ ...) or the task's folder; the split is tokenised with
    /// the model's tokenizer.
    #[arg(long, required_unless_present = "data", conflicts_with = "data")]
    pub data_dir: Option<PathBuf>,
    /// A tokenised dataset from `tinybert data glue` (its tokenizer must be the model's).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// dev or test (MNLI: dev = dev_matched + dev_mismatched, test = test_matched +
    /// test_mismatched, or one of them). Default with --data-dir: dev; with --data: the
    /// dataset's own split.
    #[arg(long)]
    pub split: Option<String>,
    /// Examples per forward pass.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Maximum length, special tokens included (default 64 for single sentences, 128 for
    /// pairs, at most the model's positions). Only with --data-dir.
    #[arg(long, conflicts_with = "data")]
    pub max_seq_len: Option<usize>,
    /// Output folder.
    #[arg(long)]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE or WNLI.
    #[arg(long)]
    pub task: String,
    /// GLUE root folder (holding RTE/ ...) or the task's folder.
    #[arg(long)]
    pub data_dir: PathBuf,
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
        EvalCommand::Glue(a) => glue(a, g),
        EvalCommand::Score(a) => score(a),
        EvalCommand::Submission(a) => submission(a),
    }
}

fn glue(a: GlueArgs, g: &GlobalArgs) -> Result<()> {
    if a.batch_size == 0 {
        bail!("--batch-size must be at least 1");
    }
    let task: Task = a.task.parse()?;
    let data = match (a.data_dir, a.data) {
        (Some(data_dir), None) => EvalData::Glue {
            data_dir,
            split: a.split.unwrap_or_else(|| "dev".into()),
            max_seq_len: a.max_seq_len,
        },
        (None, Some(path)) => EvalData::Parquet {
            path,
            split: a.split,
        },
        _ => bail!("give exactly one of --data-dir and --data"),
    };
    let opts = EvalOptions {
        model: resolve_model(&a.model)?,
        task,
        data,
        batch_size: a.batch_size,
        output: a.output,
        device: crate::device::parse_device(&g.device)?,
    };
    let result = evaluate_glue(&opts).with_context(|| {
        format!(
            "evaluating {} on {task} into {}",
            opts.model.display(),
            opts.output.display()
        )
    })?;
    for s in &result.splits {
        match &s.scores {
            Some(scores) => println!(
                "{task} {} ({} examples): {}",
                s.split,
                s.examples,
                inline(scores)
            ),
            None => println!("{task} {} ({} examples): no labels", s.split, s.examples),
        }
    }
    for path in result.metrics.iter().chain(
        result
            .splits
            .iter()
            .flat_map(|s| s.leaderboard.iter().chain([&s.predictions])),
    ) {
        println!("{}", path.display());
    }
    Ok(())
}

fn score(a: ScoreArgs) -> Result<()> {
    let task: Task = a.task.parse()?;
    let s = score_prediction_file(task, &a.data_dir, &a.split, &a.predictions)?;
    if a.json {
        println!("{}", serde_json::to_string(&s.scores)?);
    } else {
        println!(
            "{task} {} ({} examples, {})",
            a.split,
            s.examples,
            s.gold.display()
        );
        for (name, value) in metrics(&s.scores) {
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

/// The metrics a task reports, with the selection score last.
fn metrics(s: &Scores) -> Vec<(&'static str, f64)> {
    let named = [
        ("accuracy", s.accuracy),
        ("f1", s.f1),
        ("matthews_corr", s.matthews_corr),
        ("pearson", s.pearson),
        ("spearman", s.spearman),
        ("score", Some(s.score)),
    ];
    named
        .into_iter()
        .filter_map(|(n, v)| v.map(|v| (n, v)))
        .collect()
}

fn inline(s: &Scores) -> String {
    metrics(s)
        .iter()
        .map(|(n, v)| format!("{n} {v:.4}"))
        .collect::<Vec<_>>()
        .join(", ")
}
