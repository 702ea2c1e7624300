//! `tinybert eval glue`: a fine-tuned model on a GLUE split, with its outputs in a folder:
//!
//! - `metrics.json`: the [`Scores`] of a labelled split; for MNLI an object keyed by split
//!   (`{"dev_matched": {...}, "dev_mismatched": {...}}`);
//! - `predictions_<split>.parquet`: per-example predictions ([`crate::predictions_file`]);
//! - on a GLUE test split, the GLUE leaderboard file (`RTE.tsv`, `MNLI-m.tsv`, ...:
//!   [`crate::leaderboard`]).
//!
//! The examples are either tokenised here from the GLUE `.tsv` with the model's own tokenizer,
//! or read from a dataset built by `tinybert data glue`, whose tokenizer hash must be the
//! model's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use candle_core::Device;
use tinybert_data::glue::pad_id;
use tinybert_data::task::is_test_split;
use tinybert_data::{read_task_split, Encoder, Example, GlueDataset, ReadOptions, Task};
use tinybert_model::{load_tokenizer, tokenizer_hash, Model, Precision};

use crate::classifier::load_classifier;
use crate::column::PredictionColumn;
use crate::dev::check_task;
use crate::error::{Error, Result};
use crate::leaderboard::{leaderboard_file, write_leaderboard};
use crate::predict::{predict, score};
use crate::predictions_file::{write_predictions, PredictionTable};
use tinybert_model::io::write_atomic;
use tinybert_run::Scores;

/// File name of the scores `tinybert eval glue` writes.
pub const METRICS_JSON: &str = "metrics.json";

/// Where the examples come from.
#[derive(Debug, Clone, PartialEq)]
pub enum EvalData {
    /// A GLUE folder (the root holding `RTE/`, or the task's folder): the split is read and
    /// tokenised with the model's tokenizer. For MNLI, `dev` means both dev sets and `test` both
    /// test sets.
    Glue {
        data_dir: PathBuf,
        split: String,
        /// Maximum length, special tokens included; `None`: the task's default (64 or 128),
        /// capped at the model's position count.
        max_seq_len: Option<usize>,
    },
    /// A tokenised dataset folder or file from `tinybert data glue`; `split`, when given, must
    /// be the dataset's.
    Parquet {
        path: PathBuf,
        split: Option<String>,
    },
}

/// What to evaluate.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// A model folder with a classifier for the task.
    pub model: PathBuf,
    pub task: Task,
    pub data: EvalData,
    /// Examples per forward pass.
    pub batch_size: usize,
    /// Output folder (created if needed).
    pub output: PathBuf,
    pub device: Device,
    /// Precision of the model's products (bf16 on AVX-512 BF16 CPUs, else f32).
    pub compute: Precision,
}

/// The outcome on one split.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitResult {
    pub split: String,
    pub examples: usize,
    /// Scores of a labelled split; `None` on a test split.
    pub scores: Option<Scores>,
    /// The per-example predictions file.
    pub predictions: PathBuf,
    /// The leaderboard file of a test split.
    pub leaderboard: Option<PathBuf>,
}

/// The outcome of [`evaluate_glue`].
#[derive(Debug, Clone, PartialEq)]
pub struct EvalResult {
    pub splits: Vec<SplitResult>,
    /// `metrics.json`, written when a labelled split was evaluated.
    pub metrics: Option<PathBuf>,
    /// The evaluated model's parameter count (as deployed, see [`Model::num_params`]).
    pub params: usize,
}

/// The splits `split` stands for: MNLI `dev` is both dev sets, `test` both test sets.
pub fn glue_splits(task: Task, split: &str) -> Vec<String> {
    match (task, split) {
        (Task::MNLI, "dev") => vec!["dev_matched".into(), "dev_mismatched".into()],
        (Task::MNLI, "test") => vec!["test_matched".into(), "test_mismatched".into()],
        _ => vec![split.to_string()],
    }
}

/// The predictions file of `split` inside an output folder.
pub fn predictions_file_name(split: &str) -> String {
    format!("predictions_{split}.parquet")
}

/// One split ready to run: its name, examples and padding id.
struct SplitData {
    split: String,
    examples: Vec<Example>,
    pad_id: u32,
}

