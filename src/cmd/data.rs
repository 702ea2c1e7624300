//! `tinybert data ...`: corpus -> pre-training instances, GLUE split -> tokenised dataset.

use crate::GlobalArgs;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tinybert_data::corpus::DEFAULT_BLOCK_BYTES;
use tinybert_data::{
    build_corpus, build_glue, CorpusOptions, GlueBuildOptions, InstanceConfig, Progress,
    SentenceSplit, Task,
};
use tinybert_model::{load_tokenizer, resolve_model, tokenizer_hash};

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Plain text (a sentence or a paragraph per line, blank line between documents) into BERT
    /// pre-training instances: sharded Parquet + summary.json.
    Corpus(CorpusArgs),
    /// One GLUE split into a tokenised Parquet dataset + summary.json.
    Glue(GlueArgs),
}

#[derive(Debug, Args)]
pub struct CorpusArgs {
    /// Text files or folders of them (read in name order).
    #[arg(long, required = true, num_args = 1..)]
    pub input: Vec<PathBuf>,
    /// Model folder (or hub id) whose tokenizer is used.
    #[arg(long)]
    pub model: String,
    /// Maximum instance length, special tokens included.
    #[arg(long, default_value_t = 128)]
    pub max_seq_len: usize,
    /// Output folder (part-*.parquet, summary.json).
    #[arg(long)]
    pub output: PathBuf,
    /// Instances per Parquet shard.
    #[arg(long, default_value_t = 100_000)]
    pub shard_size: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Probability of a shorter target length per document.
    #[arg(long, default_value_t = 0.1)]
    pub short_seq_prob: f64,
    /// B is always A's continuation (no random next segment from another document).
    #[arg(long)]
    pub one_seq: bool,
    /// One segment per line (do not split lines into sentences).
    #[arg(long)]
    pub no_sentence_split: bool,
    /// Text per processing block in MiB (memory bound; the window random next segments come
    /// from). The output depends on it.
    #[arg(long, default_value_t = DEFAULT_BLOCK_BYTES >> 20)]
    pub block_mib: u64,
}

#[derive(Debug, Args)]
pub struct GlueArgs {
    /// CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE or WNLI.
    #[arg(long)]
    pub task: String,
    /// GLUE root folder (holding SST-2/ ...) or the task's own folder.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// train, dev, test (MNLI: train, dev_matched, dev_mismatched, test_matched, test_mismatched).
    #[arg(long)]
    pub split: String,
    /// Model folder (or hub id) whose tokenizer is used.
    #[arg(long)]
    pub model: String,
    /// Maximum length, special tokens included (default 64 for single sentences, 128 for pairs).
    #[arg(long)]
    pub max_seq_len: Option<usize>,
    /// Output folder (part-*.parquet, summary.json).
    #[arg(long)]
    pub output: PathBuf,
    /// Skip malformed rows (counted and listed in summary.json) instead of failing.
    #[arg(long)]
    pub skip_bad_rows: bool,
    /// Rows per Parquet shard.
    #[arg(long, default_value_t = 1_000_000)]
    pub shard_size: usize,
}

pub fn run(cmd: DataCommand, _g: &GlobalArgs) -> Result<()> {
    match cmd {
        DataCommand::Corpus(a) => corpus(a),
        DataCommand::Glue(a) => glue(a),
    }
}

fn tokenizer(model: &str) -> Result<(tokenizers::Tokenizer, String)> {
    let dir = resolve_model(model)?;
    let tok = load_tokenizer(&dir).with_context(|| format!("loading the tokenizer of {model}"))?;
    let hash = tokenizer_hash(&tok)?;
    Ok((tok, hash))
}

fn corpus(a: CorpusArgs) -> Result<()> {
    let (tok, hash) = tokenizer(&a.model)?;
    let mut opts = CorpusOptions::new(a.input, a.output.clone());
    opts.instances = InstanceConfig {
        max_seq_len: a.max_seq_len,
        short_seq_prob: a.short_seq_prob,
        random_next: !a.one_seq,
    };
    opts.split = if a.no_sentence_split {
        SentenceSplit::Lines
    } else {
        SentenceSplit::Sentences
    };
    opts.shard_size = a.shard_size;
    opts.seed = a.seed;
    opts.block_bytes = a.block_mib.max(1) << 20;
    let bar = Bar::new();
    let s = build_corpus(&opts, &tok, &hash, &bar)?;
    println!(
        "{}: {} documents, {} sentences, {} tokens -> {} instances in {} shard(s); {:.1} s, {:.0} tokens/s",
        a.output.display(),
        s.documents,
        s.sentences,
        s.tokens,
        s.instances,
        s.shards.len(),
        s.seconds,
        s.tokens_per_s
    );
    Ok(())
}

fn glue(a: GlueArgs) -> Result<()> {
    let task: Task = a.task.parse()?;
    let (tok, hash) = tokenizer(&a.model)?;
    let opts = GlueBuildOptions {
        task,
        data_dir: a.data_dir,
        split: a.split,
        max_seq_len: a.max_seq_len,
        output: a.output.clone(),
        skip_bad_rows: a.skip_bad_rows,
        shard_size: a.shard_size,
    };
    let s = build_glue(&opts, &tok, &hash)?;
    for bad in &s.bad_rows {
        eprintln!(
            "skipped {}:{}: {}",
            s.source.display(),
            bad.line,
            bad.message
        );
    }
    if s.skipped_rows > s.bad_rows.len() {
        eprintln!("... {} skipped rows in all", s.skipped_rows);
    }
    let dist: Vec<String> = s
        .label_distribution
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    println!(
        "{} {}: {} rows ({} skipped, {} truncated to {}), labels {{{}}} -> {}",
        task,
        s.split,
        s.rows,
        s.skipped_rows,
        s.truncated,
        s.max_seq_len,
        dist.join(", "),
        a.output.display()
    );
    Ok(())
}

/// indicatif bar over input bytes, with corpus tokens/s.
struct Bar {
    bar: ProgressBar,
    tokens: AtomicU64,
    started: Instant,
}

impl Bar {
    fn new() -> Self {
        let bar = ProgressBar::hidden();
        Self {
            bar,
            tokens: AtomicU64::new(0),
            started: Instant::now(),
        }
    }
}

impl Progress for Bar {
    fn start(&self, total_bytes: Option<u64>) {
        self.bar
            .set_draw_target(indicatif::ProgressDrawTarget::stderr());
        if let Some(t) = total_bytes {
            self.bar.set_length(t);
        }
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        self.bar.set_style(style);
    }

    fn advance(&self, bytes: u64, tokens: u64) {
        let total = self.tokens.fetch_add(tokens, Ordering::Relaxed) + tokens;
        let rate = total as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        self.bar
            .set_message(format!("{total} tokens, {rate:.0} tokens/s"));
        self.bar.inc(bytes);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
