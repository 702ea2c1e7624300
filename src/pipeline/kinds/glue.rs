//! `glue`: GLUE splits into tokenised datasets ([`tinybert_data::build_glue`]), one sub-folder
//! per split (`<out>/train`, `<out>/dev`, ...), optionally only the first rows of a split (the
//! GLUE training files are shuffled; `augment`'s `limit` takes the same rows). For MNLI, `dev`
//! is `dev_matched` (in `<out>/dev`, the set model selection uses) plus `dev_mismatched` (in
//! `<out>/dev_mismatched`), and likewise for `test`, so that one pipeline serves every task.
//!
//! ```toml
//! [stages.glue]
//! kind = "glue"
//! foreach = "${params.tasks}"
//! task = "${item}"                 # CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE, WNLI
//! data_dir = "data/glue"           # the GLUE root (holding SST-2/ ...) or the task's folder
//! model = "models/bert-base-uncased"   # whose tokenizer
//! splits = ["train", "dev"]        # optional (MNLI: dev_matched, dev_mismatched)
//! max_seq_len = 128                # optional; default 64 for single sentences, 128 for pairs
//! skip_bad_rows = false            # count and list malformed rows instead of failing
//! shard_size = 1000000
//! max_rows = { train = 20000 }     # optional: keep only the first rows of these splits (0: all)
//! deps = ["data/glue/${item}"]
//! outs = ["runs/glue/${item}"]
//! ```

use super::common::{at, model_param, require_input, say};
use crate::pipeline::registry::{KindSpec, StageContext, StageKind};
use crate::pipeline::stage::ResolvedStage;
use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use tinybert_data::glue::write_examples;
use tinybert_data::{build_glue, Example, GlueBuildOptions, GlueDataset, Label, Task};
use tinybert_model::{load_tokenizer, tokenizer_hash};

/// The `glue` kind.
pub struct Glue;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    task: String,
    data_dir: String,
    #[serde(rename = "model")]
    _model: String,
    #[serde(default = "default_splits")]
    splits: Vec<String>,
    #[serde(default)]
    max_seq_len: Option<usize>,
    #[serde(default)]
    skip_bad_rows: bool,
    #[serde(default = "default_shard_size")]
    shard_size: usize,
    #[serde(default)]
    max_rows: BTreeMap<String, usize>,
}

fn default_splits() -> Vec<String> {
    vec!["train".into(), "dev".into()]
}
fn default_shard_size() -> usize {
    1_000_000
}

impl Params {
    fn read(stage: &ResolvedStage) -> Result<(Self, Task)> {
        let p: Params = stage.config()?;
        let task: Task = p
            .task
            .parse()
            .map_err(|e| anyhow!("{}: {e}", at(stage, "task")))?;
        if p.splits.is_empty() {
            bail!("{}: no splits", at(stage, "splits"));
        }
        for (split, _) in p.files(task) {
            task.check_split(&split)
                .map_err(|e| anyhow!("{}: {e}", at(stage, "splits")))?;
        }
        if let Some(s) = p.max_rows.keys().find(|s| !p.splits.contains(s)) {
            bail!(
                "{}: split `{s}` is not in `splits` ({})",
                at(stage, "max_rows"),
                p.splits.join(", ")
            );
        }
        Ok((p, task))
    }
}

impl Params {
    /// `(file split, output folder)` pairs: each split as named, except that for MNLI `dev`
    /// means `dev_matched` (into `dev/`, the set model selection uses) and `dev_mismatched`,
    /// and `test` means `test_matched` (into `test/`) and `test_mismatched`.
    fn files(&self, task: Task) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for s in &self.splits {
            match (task, s.as_str()) {
                (Task::MNLI, "dev" | "test") => {
                    out.push((format!("{s}_matched"), s.clone()));
                    out.push((format!("{s}_mismatched"), format!("{s}_mismatched")));
                }
                _ => out.push((s.clone(), s.clone())),
            }
        }
        out
    }
}

impl StageKind for Glue {
    fn spec(&self) -> KindSpec {
        KindSpec {
            name: "glue",
            required: &["task", "data_dir", "model"],
            optional: &[
                "splits",
                "max_seq_len",
                "skip_bad_rows",
                "shard_size",
                "max_rows",
            ],
            resumable: false,
        }
    }

    fn check(&self, stage: &ResolvedStage) -> Result<()> {
        let (p, task) = Params::read(stage)?;
        let task_dir = format!("{}/{}", p.data_dir, task.name());
        if require_input(stage, "data_dir", &task_dir).is_err() {
            require_input(stage, "data_dir", &p.data_dir)?;
        }
        stage.out()?;
        Ok(())
    }

    fn run(&self, stage: &ResolvedStage, ctx: &StageContext) -> Result<()> {
        let (p, task) = Params::read(stage)?;
        let model = model_param(stage, ctx, "model")?;
        let tok = load_tokenizer(&model)
            .with_context(|| format!("loading the tokenizer of {}", model.display()))?;
        let hash = tokenizer_hash(&tok)?;
        let out = ctx.path(stage.out()?);
        for (split, folder) in p.files(task) {
            let dir = out.join(&folder);
            let opts = GlueBuildOptions {
                task,
                data_dir: ctx.path(&p.data_dir),
                split: split.clone(),
                max_seq_len: p.max_seq_len,
                output: dir.clone(),
                skip_bad_rows: p.skip_bad_rows,
                shard_size: p.shard_size.max(1),
            };
            let s = build_glue(&opts, &tok, &hash)?;
            let mut rows = s.rows;
            if let Some(&max) = p.max_rows.get(&folder) {
                if max > 0 && max < rows {
                    keep_first(&dir, task, max, p.shard_size.max(1))?;
                    rows = max;
                }
            }
            say(
                ctx,
                &format!(
                    "{task} {split}: {rows} rows ({} in the file, {} skipped, {} truncated to {}) -> {}",
                    s.rows,
                    s.skipped_rows,
                    s.truncated,
                    s.max_seq_len,
                    dir.display()
                ),
            );
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
    std::fs::write(&summary_path, text)
        .with_context(|| format!("cannot write {}", summary_path.display()))?;
    Ok(())
}
