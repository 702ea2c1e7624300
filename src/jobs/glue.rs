//! `glue` (`tinybert data glue`): GLUE splits into tokenised datasets
//! ([`tinybert_data::build_glue`]), one sub-folder per split (`<out>/train`, `<out>/dev`, ...),
//! optionally only the first rows of a split (the GLUE training files are shuffled; `augment`'s
//! `limit` takes the same rows). For MNLI, `dev` is `dev_matched` (in `<out>/dev`, the set model
//! selection uses) plus `dev_mismatched` (in `<out>/dev_mismatched`), and likewise for `test`.
//!
//! ```toml
//! [stages.glue]
//! kind = "glue"
//! foreach = "${params.tasks}"
//! task = "${item}"                 # CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE, WNLI,
//!                                  # or a task file of one's own (`data/reviews/task.toml`)
//! data_dir = "data/glue"           # GLUE tasks: the GLUE root (holding SST-2/ ...) or the task's folder
//! model = "models/bert-base-uncased"   # whose tokenizer
//! splits = ["train", "dev"]        # optional; these are the defaults
//! max_seq_len = 128                # optional; default 64 for single sentences, 128 for pairs
//! skip_bad_rows = false            # count and list malformed rows instead of failing
//! shard_size = 1000000
//! max_rows = { train = 20000 }     # optional: keep only the first rows of these splits
//! outs = ["runs/glue/${item}"]
//! ```

use super::values::{check_data_dir, counts, positive, task, TaskArg};
use super::{Ctx, Input, Job};
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use std::collections::BTreeMap;
use std::path::Path;
use tinybert_data::glue::write_examples;
use tinybert_data::{build_glue, Example, GlueBuildOptions, GlueDataset, Label, Task};

/// GLUE splits into tokenised Parquet datasets (one sub-folder per split) with `summary.json`.
#[derive(Debug, Args)]
pub struct Glue {
    /// CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE, WNLI, or a task file of one's own
    /// (`*.toml`: its files, columns and labels).
    #[arg(long, value_parser = task)]
    pub task: TaskArg,
    /// GLUE root folder (holding SST-2/ ...) or the task's own folder (GLUE tasks only).
    #[arg(long)]
    pub data_dir: Option<String>,
    /// Model folder (or hub id) whose tokenizer is used.
    #[arg(long)]
    pub model: String,
    /// Splits to tokenise (repeat the flag): train, dev, test (MNLI: dev and test mean both
    /// matched and mismatched).
    #[arg(long = "split", default_values_t = ["train".to_string(), "dev".to_string()])]
    pub splits: Vec<String>,
    /// Maximum length, special tokens included (default 64 for single sentences, 128 for
    /// pairs).
    #[arg(long, value_parser = positive)]
    pub max_seq_len: Option<usize>,
    /// Keep only the first rows of these splits: `train=20000` (a table in a pipeline).
    #[arg(long, value_parser = counts)]
    pub max_rows: Option<BTreeMap<String, usize>>,
    /// Skip malformed rows (counted and listed in summary.json) instead of failing.
    #[arg(long)]
    pub skip_bad_rows: bool,
    /// Rows per Parquet shard.
    #[arg(long, default_value_t = 1_000_000, value_parser = positive)]
    pub shard_size: usize,
}

impl Glue {
    /// `(file split, output folder)` pairs: each split as named, except that for MNLI `dev`
    /// means `dev_matched` (into `dev/`) and `dev_mismatched`, and `test` likewise.
    fn files(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for s in &self.splits {
            match (self.task.named(), s.as_str()) {
                (Some(Task::MNLI), "dev" | "test") => {
                    out.push((format!("{s}_matched"), s.clone()));
                    out.push((format!("{s}_mismatched"), format!("{s}_mismatched")));
                }
                _ => out.push((s.clone(), s.clone())),
            }
        }
        out
    }
}

impl Job for Glue {
    const KIND: &'static str = "glue";

    fn validate(&self) -> Result<()> {
        check_data_dir(&self.task, self.data_dir.as_deref())?;
        // A task file's splits are known once it is read (when the job runs).
        if let Some(task) = self.task.named() {
            for (split, _) in self.files() {
                task.check_split(&split)
                    .map_err(|e| anyhow!("split `{split}`: {e}"))?;
            }
        }
        if let Some(s) = self
            .max_rows
            .iter()
            .flat_map(|m| m.keys())
            .find(|s| !self.splits.contains(s))
        {
            bail!(
                "max_rows: split `{s}` is not among the splits ({})",
                self.splits.join(", ")
            );
        }
        Ok(())
    }

    fn inputs(&self) -> Vec<Input<'_>> {
        let mut v = Input::task(self.data_dir.as_deref(), &self.task);
        v.push(Input::Model("model", &self.model));
        v
    }

    fn run(&self, ctx: &Ctx, out: &Path) -> Result<()> {
        let model = ctx.model(&self.model)?;
        let (tok, hash) = ctx.tokenizer(&model)?;
        let task = self.task.resolve(ctx)?;
        for (split, folder) in self.files() {
            let dir = out.join(&folder);
            let opts = GlueBuildOptions {
                task,
                data_dir: ctx.path(self.data_dir.as_deref().unwrap_or_default()),
                split: split.clone(),
                max_seq_len: self.max_seq_len,
                output: dir.clone(),
                skip_bad_rows: self.skip_bad_rows,
                shard_size: self.shard_size,
            };
            let s = build_glue(&opts, &tok, &hash)?;
            for bad in &s.bad_rows {
                ctx.say(&format!(
                    "skipped {}:{}: {}",
                    s.source.display(),
                    bad.line,
                    bad.message
                ));
            }
            let mut rows = s.rows;
            let max = self.max_rows.as_ref().and_then(|m| m.get(&folder).copied());
            if let Some(max) = max.filter(|&m| m > 0 && m < rows) {
                keep_first(&dir, task, max, self.shard_size)?;
                rows = max;
            }
            ctx.say(&format!(
                "{task} {split}: {rows} rows ({} in the file, {} skipped, {} truncated to {}) -> {}",
                s.rows,
                s.skipped_rows,
                s.truncated,
                s.max_seq_len,
                dir.display()
            ));
        }
        Ok(())
    }
}

/// Keeps the first `max` rows of the dataset in `dir`, and records it in its `summary.json`
/// (`rows`, `label_distribution`, `shards`, `rows_in_file`).
fn keep_first(dir: &Path, task: Task, max: usize, shard_size: usize) -> Result<()> {
    let summary_path = dir.join("summary.json");
    let text = std::fs::read_to_string(&summary_path)
        .with_context(|| format!("cannot read {}", summary_path.display()))?;
    let mut summary: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not JSON", summary_path.display()))?;
    let ds = GlueDataset::open(dir)?;
    let n = ds.len();
    let examples: Vec<Example> = ds.examples.into_iter().take(max).collect();
    let shards = write_examples(dir, &ds.meta, &examples, shard_size)?;
    let mut dist = BTreeMap::<String, usize>::new();
    for e in &examples {
        if let Label::Class(c) = e.label {
            let name = task.labels().get(c as usize).copied().unwrap_or("?");
            *dist.entry(name.to_string()).or_default() += 1;
        }
    }
    summary["rows"] = max.into();
    summary["label_distribution"] = serde_json::to_value(&dist)?;
    summary["rows_in_file"] = n.into();
    summary["shards"] = serde_json::to_value(&shards)?;
    let text = serde_json::to_string_pretty(&summary)? + "\n";
    tinybert_model::io::write_atomic(&summary_path, text.as_bytes())?;
    Ok(())
}
