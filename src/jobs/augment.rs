//! `augment` (`tinybert data augment`): data augmentation of a task's training set (SPEC §5;
//! [`tinybert_data::augment_glue`]) with the teacher's masked-LM head (single-piece words) and
//! GloVe neighbours (multi-piece words): `train_aug.tsv`, a tokenised dataset with
//! `source_index` (the input of `task-distill`) and `summary.json`. Resumable: finished chunks
//! are kept in `partial/` while it runs, and Ctrl-C stops after the current chunk.
//!
//! ```toml
//! [stages.augment]
//! kind = "augment"
//! foreach = "${params.tasks}"
//! teacher = "${stages.mlm.out}"        # a model with an MLM head (and the task's tokenizer)
//! task = "${item}"
//! data_dir = "data/glue"               # GLUE root or the task's folder (train.tsv is read)
//! glove = "data/glove.txt"             # GloVe text format
//! n_aug = 20                           # optional; these are the defaults (the paper's)
//! k = 15                               # candidates per word
//! p = 0.4                              # replacement probability per position and round
//! glove_words = 100000                 # only the first this many GloVe words
//! seed = 42
//! max_seq_len = 128                    # default: the task's (64 single sentence, 128 pairs)
//! batch_size = 64                      # masked sequences per teacher forward
//! limit = 2000                         # only the first N training rows
//! chunk_size = 512                     # examples per resumable chunk
//! shard_size = 1000000
//! threads = 1                          # CPU threads (default: all cores)
//! outs = ["runs/augment/${item}"]
//! ```

use super::values::{check_data_dir, positive, probability, task, TaskArg};
use super::{Ctx, Input, Job};
use crate::progress::DataBar;
use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::{Path, PathBuf};
use tinybert_data::{augment_glue, AugmentOptions, AugmentOutcome, Task};
use tinybert_model::{Heads, Model, ModelOptions, Precision, Want};

/// Augment a task's training set (SPEC §5: teacher MLM + GloVe candidates, N_a variants):
/// train_aug.tsv, Parquet with source_index, summary.json. Resumable (Ctrl-C, rerun).
#[derive(Debug, Args)]
pub struct Augment {
    /// Teacher model folder (or hub id) with a masked-LM head; its tokenizer is used.
    #[arg(long)]
    pub teacher: String,
    /// CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE, WNLI, or a task file of one's own
    /// (`*.toml`); its training split is augmented.
    #[arg(long, value_parser = task)]
    pub task: TaskArg,
    /// GLUE root folder (holding SST-2/ ...) or the task's own folder (GLUE tasks only).
    #[arg(long)]
    pub data_dir: Option<String>,
    /// GloVe vectors (standard text format).
    #[arg(long)]
    pub glove: String,
    /// Only the first this many GloVe words are searched.
    #[arg(long, default_value_t = reference().glove_words, value_parser = positive)]
    pub glove_words: usize,
    /// N_a: replacement rounds per field.
    #[arg(long, default_value_t = reference().n_aug)]
    pub n_aug: usize,
    /// K: candidates per word.
    #[arg(long, default_value_t = reference().k, value_parser = positive)]
    pub k: usize,
    /// Replacement probability per candidate position and round.
    #[arg(long, default_value_t = reference().p, value_parser = probability)]
    pub p: f64,
    /// Seed of the replacements.
    #[arg(long, default_value_t = reference().seed)]
    pub seed: u64,
    /// Maximum length of the tokenised output (default 64 for single sentences, 128 for pairs).
    #[arg(long, value_parser = positive)]
    pub max_seq_len: Option<usize>,
    /// Most masked sentences per teacher forward.
    #[arg(long, default_value_t = reference().batch_size, value_parser = positive)]
    pub batch_size: usize,
    /// Only the first N training examples (0: all).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Examples per resumable chunk (kept in OUTPUT/partial/ until the run completes).
    #[arg(long, default_value_t = reference().chunk_size, value_parser = positive)]
    pub chunk_size: usize,
    /// Rows per Parquet shard.
    #[arg(long, default_value_t = reference().shard_size, value_parser = positive)]
    pub shard_size: usize,
    /// Skip malformed training rows (counted) instead of failing.
    #[arg(long)]
    pub skip_bad_rows: bool,
    /// Also write each candidate word's candidates to this JSON-lines file.
    #[arg(long)]
    pub log_candidates: Option<String>,
    /// Precision of the teacher's MLM forwards: bf16 (on AVX-512 BF16 CPUs; f32 elsewhere) or
    /// f32. bf16 gives the same candidates up to the order of near-ties (docs/performance.md),
    /// so it is the default.
    #[arg(long, default_value = "bf16")]
    pub dtype: Precision,
}

