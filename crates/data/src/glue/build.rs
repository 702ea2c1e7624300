//! `tinybert data glue`: one GLUE split -> tokenised Parquet dataset + `summary.json`.

use super::reader::{BadRow, ReadOptions};
use crate::encode::Encoder;
use crate::error::{Error, Result};
use crate::example::{Example, Label};
use crate::json::write_json;
use crate::own_task::read_task_split;
use crate::parquet_io::{arrays, prepare_output_dir, ShardInfo, ShardWriter};
use crate::schema::{glue_schema, DatasetMeta, SCHEMA_VERSION};
use crate::task::Task;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tokenizers::Tokenizer;

/// Rows per record batch handed to the Parquet writer.
const WRITE_CHUNK: usize = 8192;
/// At most this many bad rows are listed in `summary.json` (all are counted).
const LISTED_BAD_ROWS: usize = 100;

/// What to build.
#[derive(Debug, Clone)]
pub struct GlueBuildOptions {
    pub task: Task,
    /// GLUE root (holding `SST-2/` ...) or the task's own folder (not used by a task of one's
    /// own: its task file names its files).
    pub data_dir: PathBuf,
    pub split: String,
    /// Maximum length including special tokens; `None`: the task's default (64 or 128).
    pub max_seq_len: Option<usize>,
    pub output: PathBuf,
    pub skip_bad_rows: bool,
    /// Rows per Parquet shard.
    pub shard_size: usize,
}

/// Score statistics of a regression split.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScoreStats {
    pub min: f32,
    pub max: f32,
    pub mean: f64,
}

/// Contents of a GLUE dataset's `summary.json`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GlueSummary {
    pub task: Task,
    pub split: String,
    pub source: PathBuf,
    /// Examples written.
    pub rows: usize,
    /// Malformed rows skipped (only with `skip_bad_rows`).
    pub skipped_rows: usize,
    /// The first skipped rows with their reasons.
    pub bad_rows: Vec<BadRow>,
    /// Examples per label name (classification splits).
    pub label_distribution: BTreeMap<String, usize>,
    /// Score statistics (STS-B train/dev).
    pub scores: Option<ScoreStats>,
    pub labels: Vec<String>,
    pub max_seq_len: usize,
    /// Examples longer than `max_seq_len`, truncated longest-first.
    pub truncated: usize,
    pub mean_length: f64,
    pub max_length: usize,
    pub tokenizer_hash: String,
    pub schema_version: u32,
    pub shards: Vec<ShardInfo>,
}

/// The `[PAD]` id of `tok` (0 when it has none).
pub fn pad_id(tok: &Tokenizer) -> u32 {
    tok.token_to_id("[PAD]").unwrap_or(0)
}

/// Reads, tokenises and writes one split; `tokenizer_hash` is recorded in the files.
pub fn build_glue(
    opts: &GlueBuildOptions,
    tok: &Tokenizer,
    tokenizer_hash: &str,
) -> Result<GlueSummary> {
    let task = opts.task;
    let read = ReadOptions {
        skip_bad_rows: opts.skip_bad_rows,
    };
    let file = read_task_split(task, &opts.data_dir, &opts.split, read)?;
    let path = file.path.clone();
    let max_seq_len = opts.max_seq_len.unwrap_or(task.default_max_seq_len());
    let encoded = Encoder::new(tok, max_seq_len)?.encode_all(&file.examples)?;
    let meta = DatasetMeta::glue(task, &opts.split, tokenizer_hash, max_seq_len, pad_id(tok));
    let shards = write_examples(&opts.output, &meta, &encoded.examples, opts.shard_size)?;
    let ex = &encoded.examples;
    let total_len: usize = ex.iter().map(Example::len).sum();
    let summary = GlueSummary {
        task,
        split: opts.split.clone(),
        source: path,
        rows: ex.len(),
        skipped_rows: file.bad_rows.len(),
        bad_rows: file
            .bad_rows
            .iter()
            .take(LISTED_BAD_ROWS)
            .cloned()
            .collect(),
        label_distribution: label_distribution(task, ex),
        scores: score_stats(ex),
        labels: meta.labels.clone(),
        max_seq_len,
        truncated: encoded.truncated,
        mean_length: if ex.is_empty() {
            0.0
        } else {
            total_len as f64 / ex.len() as f64
        },
        max_length: ex.iter().map(Example::len).max().unwrap_or(0),
        tokenizer_hash: tokenizer_hash.to_string(),
        schema_version: SCHEMA_VERSION,
        shards,
    };
    write_json(&opts.output.join("summary.json"), &summary)?;
    Ok(summary)
}

/// Writes tokenised GLUE examples as a sharded dataset into `dir` (replacing earlier shards).
pub fn write_examples(
    dir: &Path,
    meta: &DatasetMeta,
    examples: &[Example],
    shard_size: usize,
) -> Result<Vec<ShardInfo>> {
    let regression = meta.task.is_some_and(Task::is_regression);
    let augmented = examples.iter().any(|e| e.source_index.is_some());
    let schema = glue_schema(regression, augmented);
    prepare_output_dir(dir)?;
    let mut writer = ShardWriter::new(dir, schema.clone(), meta, shard_size)?;
    for chunk in examples.chunks(WRITE_CHUNK) {
        let batch = arrays::glue_batch(&schema, chunk).map_err(|e| Error::arrow(dir, e))?;
        writer.write(&batch)?;
    }
    writer.finish()
}

fn label_distribution(task: Task, examples: &[Example]) -> BTreeMap<String, usize> {
    let mut dist = BTreeMap::new();
    for e in examples {
        if let Label::Class(c) = e.label {
            let name = task.labels().get(c as usize).copied().unwrap_or("?");
            *dist.entry(name.to_string()).or_insert(0) += 1;
        }
    }
    dist
}

fn score_stats(examples: &[Example]) -> Option<ScoreStats> {
    let scores: Vec<f32> = examples.iter().filter_map(|e| e.label.score()).collect();
    if scores.is_empty() {
        return None;
    }
    Some(ScoreStats {
        min: scores.iter().copied().fold(f32::INFINITY, f32::min),
        max: scores.iter().copied().fold(f32::NEG_INFINITY, f32::max),
        mean: scores.iter().map(|&s| f64::from(s)).sum::<f64>() / scores.len() as f64,
    })
}
