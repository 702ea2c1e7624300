//! `corpus`: plain text into BERT pre-training instances ([`tinybert_data::build_corpus`]),
//! the input of general distillation and masked-LM training.
//!
//! ```toml
//! [stages.corpus]
//! kind = "corpus"
//! input = "data/wiki.txt"          # a file or folder, or a list of them (must be in deps)
//! model = "models/bert-base-uncased"   # whose tokenizer (a folder with vocab.txt is enough)
//! max_seq_len = 128                # optional; these are the defaults
//! short_seq_prob = 0.1
//! random_next = true               # B may come from another document
//! sentence_split = "sentences"     # or "lines": one segment per line
//! shard_size = 100000
//! seed = 42
//! block_mib = 4                    # text per processing block (the output depends on it)
//! deps = ["data/wiki.txt"]
//! outs = ["runs/corpus"]
//! ```

use super::common::{model_param, require_inputs, say};
use crate::pipeline::registry::{KindSpec, StageContext, StageKind};
use crate::pipeline::stage::ResolvedStage;
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;
use tinybert_data::corpus::DEFAULT_BLOCK_BYTES;
use tinybert_data::{build_corpus, CorpusOptions, InstanceConfig, Progress, SentenceSplit};
use tinybert_model::{load_tokenizer, tokenizer_hash};

/// The `corpus` kind.
pub struct Corpus;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    // Read through `require_inputs` and `model_param`; declared for the key check.
    #[serde(rename = "input")]
    _input: serde::de::IgnoredAny,
    #[serde(rename = "model")]
    _model: String,
    #[serde(default)]
    max_seq_len: Option<usize>,
    #[serde(default)]
    short_seq_prob: Option<f64>,
    #[serde(default)]
    random_next: Option<bool>,
    #[serde(default)]
    sentence_split: Option<SentenceSplit>,
    #[serde(default)]
    shard_size: Option<usize>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    block_mib: Option<u64>,
}

impl StageKind for Corpus {
    fn spec(&self) -> KindSpec {
        KindSpec {
            name: "corpus",
            required: &["input", "model"],
            optional: &[
                "max_seq_len",
                "short_seq_prob",
                "random_next",
                "sentence_split",
                "shard_size",
                "seed",
                "block_mib",
            ],
            resumable: false,
        }
    }

    fn check(&self, stage: &ResolvedStage) -> Result<()> {
        stage.config::<Params>()?;
        if require_inputs(stage, "input")?.is_empty() {
            bail!("`input` names no file");
        }
        stage.out()?;
        Ok(())
    }

    fn run(&self, stage: &ResolvedStage, ctx: &StageContext) -> Result<()> {
        let p: Params = stage.config()?;
        let inputs = require_inputs(stage, "input")?
            .iter()
            .map(|i| ctx.path(i))
            .collect();
        let model = model_param(stage, ctx, "model")?;
        let tok = load_tokenizer(&model)
            .with_context(|| format!("loading the tokenizer of {}", model.display()))?;
        let hash = tokenizer_hash(&tok)?;
        let out = ctx.path(stage.out()?);
        let mut opts = CorpusOptions::new(inputs, out.clone());
        let d = InstanceConfig::default();
        opts.instances = InstanceConfig {
            max_seq_len: p.max_seq_len.unwrap_or(d.max_seq_len),
            short_seq_prob: p.short_seq_prob.unwrap_or(d.short_seq_prob),
            random_next: p.random_next.unwrap_or(d.random_next),
        };
        opts.split = p.sentence_split.unwrap_or_default();
        opts.shard_size = p.shard_size.unwrap_or(opts.shard_size).max(1);
        opts.seed = p.seed.unwrap_or(opts.seed);
        opts.block_bytes = p.block_mib.unwrap_or(DEFAULT_BLOCK_BYTES >> 20).max(1) << 20;
        let bar = Bar(ctx.progress.add(ProgressBar::new(0)));
        let s = build_corpus(&opts, &tok, &hash, &bar)?;
        say(
            ctx,
            &format!(
                "corpus: {} documents, {} sentences, {} tokens -> {} instances in {} shard(s)",
                s.documents,
                s.sentences,
                s.tokens,
                s.instances,
                s.shards.len()
            ),
        );
        if s.instances == 0 {
            bail!("the corpus gave no instances (is the input empty?)");
        }
        Ok(())
    }
}

/// Input bytes read, on the runner's bars.
struct Bar(ProgressBar);

impl Progress for Bar {
    fn start(&self, total_bytes: Option<u64>) {
        if let Some(t) = total_bytes {
            self.0.set_length(t);
        }
        if let Ok(style) = ProgressStyle::with_template(
            "corpus [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({eta})",
        ) {
            self.0.set_style(style);
        }
    }

    fn advance(&self, bytes: u64, _tokens: u64) {
        self.0.inc(bytes);
    }

    fn finish(&self) {
        self.0.finish_and_clear();
    }
}
