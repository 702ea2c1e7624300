//! `tinybert data augment`: a task's training set -> augmented `train_aug.tsv`, a tokenised
//! Parquet dataset with `source_index`, and `summary.json` (SPEC §5).

use super::candidate_log::CandidateLog;
use super::chunk::{Augmenter, ChunkStats};
use super::glove::GloveIndex;
use super::mlm::MlmPredictor;
use super::options::{AugmentOptions, AugmentSettings};
use super::output::{write_outputs, Written};
use super::partial::{hash_file, teacher_fingerprint, Partial, RunKey};
use super::source::{read_source, SourceFile};
use super::words::WordSplitter;
use crate::error::{Error, Result};
use crate::json::write_json;
use crate::parquet_io::ShardInfo;
use crate::progress::Progress;
use crate::schema::SCHEMA_VERSION;
use crate::task::Task;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Instant;
use tinybert_model::Model;
use tokenizers::Tokenizer;

/// Format of `partial/` (bumped when chunks made by an older build must not be reused).
const PARTIAL_FORMAT: u32 = 1;

/// Contents of `summary.json`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AugmentSummary {
    pub task: Task,
    pub source: PathBuf,
    /// Training examples augmented.
    pub examples: usize,
    /// Rows written (originals included).
    pub output_rows: usize,
    pub skipped_rows: usize,
    /// Work done by this run (chunks found in `partial/` are not counted again).
    pub work: ChunkStats,
    /// Masked sequences run through the teacher by this run.
    pub mlm_forwards: u64,
    /// Distinct words searched in GloVe by this run.
    pub glove_lookups: u64,
    /// Seconds of this run after setup (reading the file and GloVe excluded): augmentation and
    /// writing the outputs.
    pub seconds: f64,
    /// Examples augmented by this run per second of `seconds`.
    pub examples_per_s: f64,
    pub seconds_read: f64,
    pub seconds_glove_load: f64,
    pub chunks: usize,
    /// Chunks taken from an interrupted earlier run.
    pub resumed_chunks: usize,
    #[serde(flatten)]
    pub settings: AugmentSettings,
    pub threads: usize,
    pub glove: PathBuf,
    pub glove_words: usize,
    pub max_seq_len: usize,
    /// Output rows longer than `max_seq_len`, truncated longest-first.
    pub truncated: usize,
    pub tokenizer_hash: String,
    pub schema_version: u32,
    pub tsv: PathBuf,
    pub shards: Vec<ShardInfo>,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub enum AugmentOutcome {
    /// All outputs written.
    Done(Box<AugmentSummary>),
    /// Stopped by [`AugmentOptions::stop`] after `chunks_done` of `chunks` chunks; rerun to
    /// continue.
    Stopped { chunks_done: usize, chunks: usize },
}

