//! `tinybert data corpus`: plain text -> sharded Parquet pre-training instances + `summary.json`.
//!
//! Streaming, in three stages: a reader thread cuts the corpus into blocks (about
//! `block_bytes` of whole documents); this thread splits each block's documents into sentences
//! and tokenises them in parallel (rayon, through the memoised [`CachedTokenizer`]), then packs
//! every document's instances in parallel into flat buffers; a writer thread turns them into
//! Parquet meanwhile. Each hand-over holds at most one block, so memory depends on the block
//! size (and the bounded chunk cache), not on the corpus size; only a single document is always
//! held whole.
//!
//! Deterministic for a seed: document `i` (corpus-wide, counting non-empty documents) draws
//! from its own generator seeded by `(seed, i)`, and random next segments come from other
//! documents of the same block, so the output depends on the seed and the block size only,
//! never on the thread count or scheduling.

use super::documents::{expand_inputs, Block, DocumentReader};
use super::instances::{
    document_instances, Document, DocumentSampler, InstanceBuffer, InstanceConfig, SpecialIds,
};
use super::split::SentenceSplit;
use super::word_cache::CachedTokenizer;
use crate::error::{Error, Result};
use crate::json::write_json;
use crate::parquet_io::{arrays, prepare_output_dir, ShardInfo, ShardWriter};
use crate::progress::Progress;
use crate::schema::{pretraining_schema, DatasetKind, DatasetMeta, SCHEMA_VERSION};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;
use std::time::Instant;
use tokenizers::Tokenizer;

/// Default text per block: bounds memory and is the window random next segments come from.
pub const DEFAULT_BLOCK_BYTES: u64 = 4 << 20;

/// What to build.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CorpusOptions {
    /// Text files or folders of them.
    pub inputs: Vec<PathBuf>,
    pub output: PathBuf,
    pub instances: InstanceConfig,
    pub split: SentenceSplit,
    /// Instances per Parquet shard.
    pub shard_size: usize,
    pub seed: u64,
    /// Text per processing block (see [`DEFAULT_BLOCK_BYTES`]).
    pub block_bytes: u64,
}

impl CorpusOptions {
    /// Options with the reference defaults (128 tokens, short-sequence probability 0.1,
    /// random next, sentence splitting, 100,000 instances per shard, seed 42).
    pub fn new(inputs: Vec<PathBuf>, output: PathBuf) -> Self {
        Self {
            inputs,
            output,
            instances: InstanceConfig::default(),
            split: SentenceSplit::default(),
            shard_size: 100_000,
            seed: 42,
            block_bytes: DEFAULT_BLOCK_BYTES,
        }
    }
}

/// Contents of a corpus dataset's `summary.json`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CorpusSummary {
    pub inputs: Vec<PathBuf>,
    pub input_bytes: u64,
    /// Non-empty documents.
    pub documents: u64,
    /// Segments (sentences, or lines without splitting) with at least one token.
    pub sentences: u64,
    pub instances: u64,
    /// Instances whose B came from another document.
    pub random_next_instances: u64,
    /// WordPiece tokens of the corpus.
    pub tokens: u64,
    /// Tokens of all instances, special tokens included.
    pub instance_tokens: u64,
    pub seconds: f64,
    /// Corpus tokens per second.
    pub tokens_per_s: f64,
    pub max_seq_len: usize,
    pub short_seq_prob: f64,
    pub random_next: bool,
    pub split: SentenceSplit,
    pub seed: u64,
    pub block_bytes: u64,
    pub tokenizer_hash: String,
    pub schema_version: u32,
    pub shards: Vec<ShardInfo>,
}

/// Counters of one processed block.
#[derive(Default)]
struct BlockStats {
    documents: u64,
    sentences: u64,
    tokens: u64,
}

