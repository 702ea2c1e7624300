//! `corpus` (`tinybert data corpus`): plain text into BERT pre-training instances
//! ([`tinybert_data::build_corpus`]), the input of general distillation and masked-LM training.
//!
//! ```toml
//! [stages.corpus]
//! kind = "corpus"
//! input = "data/wiki.txt"          # a file or folder, or a list of them (in deps)
//! model = "models/bert-base-uncased"   # whose tokenizer (a folder with vocab.txt is enough)
//! max_seq_len = 128                # optional; these are the defaults
//! short_seq_prob = 0.1
//! sentence_split = "sentences"     # or "lines": one segment per line
//! same_document = false            # true: B is always A's continuation
//! shard_size = 100000
//! seed = 42
//! block_mib = 4                    # text per processing block (the output depends on it)
//! outs = ["runs/corpus"]
//! ```

use super::values::{positive, probability};
use super::{Ctx, Input, Job};
use crate::progress::DataBar;
use anyhow::Result;
use clap::Args;
use std::path::Path;
use tinybert_data::corpus::DEFAULT_BLOCK_BYTES;
use tinybert_data::{build_corpus, CorpusOptions, InstanceConfig, SentenceSplit};

/// Plain text (a sentence or a paragraph per line, a blank line between documents) into BERT
/// pre-training instances: sharded Parquet and `summary.json`.
#[derive(Debug, Args)]
pub struct Corpus {
    /// Text files or folders of them (read in name order).
    #[arg(long, required = true, num_args = 1..)]
    pub input: Vec<String>,
    /// Model folder (or hub id) whose tokenizer is used.
    #[arg(long)]
    pub model: String,
    /// Maximum instance length, special tokens included.
    #[arg(long, default_value_t = InstanceConfig::default().max_seq_len, value_parser = positive)]
    pub max_seq_len: usize,
    /// Probability of a shorter target length per document.
    #[arg(long, default_value_t = InstanceConfig::default().short_seq_prob, value_parser = probability)]
    pub short_seq_prob: f64,
    /// How lines become segments: sentences (split each line) or lines.
    #[arg(long, default_value = "sentences", value_parser = sentence_split)]
    pub sentence_split: SentenceSplit,
    /// B is always A's continuation (no random next segment from another document).
    #[arg(long)]
    pub same_document: bool,
    /// Instances per Parquet shard.
    #[arg(long, default_value_t = 100_000, value_parser = positive)]
    pub shard_size: usize,
    /// Seed of the instance sampling.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Text per processing block in MiB (the memory bound, and the window random next
    /// segments come from: the output depends on it).
    #[arg(long, default_value_t = (DEFAULT_BLOCK_BYTES >> 20) as usize, value_parser = positive)]
    pub block_mib: usize,
}

fn sentence_split(s: &str) -> Result<SentenceSplit, String> {
    match s {
        "sentences" => Ok(SentenceSplit::Sentences),
        "lines" => Ok(SentenceSplit::Lines),
        _ => Err("expected sentences or lines".into()),
    }
}

impl Job for Corpus {
    const KIND: &'static str = "corpus";

    fn inputs(&self) -> Vec<Input<'_>> {
        let mut v: Vec<Input> = self.input.iter().map(|i| Input::path("input", i)).collect();
        v.push(Input::Model("model", &self.model));
        v
    }

    fn run(&self, ctx: &Ctx, out: &Path) -> Result<()> {
        let model = ctx.model(&self.model)?;
        let (tok, hash) = ctx.tokenizer(&model)?;
        let mut opts = CorpusOptions::new(
            self.input.iter().map(|i| ctx.path(i)).collect(),
            out.to_path_buf(),
        );
        opts.instances = InstanceConfig {
            max_seq_len: self.max_seq_len,
            short_seq_prob: self.short_seq_prob,
            random_next: !self.same_document,
        };
        opts.split = self.sentence_split;
        opts.shard_size = self.shard_size;
        opts.seed = self.seed;
        opts.block_bytes = (self.block_mib as u64) << 20;
        let bar = DataBar::bytes(&ctx.progress, "corpus");
        let s = build_corpus(&opts, &tok, &hash, &bar)?;
        ctx.say(&format!(
            "corpus: {} documents, {} sentences, {} tokens -> {} instances in {} shard(s); {:.1} s, {:.0} tokens/s -> {}",
            s.documents,
            s.sentences,
            s.tokens,
            s.instances,
            s.shards.len(),
            s.seconds,
            s.tokens_per_s,
            out.display()
        ));
        Ok(())
    }
}