/// The reference settings, where the defaults come from.
fn reference() -> AugmentOptions {
    AugmentOptions::new(Task::SST2, PathBuf::new(), PathBuf::new(), PathBuf::new())
}

impl Job for Augment {
    const KIND: &'static str = "augment";
    const RESUMABLE: bool = true;

    fn validate(&self) -> Result<()> {
        check_data_dir(&self.task, self.data_dir.as_deref())
    }

    fn inputs(&self) -> Vec<Input<'_>> {
        let mut v = vec![
            Input::Model("teacher", &self.teacher),
            Input::path("glove", &self.glove),
        ];
        v.extend(Input::task(self.data_dir.as_deref(), &self.task));
        v
    }

    fn run(&self, ctx: &Ctx, out: &Path) -> Result<()> {
        let dir = ctx.model(&self.teacher)?;
        let model_opts = ModelOptions {
            device: ctx.device.clone(),
            compute: self.dtype,
            heads: Heads {
                mlm: Want::IfPresent,
                ..Heads::NONE
            },
            ..Default::default()
        };
        let teacher = Model::load(&dir, &model_opts)
            .with_context(|| format!("loading the teacher {}", dir.display()))?;
        if teacher.mlm_head.is_none() {
            bail!(
                "teacher: {} has no masked-LM head (`cls.predictions.*`): fit one with `tinybert distill mlm-head` (an `mlm-head` stage)",
                dir.display()
            );
        }
        let (tok, hash) = ctx.tokenizer(&dir)?;
        let task = self.task.resolve(ctx)?;
        let mut o = AugmentOptions::new(
            task,
            ctx.path(self.data_dir.as_deref().unwrap_or_default()),
            ctx.path(&self.glove),
            out.to_path_buf(),
        );
        o.glove_words = self.glove_words;
        o.n_aug = self.n_aug;
        o.k = self.k;
        o.p = self.p;
        o.seed = self.seed;
        o.max_seq_len = self.max_seq_len;
        o.batch_size = self.batch_size;
        o.limit = self.limit.filter(|&l| l > 0);
        o.chunk_size = self.chunk_size;
        o.shard_size = self.shard_size;
        o.skip_bad_rows = self.skip_bad_rows;
        o.log_candidates = self.log_candidates.as_ref().map(|p| ctx.path(p));
        o.stop = Some(ctx.stop.clone());
        let bar = DataBar::examples(&ctx.progress, &format!("augment {task}"));
        match augment_glue(&o, &teacher, &tok, &hash, &bar)? {
            AugmentOutcome::Done(s) => ctx.say(&format!(
                "{task}: {} examples -> {} rows (N_a {}, K {}, p {}; {} truncated to {}); {} MLM sequences ({:.1}% of their candidates new whole words), {} GloVe lookups; {:.1} s, {:.2} examples/s{} -> {}",
                s.examples,
                s.output_rows,
                s.settings.draw.n_aug,
                s.settings.draw.k,
                s.settings.draw.p,
                s.truncated,
                s.max_seq_len,
                s.mlm_forwards,
                100.0 * s.work.mlm_new_words as f64 / s.work.mlm_candidates.max(1) as f64,
                s.glove_lookups,
                s.seconds,
                s.examples_per_s,
                if s.resumed_chunks > 0 {
                    format!(" ({} of {} chunks resumed)", s.resumed_chunks, s.chunks)
                } else {
                    String::new()
                },
                out.display()
            )),
            AugmentOutcome::Stopped { chunks_done, chunks } => bail!(
                "{task}: interrupted after {chunks_done} of {chunks} chunks (kept in {}); rerun the same command to continue",
                out.join("partial").display()
            ),
        }
        Ok(())
    }
}
