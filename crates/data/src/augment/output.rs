//! The final outputs, assembled chunk by chunk from `partial/` (memory stays bounded by a
//! chunk): `train_aug.tsv` in the task's own format (the training file's header and columns,
//! tab-separated, no quoting), and the tokenised Parquet dataset of exactly those rows — what
//! `data glue` makes of `train_aug.tsv` (same guids, labels and ids) — with `source_index`.

use super::options::AugmentOptions;
use super::partial::Partial;
use super::source::SourceFile;
use crate::encode::Encoder;
use crate::error::{Error, Result};
use crate::example::RawExample;
use crate::glue::pad_id;
use crate::parquet_io::{arrays, prepare_output_dir, ShardInfo, ShardWriter};
use crate::schema::{glue_schema, DatasetMeta};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use tinybert_model::io::AtomicFile;
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
    let task = opts.task;
    let max_seq_len = opts.max_seq_len.unwrap_or(task.default_max_seq_len());
    let encoder = Encoder::new(tok, max_seq_len)?;
    let meta = DatasetMeta::glue(
        task,
        AUGMENTED_SPLIT,
        tokenizer_hash,
        max_seq_len,
        pad_id(tok),
    );
    let dir = &opts.output;
    prepare_output_dir(dir)?;
    let schema = glue_schema(task.is_regression(), true);
    let mut shards = ShardWriter::new(dir, schema.clone(), &meta, opts.shard_size)?;

    let tsv = dir.join(TSV_NAME);
    let file = AtomicFile::create(&tsv)?;
    let tmp = file.tmp_path().to_path_buf();
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let io = |e| Error::io(&tmp, e);
    if let Some(h) = &source.header {
        writeln!(w, "{h}").map_err(io)?;
    }
    let (mut rows, mut truncated) = (0, 0);
    for c in 0..chunks {
        let chunk = partial.read(c)?;
        let mut raw = Vec::with_capacity(chunk.len());
        for (i, (index, cols)) in chunk.iter().enumerate() {
            writeln!(w, "{}", cols.join("\t")).map_err(io)?;
            raw.push(raw_example(source, rows + i, *index, cols)?);
        }
        let encoded = encoder.encode_all(&raw)?;
        let mut examples = encoded.examples;
        for (ex, (index, _)) in examples.iter_mut().zip(&chunk) {
            ex.source_index = Some(*index);
        }
        let batch = arrays::glue_batch(&schema, &examples).map_err(|e| Error::arrow(dir, e))?;
        shards.write(&batch)?;
        rows += chunk.len();
        truncated += encoded.truncated;
    }
    w.into_inner()
        .map_err(|e| Error::io(&tmp, e.into_error()))?
        .commit()?;
    Ok(Written {
        tsv,
        rows,
        max_seq_len,
        truncated,
        shards: shards.finish()?,
    })
}

/// Output row `row` (0-based in `train_aug.tsv`) as the GLUE reader reads it: the text
/// columns, the source example's label, and the guid column (or the row number).
fn raw_example(source: &SourceFile, row: usize, index: u64, cols: &[String]) -> Result<RawExample> {
    let src = source
        .rows
        .get(index as usize)
        .ok_or_else(|| Error::Invalid(format!("augmented row {row}: no source example {index}")))?;
    let col = |c: usize| -> Result<String> {
        cols.get(c).cloned().ok_or_else(|| {
            Error::Invalid(format!(
                "augmented row {row}: no column {c} (source line {})",
                src.line
            ))
        })
    };
    let text_b = match source.text_columns.get(1) {
        Some(&c) => Some(col(c)?),
        None => None,
    };
    Ok(RawExample {
        guid: match source.guid_column {
            Some(c) => col(c)?,
            None => row.to_string(),
        },
        text_a: col(source.text_columns.first().copied().unwrap_or(0))?,
        text_b,
        label: src.label,
        line: row + 1 + usize::from(source.header.is_some()),
    })
}