/// Augments `opts.task`'s training set with `teacher` (which needs an MLM head) and its
/// tokenizer `tok` (whose hash is recorded in the Parquet files). Progress is reported in
/// examples (`advance(examples, output_rows)`).
pub fn augment_glue(
    opts: &AugmentOptions,
    teacher: &Model,
    tok: &Tokenizer,
    tokenizer_hash: &str,
    progress: &dyn Progress,
) -> Result<AugmentOutcome> {
    opts.validate()?;
    let t_read = Instant::now();
    let source = read_source(opts.task, &opts.data_dir, opts.skip_bad_rows, opts.limit)?;
    let mlm = MlmPredictor::new(teacher, tok, opts.k, opts.batch_size)?;
    let key = run_key(opts, &source, teacher, tokenizer_hash)?;
    std::fs::create_dir_all(&opts.output).map_err(|e| Error::io(&opts.output, e))?;
    let partial = Partial::open(&opts.output, &key)?;
    let seconds_read = t_read.elapsed().as_secs_f64();

    let chunks: Vec<&[super::source::SourceRow]> = source.rows.chunks(opts.chunk_size).collect();
    let todo = (0..chunks.len()).filter(|&c| !partial.has(c)).count();
    let t_glove = Instant::now();
    // GloVe is loaded only when there is work left.
    let glove = if todo > 0 {
        GloveIndex::load(&opts.glove, opts.glove_words)?
    } else {
        GloveIndex::from_rows(Vec::new(), Vec::new(), 0)
    };
    let seconds_glove_load = t_glove.elapsed().as_secs_f64();

    let started = Instant::now();
    let mut augmenter = Augmenter {
        splitter: WordSplitter::new(tok),
        mlm,
        glove: &glove,
        settings: opts.settings().draw,
        text_columns: source.text_columns.clone(),
        cache: HashMap::new(),
    };
    let mut log = opts
        .log_candidates
        .as_deref()
        .map(CandidateLog::create)
        .transpose()?;
    progress.start(Some(source.rows.len() as u64));
    let mut work = ChunkStats::default();
    let mut resumed = 0;
    for (c, rows) in chunks.iter().enumerate() {
        if partial.has(c) {
            resumed += 1;
            progress.advance(rows.len() as u64, 0);
            continue;
        }
        let done = augmenter.augment(rows, log.is_some())?;
        if let Some(log) = log.as_mut() {
            log.write(&done.candidates)?;
        }
        partial.write(c, &done.rows)?;
        work.add(&done.stats);
        progress.advance(rows.len() as u64, done.stats.output_rows);
        let stop = opts.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst));
        if stop && c + 1 < chunks.len() {
            progress.finish();
            let chunks_done = (0..chunks.len()).filter(|&i| partial.has(i)).count();
            return Ok(AugmentOutcome::Stopped {
                chunks_done,
                chunks: chunks.len(),
            });
        }
    }
    let written = write_outputs(opts, &source, &partial, chunks.len(), tok, tokenizer_hash)?;
    partial.remove()?;
    progress.finish();
    let timing = Timing {
        seconds: started.elapsed().as_secs_f64(),
        seconds_read,
        seconds_glove_load,
    };
    let counts = Counts {
        work,
        resumed_chunks: resumed,
        chunks: chunks.len(),
    };
    let summary = summary(opts, &source, written, counts, timing, tokenizer_hash);
    write_json(&opts.output.join("summary.json"), &summary)?;
    Ok(AugmentOutcome::Done(Box::new(summary)))
}

/// Everything the augmented rows depend on (see [`RunKey`]).
fn run_key(
    opts: &AugmentOptions,
    source: &SourceFile,
    teacher: &Model,
    tokenizer_hash: &str,
) -> Result<RunKey> {
    Ok(RunKey {
        format: PARTIAL_FORMAT,
        task: opts.task.name().to_string(),
        source_hash: hash_file(&source.path)?,
        limit: opts.limit,
        skip_bad_rows: opts.skip_bad_rows,
        teacher: teacher_fingerprint(teacher)?,
        tokenizer_hash: tokenizer_hash.to_string(),
        glove_hash: hash_file(&opts.glove)?,
        glove_words: opts.glove_words,
        settings: opts.settings(),
    })
}

struct Timing {
    seconds: f64,
    seconds_read: f64,
    seconds_glove_load: f64,
}

struct Counts {
    work: ChunkStats,
    resumed_chunks: usize,
    chunks: usize,
}

fn summary(
    opts: &AugmentOptions,
    source: &SourceFile,
    written: Written,
    counts: Counts,
    t: Timing,
    tokenizer_hash: &str,
) -> AugmentSummary {
    let work = counts.work;
    AugmentSummary {
        task: opts.task,
        source: source.path.clone(),
        examples: source.rows.len(),
        output_rows: written.rows,
        skipped_rows: source.skipped_rows,
        work,
        mlm_forwards: work.mlm.sequences,
        glove_lookups: work.glove_lookups,
        seconds: t.seconds,
        examples_per_s: work.examples as f64 / t.seconds.max(1e-9),
        seconds_read: t.seconds_read,
        seconds_glove_load: t.seconds_glove_load,
        chunks: counts.chunks,
        resumed_chunks: counts.resumed_chunks,
        settings: opts.settings(),
        threads: rayon::current_num_threads(),
        glove: opts.glove.clone(),
        glove_words: opts.glove_words,
        max_seq_len: written.max_seq_len,
        truncated: written.truncated,
        tokenizer_hash: tokenizer_hash.to_string(),
        schema_version: SCHEMA_VERSION,
        tsv: written.tsv,
        shards: written.shards,
    }
}