/// Builds the instance dataset; `tokenizer_hash` is recorded in the files.
pub fn build_corpus(
    opts: &CorpusOptions,
    tok: &Tokenizer,
    tokenizer_hash: &str,
    progress: &dyn Progress,
) -> Result<CorpusSummary> {
    let started = Instant::now();
    let cfg = opts.instances;
    if cfg.max_seq_len < 8 {
        return Err(Error::Invalid(format!(
            "max sequence length {} is below the minimum 8",
            cfg.max_seq_len
        )));
    }
    if !(0.0..=1.0).contains(&cfg.short_seq_prob) {
        return Err(Error::Invalid(
            "short-sequence probability must be in [0, 1]".into(),
        ));
    }
    let special = special_ids(tok)?;
    let cached = CachedTokenizer::new(tok)?;
    let files = expand_inputs(&opts.inputs)?;
    let mut input_bytes = 0;
    for f in &files {
        input_bytes += std::fs::metadata(f).map_err(|e| Error::io(f, e))?.len();
    }
    let meta = DatasetMeta {
        kind: DatasetKind::Pretraining,
        schema_version: SCHEMA_VERSION,
        tokenizer_hash: tokenizer_hash.to_string(),
        max_seq_len: cfg.max_seq_len,
        pad_id: tok.token_to_id("[PAD]").unwrap_or(0),
        task: None,
        split: None,
        labels: Vec::new(),
    };
    prepare_output_dir(&opts.output)?;
    let schema = pretraining_schema();
    let writer = ShardWriter::new(&opts.output, schema.clone(), &meta, opts.shard_size)?;
    progress.start(Some(input_bytes));

    let mut summary = CorpusSummary {
        inputs: files.clone(),
        input_bytes,
        max_seq_len: cfg.max_seq_len,
        short_seq_prob: cfg.short_seq_prob,
        random_next: cfg.random_next,
        split: opts.split,
        seed: opts.seed,
        block_bytes: opts.block_bytes,
        tokenizer_hash: tokenizer_hash.to_string(),
        schema_version: SCHEMA_VERSION,
        ..CorpusSummary::default()
    };
    // Three stages: a reader thread, this thread (tokenising and packing on the rayon pool),
    // a writer thread; each hand-over holds at most one block.
    let (send, receive) = sync_channel::<InstanceBuffer>(1);
    let (send_block, receive_block) = sync_channel::<Result<Block>>(1);
    let output = opts.output.clone();
    let block_bytes = opts.block_bytes;
    let shards = std::thread::scope(|scope| -> Result<Vec<ShardInfo>> {
        let writer_thread = scope.spawn(move || write_instances(writer, &schema, receive, &output));
        scope.spawn(move || read_blocks(DocumentReader::new(files), block_bytes, send_block));
        let produced = (|| -> Result<()> {
            for block in receive_block {
                let block = block?;
                let (instances, stats) = process_block(&block, &cached, opts, special)?;
                summary.documents += stats.documents;
                summary.sentences += stats.sentences;
                summary.tokens += stats.tokens;
                summary.instances += instances.len() as u64;
                summary.random_next_instances +=
                    instances.is_random_next.iter().filter(|&&r| r).count() as u64;
                summary.instance_tokens += instances.input_ids.len() as u64;
                progress.advance(block.bytes, stats.tokens);
                if send.send(instances).is_err() {
                    break; // the writer failed; its error is reported below
                }
            }
            Ok(())
        })();
        drop(send);
        let written = writer_thread
            .join()
            .map_err(|_| Error::Invalid("the Parquet writer thread panicked".into()))?;
        produced?;
        written
    })?;
    progress.finish();
    if summary.instances == 0 {
        // An empty dataset would only fail later, in a trainer: refuse it here, leaving no
        // shard behind.
        prepare_output_dir(&opts.output)?;
        let path = match summary.inputs.as_slice() {
            [one] => one.clone(),
            many => PathBuf::from(
                many.iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        };
        let msg = if summary.documents == 0 {
            "no text: the corpus input is empty or blank (one sentence per line, a blank line              between documents)"
                .to_string()
        } else {
            format!(
                "no pre-training instances from {} document(s) of {} token(s)",
                summary.documents, summary.tokens
            )
        };
        return Err(Error::Input { path, msg });
    }
    summary.shards = shards;
    summary.seconds = started.elapsed().as_secs_f64();
    summary.tokens_per_s = summary.tokens as f64 / summary.seconds.max(1e-9);
    write_json(&opts.output.join("summary.json"), &summary)?;
    Ok(summary)
}

/// Sends the corpus's blocks (or the first read error) until the input ends or the receiver
/// hangs up.
fn read_blocks(
    mut reader: DocumentReader,
    block_bytes: u64,
    send: std::sync::mpsc::SyncSender<Result<Block>>,
) {
    loop {
        let next = reader.next_block(block_bytes).transpose();
        let Some(block) = next else { return };
        let failed = block.is_err();
        if send.send(block).is_err() || failed {
            return;
        }
    }
}

fn special_ids(tok: &Tokenizer) -> Result<SpecialIds> {
    let id = |t: &str| {
        tok.token_to_id(t)
            .ok_or_else(|| Error::Tokenize(format!("the vocabulary has no `{t}`")))
    };
    Ok(SpecialIds {
        cls: id("[CLS]")?,
        sep: id("[SEP]")?,
    })
}

/// Receives instance blocks and writes them into shards.
fn write_instances(
    mut writer: ShardWriter,
    schema: &arrow::datatypes::SchemaRef,
    receive: std::sync::mpsc::Receiver<InstanceBuffer>,
    dir: &Path,
) -> Result<Vec<ShardInfo>> {
    for instances in receive {
        let batch = arrays::instance_batch(schema, instances).map_err(|e| Error::arrow(dir, e))?;
        writer.write(&batch)?;
    }
    writer.finish()
}

/// Splits, tokenises and packs one block.
fn process_block(
    block: &Block,
    tok: &CachedTokenizer,
    opts: &CorpusOptions,
    special: SpecialIds,
) -> Result<(InstanceBuffer, BlockStats)> {
    // Documents are tokenised in parallel, sentence by sentence.
    let mut docs: Vec<Document> = block
        .documents
        .par_iter()
        .map(|raw| {
            let mut doc = Document::default();
            // About one token per 4.5 bytes of English text.
            let bytes: usize = raw.lines.iter().map(String::len).sum();
            doc.ids_mut().reserve(bytes / 4);
            for line in &raw.lines {
                for sentence in opts.split.split(line) {
                    tok.tokenize_into(sentence, doc.ids_mut())?;
                    doc.end_segment();
                }
            }
            Ok(doc)
        })
        .collect::<Result<_>>()?;
    docs.retain(|d| !d.is_empty());
    let stats = BlockStats {
        documents: docs.len() as u64,
        sentences: docs.iter().map(|d| d.len() as u64).sum(),
        tokens: docs.iter().map(|d| d.num_tokens() as u64).sum(),
    };
    let sampler = DocumentSampler::new(&docs);
    let per_doc: Vec<InstanceBuffer> = (0..docs.len())
        .into_par_iter()
        .map(|d| {
            let doc_index = block.first_document + d as u64;
            let mut rng = StdRng::seed_from_u64(document_seed(opts.seed, doc_index));
            let mut out = InstanceBuffer::default();
            document_instances(
                &docs,
                d,
                &sampler,
                &mut rng,
                &opts.instances,
                special,
                &mut out,
            );
            out
        })
        .collect();
    let mut all = InstanceBuffer::default();
    for b in &per_doc {
        all.append(b);
    }
    Ok((all, stats))
}

/// The generator seed of document `index` (SplitMix64 of the pair).
fn document_seed(seed: u64, index: u64) -> u64 {
    let mut z = seed
        .wrapping_add(index.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
