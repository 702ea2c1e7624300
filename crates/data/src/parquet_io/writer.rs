//! Sharded Parquet output: `part-00000.parquet`, `part-00001.parquet`, ... of at most
//! `shard_size` rows each, every file carrying the dataset's key-value metadata.
//!
//! Each shard is written through [`AtomicFile`] (temporary name, `fsync`, rename), so a crash
//! never leaves a half-written `part-*.parquet`.

use crate::error::{Error, Result};
use crate::schema::{DatasetKind, DatasetMeta};
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use std::path::{Path, PathBuf};
use tinybert_model::io::{is_temporary, AtomicFile};

/// Rows per Parquet row group: bounds the writer's memory.
const ROW_GROUP_ROWS: usize = 16_384;

/// The name of shard `index`.
pub fn shard_name(index: usize) -> String {
    format!("part-{index:05}.parquet")
}

/// A finished shard.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShardInfo {
    /// File name inside the output folder.
    pub file: String,
    pub rows: usize,
}

struct OpenShard {
    writer: ArrowWriter<AtomicFile>,
    path: PathBuf,
    rows: usize,
}

/// Writes record batches into consecutive shards.
pub struct ShardWriter {
    dir: PathBuf,
    schema: SchemaRef,
    props: WriterProperties,
    shard_size: usize,
    current: Option<OpenShard>,
    shards: Vec<ShardInfo>,
}

/// Creates `dir` and removes the shards and `summary.json` of an earlier run from it.
pub fn prepare_output_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().to_string();
        let stale = (name.starts_with("part-") && name.ends_with(".parquet"))
            || (is_temporary(&name) && name.starts_with(".part-"))
            || name == "summary.json";
        if stale {
            let p = entry.path();
            std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
        }
    }
    Ok(())
}

impl ShardWriter {
    /// Starts writing shards of at most `shard_size` rows into `dir` (which must exist).
    pub fn new(
        dir: &Path,
        schema: SchemaRef,
        meta: &DatasetMeta,
        shard_size: usize,
    ) -> Result<Self> {
        if shard_size == 0 {
            return Err(Error::Invalid("shard size must be at least 1".into()));
        }
        // Pre-training shards are large and their ids nearly uniform over the vocabulary:
        // dictionary encoding costs more time than it saves space there (snappy still applies).
        let dictionary = meta.kind != DatasetKind::Pretraining;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_dictionary_enabled(dictionary)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS.min(shard_size)))
            .set_key_value_metadata(Some(meta.to_key_values()))
            .build();
        Ok(Self {
            dir: dir.to_path_buf(),
            schema,
            props,
            shard_size,
            current: None,
            shards: Vec::new(),
        })
    }

    /// Appends `batch`, starting new shards as they fill.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut offset = 0;
        while offset < batch.num_rows() {
            let shard = match self.current.as_mut() {
                Some(s) => s,
                None => self.current.insert(self.open()?),
            };
            let take = (self.shard_size - shard.rows).min(batch.num_rows() - offset);
            shard
                .writer
                .write(&batch.slice(offset, take))
                .map_err(|e| Error::parquet(&shard.path, e))?;
            shard.rows += take;
            offset += take;
            if shard.rows == self.shard_size {
                self.close_current()?;
            }
        }
        Ok(())
    }

    /// Closes the last shard and returns all shards written (one empty shard for an empty
    /// dataset, so that its metadata is still recorded).
    pub fn finish(mut self) -> Result<Vec<ShardInfo>> {
        if self.current.is_none() && self.shards.is_empty() {
            self.current = Some(self.open()?);
        }
        self.close_current()?;
        Ok(self.shards)
    }

    fn open(&self) -> Result<OpenShard> {
        let name = shard_name(self.shards.len());
        let path = self.dir.join(&name);
        let file = AtomicFile::create(&path)?;
        let writer = ArrowWriter::try_new(file, self.schema.clone(), Some(self.props.clone()))
            .map_err(|e| Error::parquet(&path, e))?;
        Ok(OpenShard {
            writer,
            path,
            rows: 0,
        })
    }

    fn close_current(&mut self) -> Result<()> {
        if let Some(shard) = self.current.take() {
            shard
                .writer
                .into_inner()
                .map_err(|e| Error::parquet(&shard.path, e))?
                .commit()?;
            self.shards.push(ShardInfo {
                file: shard_name(self.shards.len()),
                rows: shard.rows,
            });
        }
        Ok(())
    }
}
