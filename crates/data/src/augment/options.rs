//! What `tinybert data augment` is asked to do: [`AugmentOptions`] with the reference settings.

use super::chunk::DrawSettings;
use crate::error::{Error, Result};
use crate::task::Task;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// What to augment and how.
#[derive(Debug, Clone)]
pub struct AugmentOptions {
    pub task: Task,
    /// GLUE root (holding `SST-2/` ...) or the task's own folder; `train.tsv` is augmented.
    pub data_dir: PathBuf,
    /// GloVe vectors, standard text format.
    pub glove: PathBuf,
    /// Only the first this many GloVe words are read and searched.
    pub glove_words: usize,
    /// N_a: rounds of replacement per field.
    pub n_aug: usize,
    /// K: candidates per word (MLM top-K before dropping `##` pieces; GloVe neighbours).
    pub k: usize,
    /// Probability that a candidate position is replaced in a round.
    pub p: f64,
    pub seed: u64,
    /// Maximum length of the tokenised output (default: the task's, 64 or 128).
    pub max_seq_len: Option<usize>,
    /// Most masked sequences per teacher forward.
    pub batch_size: usize,
    /// Only the first this many training examples.
    pub limit: Option<usize>,
    /// Examples per resumable chunk (the unit of `partial/`; the output does not depend on it).
    pub chunk_size: usize,
    /// Rows per Parquet shard.
    pub shard_size: usize,
    /// Skip malformed training rows (counted) instead of failing.
    pub skip_bad_rows: bool,
    /// Output folder: `train_aug.tsv`, `part-*.parquet`, `summary.json` (`partial/` meanwhile).
    pub output: PathBuf,
    /// Checked after every chunk: when set, the run stops there (resumable).
    pub stop: Option<Arc<AtomicBool>>,
    /// Write every candidate position's candidates to this JSON-lines file (chunks augmented
    /// by this run only), like the reference's `--log-candidates`.
    pub log_candidates: Option<PathBuf>,
}

/// The settings of [`AugmentOptions`] an augmented row depends on (N_a, K, p, the seed) and the
/// teacher batch and chunk sizes the run works in: recorded (flattened) in `partial/`'s manifest,
/// whose chunks are reused only under the same ones, and in `summary.json`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AugmentSettings {
    #[serde(flatten)]
    pub draw: DrawSettings,
    pub batch_size: usize,
    pub chunk_size: usize,
}

impl AugmentOptions {
    /// The reference settings: 100,000 GloVe words, N_a 20, K 15, p 0.4, seed 42, batches of
    /// 64, chunks of 512 examples.
    pub fn new(task: Task, data_dir: PathBuf, glove: PathBuf, output: PathBuf) -> Self {
        Self {
            task,
            data_dir,
            glove,
            glove_words: 100_000,
            n_aug: 20,
            k: 15,
            p: 0.4,
            seed: 42,
            max_seq_len: None,
            batch_size: 64,
            limit: None,
            chunk_size: 512,
            shard_size: 1_000_000,
            skip_bad_rows: false,
            output,
            stop: None,
            log_candidates: None,
        }
    }

    /// The settings the augmented rows depend on, and the sizes the run works in.
    pub fn settings(&self) -> AugmentSettings {
        AugmentSettings {
            draw: DrawSettings {
                n_aug: self.n_aug,
                k: self.k,
                p: self.p,
                seed: self.seed,
            },
            batch_size: self.batch_size,
            chunk_size: self.chunk_size,
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::Invalid(m.to_string()));
        if !(0.0..=1.0).contains(&self.p) {
            return bad("the replacement probability p must be in [0, 1]");
        }
        if self.k == 0 {
            return bad("K (candidates per word) must be at least 1");
        }
        if self.batch_size == 0 || self.chunk_size == 0 || self.shard_size == 0 {
            return bad("batch, chunk and shard sizes must be at least 1");
        }
        if self.glove_words == 0 {
            return bad("--glove-words must be at least 1");
        }
        Ok(())
    }
}
