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
    /// Augment a task's training set (SPEC §5: teacher MLM + GloVe candidates, N_a variants):
    /// train_aug.tsv, Parquet with source_index, summary.json. Resumable (Ctrl-C, rerun).
    Augment(AugmentArgs),
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

pub fn run(cmd: DataCommand, g: &GlobalArgs) -> Result<()> {
    match cmd {
        DataCommand::Corpus(a) => corpus(a),
        DataCommand::Glue(a) => glue(a),
        DataCommand::Augment(a) => augment(a, g),
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
        self.bar.inc(bytes);
        self.bar
            .set_message(format!("{total} tokens, {rate:.0} tokens/s"));
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[derive(Debug, Args)]
pub struct AugmentArgs {
    /// CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE or WNLI.
    #[arg(long)]
    pub task: String,
    /// GLUE root folder (holding SST-2/ ...) or the task's own folder; train.tsv is augmented.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Teacher model folder (or hub id) with a masked-LM head; its tokenizer is used.
    #[arg(long)]
    pub teacher: String,
    /// GloVe vectors (standard text format).
    #[arg(long)]
    pub glove: PathBuf,
    /// Only the first this many GloVe words are searched.
    #[arg(long, default_value_t = 100_000)]
    pub glove_words: usize,
    /// N_a: replacement rounds per field.
    #[arg(long, default_value_t = 20)]
    pub n_aug: usize,
    /// K: candidates per word.
    #[arg(long, default_value_t = 15)]
    pub k: usize,
    /// Replacement probability per candidate position and round.
    #[arg(long, default_value_t = 0.4)]
    pub p: f64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Maximum length of the tokenised output (default 64 for single sentences, 128 for pairs).
    #[arg(long)]
    pub max_seq_len: Option<usize>,
    /// Most masked sentences per teacher forward.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Only the first N training examples.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Examples per resumable chunk (kept in OUTPUT/partial/ until the run completes).
    #[arg(long, default_value_t = 512)]
    pub chunk_size: usize,
    /// Rows per Parquet shard.
    #[arg(long, default_value_t = 1_000_000)]
    pub shard_size: usize,
    /// Skip malformed training rows (counted) instead of failing.
    #[arg(long)]
    pub skip_bad_rows: bool,
    /// Output folder (train_aug.tsv, part-*.parquet, summary.json).
    #[arg(long)]
    pub output: PathBuf,
    /// Also write each candidate word's candidates to this JSON-lines file.
    #[arg(long)]
    pub log_candidates: Option<PathBuf>,
}

fn augment(a: AugmentArgs, g: &GlobalArgs) -> Result<()> {
    use tinybert_data::{augment_glue, AugmentOptions, AugmentOutcome};
    use tinybert_model::{Model, ModelOptions};
    let task: Task = a.task.parse()?;
    few_core_elementwise();
    let dir = resolve_model(&a.teacher)?;
    let opts = ModelOptions {
        device: crate::device::parse_device(&g.device)?,
        ..ModelOptions::default()
    };
    let teacher = Model::load(&dir, &opts)
        .with_context(|| format!("loading the teacher {}", dir.display()))?;
    let tok =
        load_tokenizer(&dir).with_context(|| format!("loading the tokenizer of {}", a.teacher))?;
    let hash = tokenizer_hash(&tok)?;
    let mut o = AugmentOptions::new(task, a.data_dir, a.glove, a.output.clone());
    o.glove_words = a.glove_words;
    o.n_aug = a.n_aug;
    o.k = a.k;
    o.p = a.p;
    o.seed = a.seed;
    o.max_seq_len = a.max_seq_len;
    o.batch_size = a.batch_size;
    o.limit = a.limit;
    o.chunk_size = a.chunk_size;
    o.shard_size = a.shard_size;
    o.skip_bad_rows = a.skip_bad_rows;
    o.log_candidates = a.log_candidates;
    o.stop = Some(augment_stop_flag());
    let bar = AugmentBar::new(task.name());
    match augment_glue(&o, &teacher, &tok, &hash, &bar)? {
        AugmentOutcome::Done(s) => println!(
            "{task}: {} examples -> {} rows ({} truncated to {}); {} MLM sequences, {} GloVe \
             lookups; {:.1} s, {:.2} examples/s{} -> {}",
            s.examples,
            s.output_rows,
            s.truncated,
            s.max_seq_len,
            s.mlm_forwards,
            s.glove_lookups,
            s.seconds,
            s.examples_per_s,
            if s.resumed_chunks > 0 {
                format!(" ({} of {} chunks resumed)", s.resumed_chunks, s.chunks)
            } else {
                String::new()
            },
            a.output.display()
        ),
        AugmentOutcome::Stopped {
            chunks_done,
            chunks,
        } => anyhow::bail!(
            "{task}: interrupted after {chunks_done} of {chunks} chunks (kept in {}); rerun \
             the same command to continue",
            a.output.join("partial").display()
        ),
    }
    Ok(())
}

/// On one or two cores, runs candle's element-wise CPU ops on the calling thread
/// (`CANDLE_NUM_THREADS=1`; matrix products still use every core) unless the variable is set:
/// its barrier pool's spin-waiting then costs more CPU than the parallelism gains (measured on a
/// 2-core machine: about 1.5x less CPU per MLM forward). Called before any tensor exists.
fn few_core_elementwise() {
    let threads = rayon::current_num_threads();
    if threads <= 2 && std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
        tracing::debug!("{threads} threads: CANDLE_NUM_THREADS=1");
    }
}

/// Set by Ctrl-C: augmentation stops after the current chunk (a second Ctrl-C quits at once).
fn augment_stop_flag() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    if let Err(e) = ctrlc::set_handler(move || {
        if f.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\ninterrupt: stopping after this chunk (Ctrl-C again to quit now)");
    }) {
        tracing::warn!("cannot install the Ctrl-C handler: {e}");
    }
    flag
}

/// Augmentation bar over training examples, with output rows and examples/s.
struct AugmentBar {
    bar: ProgressBar,
    rows: AtomicU64,
    done: AtomicU64,
    started: Instant,
}

impl AugmentBar {
    fn new(task: &str) -> Self {
        let bar = crate::progress::multi().add(ProgressBar::new(0));
        let style = ProgressStyle::with_template(
            "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} examples ({eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix(format!("augment {task}"));
        Self {
            bar,
            rows: AtomicU64::new(0),
            done: AtomicU64::new(0),
            started: Instant::now(),
        }
    }
}

impl Progress for AugmentBar {
    fn start(&self, total_examples: Option<u64>) {
        if let Some(t) = total_examples {
            self.bar.set_length(t);
        }
    }

    fn advance(&self, examples: u64, rows: u64) {
        let total_rows = self.rows.fetch_add(rows, Ordering::Relaxed) + rows;
        // Resumed chunks (0 new rows) do not count towards the rate.
        let done = if rows > 0 {
            self.done.fetch_add(examples, Ordering::Relaxed) + examples
        } else {
            self.done.load(Ordering::Relaxed)
        };
        let rate = done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        self.bar
            .set_message(format!("{total_rows} rows, {rate:.2} examples/s"));
        self.bar.inc(examples);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
