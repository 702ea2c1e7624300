//! `eval` (`tinybert eval glue`): a fine-tuned model on a GLUE split
//! ([`tinybert_eval::evaluate_glue`]): `metrics.json`, per-example predictions, the leaderboard
//! file on a test split, and on a labelled split a `summary.json` ([`tinybert_eval::Summary`])
//! naming the model by `label`, which is what reports read.
//!
//! ```toml
//! [stages.eval-student]
//! kind = "eval"
//! foreach = "${params.tasks}"
//! model = "${stages.td-pred@${item}.out}"
//! label = "TinyBERT-4"                 # the report row this run belongs to
//! data = "${stages.glue@${item}.out}/dev"   # a tokenised split (from `glue`), or:
//! # task = "${item}"                   # tokenise the split here: a GLUE task with data_dir,
//! # data_dir = "data/glue"              # or a task file of one's own (`data/reviews/task.toml`)
//! # split = "dev"                      # dev (MNLI: both), test, or a named split
//! # max_seq_len = 128                  # with data_dir only
//! batch_size = 64                      # optional
//! speedup = 9.4                        # optional: recorded in summary.json for Table 1
//! outs = ["runs/eval/student/${item}"]
//! ```

use super::train::dataset_task;
use super::values::{check_data_dir, positive, positive_number, task, TaskArg};
use super::{Ctx, Input, Job};
use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::Path;
use tinybert_data::Task;
use tinybert_eval::{evaluate_glue, EvalData, EvalOptions, Scores};
use tinybert_model::Precision;
use tinybert_run::Summary;

/// A fine-tuned model on a GLUE split: metrics.json, per-example predictions
/// (predictions_<split>.parquet), on a test split the leaderboard file <TASK>.tsv, and on a
/// labelled split summary.json for reports.
#[derive(Debug, Args)]
pub struct Eval {
    /// Model folder (or hub id) with a classifier for the task.
    #[arg(long)]
    pub model: String,
    /// The model's name in summary.json (the report row it belongs to); default: the model
    /// folder's name.
    #[arg(long)]
    pub label: Option<String>,
    /// A tokenised split from `tinybert data glue` (its tokenizer must be the model's).
    #[arg(long, conflicts_with_all = ["data_dir", "task", "max_seq_len"], required_unless_present = "task")]
    pub data: Option<String>,
    /// Instead of `data`: CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE or WNLI with
    /// `data_dir`, or a task file of one's own (`*.toml`); the split is read from its file and
    /// tokenised with the model's tokenizer.
    #[arg(long, value_parser = task)]
    pub task: Option<TaskArg>,
    /// A GLUE root folder (holding RTE/ ...) or the task's folder (GLUE tasks only).
    #[arg(long, requires = "task")]
    pub data_dir: Option<String>,
    /// dev or test (MNLI: dev = dev_matched + dev_mismatched, test likewise, or one of them).
    /// Default with `data_dir`: dev; with `data`: the dataset's own split.
    #[arg(long)]
    pub split: Option<String>,
    /// With `data_dir`: maximum length, special tokens included (default 64 for single
    /// sentences, 128 for pairs, at most the model's positions).
    #[arg(long, value_parser = positive)]
    pub max_seq_len: Option<usize>,
    /// Examples per forward pass.
    #[arg(long, default_value_t = 64, value_parser = positive)]
    pub batch_size: usize,
    /// Inference speed-up over the teacher, recorded in summary.json for Table 1.
    #[arg(long, value_parser = positive_number)]
    pub speedup: Option<f64>,
    /// Precision of the model's products: f32, or bf16 (AVX-512 BF16 CPUs, f32 elsewhere).
    #[arg(long, default_value = "f32")]
    pub dtype: Precision,
}

impl Job for Eval {
    const KIND: &'static str = "eval";

    fn validate(&self) -> Result<()> {
        match &self.task {
            Some(t) => check_data_dir(t, self.data_dir.as_deref()),
            None => Ok(()),
        }
    }

    fn inputs(&self) -> Vec<Input<'_>> {
        let mut v = vec![Input::Model("model", &self.model)];
        if let Some(d) = &self.data {
            v.push(Input::path("data", d));
        }
        if let Some(task) = &self.task {
            v.extend(Input::task(self.data_dir.as_deref(), task));
        }
        v
    }

    fn run(&self, ctx: &Ctx, out: &Path) -> Result<()> {
        let model = ctx.model(&self.model)?;
        let (task, data) = match (&self.data, &self.task) {
            (Some(d), None) => {
                let path = ctx.path(d);
                let task = dataset_task(&path).context("data")?;
                let split = self.split.clone();
                (task, EvalData::Parquet { path, split })
            }
            (None, Some(task)) => (
                task.resolve(ctx)?,
                EvalData::Glue {
                    data_dir: ctx.path(self.data_dir.as_deref().unwrap_or_default()),
                    split: self.split.clone().unwrap_or_else(|| "dev".into()),
                    max_seq_len: self.max_seq_len,
                },
            ),
            _ => bail!("give either `data` (a tokenised split) or `task` (with `data_dir` for a GLUE task)"),
        };
        let opts = EvalOptions {
            model: model.clone(),
            task,
            data,
            batch_size: self.batch_size,
            output: out.to_path_buf(),
            device: ctx.device.clone(),
            compute: self.dtype,
        };
        let result = evaluate_glue(&opts)
            .with_context(|| format!("evaluating {} on {task}", model.display()))?;
        for s in &result.splits {
            match &s.scores {
                Some(scores) => ctx.say(&format!(
                    "{task} {} ({} examples): {}",
                    s.split,
                    s.examples,
                    inline(scores)
                )),
                None => ctx.say(&format!(
                    "{task} {} ({} examples): no labels; predictions in {}{}",
                    s.split,
                    s.examples,
                    s.predictions.display(),
                    s.leaderboard.as_ref().map_or(String::new(), |l| format!(
                        ", leaderboard file {}",
                        l.display()
                    ))
                )),
            }
        }
        let mut scored = result
            .splits
            .iter()
            .filter_map(|s| s.scores.as_ref().map(|sc| (s.split.as_str(), sc)));
        let Some((first_split, first)) = scored.next() else {
            return Ok(());
        };
        let label = match &self.label {
            Some(l) => l.clone(),
            None => model
                .file_name()
                .map_or_else(|| self.model.clone(), |n| n.to_string_lossy().into_owned()),
        };
        let params = result.params as u64;
        let mut summary = Summary::scored("eval", task.name(), &label, params, first.clone());
        summary.speedup = self.speedup;
        if let Some(def) = task.record() {
            summary.insert(Task::RECORD_KEY, def);
        }
        summary
            .extra
            .insert("split".into(), first_split.to_string().into());
        summary
            .extra
            .insert("model_dir".into(), model.display().to_string().into());
        for (split, scores) in scored {
            if split == "dev_mismatched" {
                summary.dev_mismatched = Some(scores.clone());
            }
        }
        summary.save(out)?;
        Ok(())
    }
}

fn inline(s: &Scores) -> String {
    s.named()
        .iter()
        .map(|(n, v)| format!("{n} {v:.4}"))
        .collect::<Vec<_>>()
        .join(", ")
}
