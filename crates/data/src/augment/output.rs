//! The final outputs, assembled from the completed chunks: `train_aug.tsv` in the task's own
//! format (the training file's header and columns, tab-separated, no quoting), and the
//! tokenised Parquet dataset made by reading that file back with the GLUE reader (so the two
//! always agree), each row carrying its `source_index`.

use super::partial::Partial;
use super::pipeline::AugmentOptions;
use super::source::{SourceFile, SPLIT};
use crate::encode::Encoder;
use crate::error::{Error, Result};
use crate::glue::{pad_id, read_glue_file, write_examples, ReadOptions};
use crate::parquet_io::ShardInfo;
use crate::schema::{DatasetKind, DatasetMeta, SCHEMA_VERSION};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use tokenizers::Tokenizer;

/// Name of the augmented training file in the output folder.
pub const TSV_NAME: &str = "train_aug.tsv";
/// The `split` recorded in the Parquet metadata.
pub const AUGMENTED_SPLIT: &str = "train_aug";

/// What [`write_outputs`] wrote.
pub struct Written {
    pub tsv: PathBuf,
    pub rows: usize,
    pub max_seq_len: usize,
    pub truncated: usize,
    pub shards: Vec<ShardInfo>,
}

/// Writes `train_aug.tsv` and the Parquet shards from the `chunks` chunks in `partial`.
pub fn write_outputs(
    opts: &AugmentOptions,
    source: &SourceFile,
    partial: &Partial,
    chunks: usize,
    tok: &Tokenizer,
    tokenizer_hash: &str,
) -> Result<Written> {
    let tsv = opts.output.join(TSV_NAME);
    let source_index = write_tsv(&tsv, source.header.as_deref(), partial, chunks)?;
    let file = read_glue_file(opts.task, SPLIT, &tsv, ReadOptions::default())?;
    if file.examples.len() != source_index.len() {
        return Err(Error::Invalid(format!(
            "{}: read back {} rows, wrote {}",
            tsv.display(),
            file.examples.len(),
            source_index.len()
        )));
    }
    let max_seq_len = opts.max_seq_len.unwrap_or(opts.task.default_max_seq_len());
    let mut encoded = Encoder::new(tok, max_seq_len)?.encode_all(&file.examples)?;
    for (ex, &i) in encoded.examples.iter_mut().zip(&source_index) {
        ex.source_index = Some(i);
    }
    let meta = DatasetMeta {
        kind: DatasetKind::Glue,
        schema_version: SCHEMA_VERSION,
        tokenizer_hash: tokenizer_hash.to_string(),
        max_seq_len,
        pad_id: pad_id(tok),
        task: Some(opts.task),
        split: Some(AUGMENTED_SPLIT.to_string()),
        labels: opts.task.labels().iter().map(|s| s.to_string()).collect(),
    };
    let shards = write_examples(&opts.output, &meta, &encoded.examples, opts.shard_size)?;
    Ok(Written {
        tsv,
        rows: encoded.examples.len(),
        max_seq_len,
        truncated: encoded.truncated,
        shards,
    })
}

/// Writes the header and every chunk's rows to `path` (atomically); returns the rows' source
/// indices in order.
fn write_tsv(
    path: &Path,
    header: Option<&str>,
    partial: &Partial,
    chunks: usize,
) -> Result<Vec<u64>> {
    let tmp = path.with_extension("tsv.tmp");
    let file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let io = |e| Error::io(&tmp, e);
    if let Some(h) = header {
        writeln!(w, "{h}").map_err(io)?;
    }
    let mut indices = Vec::new();
    for c in 0..chunks {
        for (index, cols) in partial.read(c)? {
            writeln!(w, "{}", cols.join("\t")).map_err(io)?;
            indices.push(index);
        }
    }
    w.into_inner()
        .map_err(|e| Error::io(&tmp, e.into_error()))?
        .sync_all()
        .map_err(io)?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    Ok(indices)
}