/// Evaluates the model on the split(s) of `opts.data` and writes the outputs described in the
/// module documentation.
pub fn evaluate_glue(opts: &EvalOptions) -> Result<EvalResult> {
    let model = load_classifier(&opts.model, opts.task, opts.compute, &opts.device)?;
    let data = match &opts.data {
        EvalData::Glue {
            data_dir,
            split,
            max_seq_len,
        } => tokenise_glue(opts, &model, data_dir, split, *max_seq_len)?,
        EvalData::Parquet { path, split } => vec![open_dataset(opts, &model, path, split)?],
    };
    std::fs::create_dir_all(&opts.output).map_err(|e| Error::io(&opts.output, e))?;
    let mut splits = Vec::new();
    for d in &data {
        let predictions = predict(&model, &d.examples, opts.batch_size, d.pad_id, &opts.device)?;
        let column = PredictionColumn::from_predictions(opts.task, &predictions);
        let test = is_test_split(&d.split);
        let scores = if test {
            None
        } else {
            Some(score(opts.task, &predictions, &d.examples)?)
        };
        let guids: Vec<String> = d.examples.iter().map(|e| e.guid.clone()).collect();
        // Only GLUE has a leaderboard; an own task's test predictions are the predictions file.
        let leaderboard = if test && opts.task.is_glue() {
            let path = opts
                .output
                .join(leaderboard_file(opts.task, &d.split)?.name);
            write_leaderboard(&path, opts.task, &guids, &column)?;
            Some(path)
        } else {
            None
        };
        let table = PredictionTable {
            task: opts.task,
            split: d.split.clone(),
            model: opts.model.display().to_string(),
            guids,
            predictions: column,
            gold: d.examples.iter().map(|e| e.label).collect(),
            logits: predictions.logits,
        };
        let predictions_path = opts.output.join(predictions_file_name(&d.split));
        write_predictions(&predictions_path, &table)?;
        if let Some(s) = &scores {
            tracing::info!("{} {}: score {:.4}", opts.task, d.split, s.score);
        }
        splits.push(SplitResult {
            split: d.split.clone(),
            examples: d.examples.len(),
            scores,
            predictions: predictions_path,
            leaderboard,
        });
    }
    let metrics = write_metrics(&opts.output, opts.task, &splits)?;
    Ok(EvalResult {
        splits,
        metrics,
        params: model.num_params(),
    })
}

/// Writes `metrics.json` from the labelled splits (none: nothing is written).
fn write_metrics(dir: &Path, task: Task, splits: &[SplitResult]) -> Result<Option<PathBuf>> {
    let scored: BTreeMap<&str, &Scores> = splits
        .iter()
        .filter_map(|s| s.scores.as_ref().map(|sc| (s.split.as_str(), sc)))
        .collect();
    let path = dir.join(METRICS_JSON);
    let json = match (task, scored.values().next()) {
        (_, None) => return Ok(None),
        (Task::MNLI, _) => serde_json::to_string_pretty(&scored),
        (_, Some(only)) => serde_json::to_string_pretty(only),
    }
    .map_err(|source| tinybert_run::Error::json(&path, None, source))?;
    write_atomic(&path, format!("{json}\n").as_bytes())?;
    Ok(Some(path))
}

/// The longest input the model takes: its position-embedding count.
fn model_max_len(model: &Model) -> usize {
    model.config.max_position_embeddings
}

fn tokenise_glue(
    opts: &EvalOptions,
    model: &Model,
    data_dir: &Path,
    split: &str,
    max_seq_len: Option<usize>,
) -> Result<Vec<SplitData>> {
    let task = opts.task;
    let limit = model_max_len(model);
    let max_len = match max_seq_len {
        Some(n) if n > limit => {
            return Err(Error::invalid(
                &opts.model,
                "max_position_embeddings",
                format!("the model takes at most {limit} tokens, --max-seq-len is {n}"),
            ))
        }
        Some(n) => n,
        None if task.default_max_seq_len() > limit => {
            tracing::info!(
                "{task}: default length {} capped at the model's {limit} positions",
                task.default_max_seq_len()
            );
            limit
        }
        None => task.default_max_seq_len(),
    };
    let tok = load_tokenizer(&opts.model)?;
    let encoder = Encoder::new(&tok, max_len)?;
    let pad = pad_id(&tok);
    let mut out = Vec::new();
    for split in glue_splits(task, split) {
        let file = read_task_split(task, data_dir, &split, ReadOptions::default())?;
        let path = &file.path;
        let encoded = encoder.encode_all(&file.examples)?;
        if encoded.truncated > 0 {
            tracing::info!(
                "{}: {} of {} examples truncated to {max_len} tokens",
                path.display(),
                encoded.truncated,
                encoded.examples.len()
            );
        }
        out.push(SplitData {
            split,
            examples: encoded.examples,
            pad_id: pad,
        });
    }
    Ok(out)
}

fn open_dataset(
    opts: &EvalOptions,
    model: &Model,
    path: &Path,
    split: &Option<String>,
) -> Result<SplitData> {
    let ds = GlueDataset::open(path)?;
    let tok = load_tokenizer(&opts.model)?;
    ds.meta
        .require_tokenizer(&tokenizer_hash(&tok)?)
        .map_err(|e| Error::invalid(path, "tokenizer_hash", e.to_string()))?;
    let meta = &ds.meta;
    check_task(path, meta, opts.task)?;
    let stored = meta
        .split
        .clone()
        .ok_or_else(|| Error::invalid(path, "split", "the dataset records no split"))?;
    if let Some(wanted) = split {
        if *wanted != stored {
            return Err(Error::invalid(
                path,
                "split",
                format!("the dataset is the {stored} split, --split asks for {wanted}"),
            ));
        }
    }
    let limit = model_max_len(model);
    if let Some(e) = ds.examples.iter().find(|e| e.len() > limit) {
        return Err(Error::invalid(
            path,
            format!("example {}", e.guid),
            format!("{} tokens, the model takes at most {limit}", e.len()),
        ));
    }
    Ok(SplitData {
        split: stored,
        pad_id: meta.pad_id,
        examples: ds.examples,
    })
}
