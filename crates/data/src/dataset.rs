//! Loading datasets written by this crate: what the trainers and the evaluation use.
//!
//! ```no_run
//! # fn main() -> tinybert_data::Result<()> {
//! use tinybert_data::{batches, shuffled_order, GlueDataset, Padding};
//! let ds = GlueDataset::open("out/sst2-train".as_ref())?;
//! ds.meta.require_tokenizer("…hash of the model's tokenizer…")?;
//! let order = shuffled_order(ds.len(), 42, 0);
//! for batch in batches(&ds.examples, &order, 32, Padding::Longest, ds.meta.pad_id) {
//!     let t = batch?.to_tensors(&candle_core::Device::Cpu)?;
//!     // t.input_ids, t.token_type_ids, t.attention_mask: [32, seq]; t.labels: [32]
//! }
//! # Ok(()) }
//! ```

use crate::error::{Error, Result};
use crate::example::{Example, Instance};
use crate::parquet_io::{dataset_files, read_examples, read_instances, read_meta, row_count};
use crate::schema::{DatasetKind, DatasetMeta};
use crate::task::Task;
use std::path::{Path, PathBuf};

fn same_meta(first: &DatasetMeta, other: &DatasetMeta, path: &Path) -> Result<()> {
    if first == other {
        Ok(())
    } else {
        Err(Error::schema(
            path,
            "metadata differs from the dataset's first shard (mixed datasets in one folder?)",
        ))
    }
}

/// A tokenised GLUE split held in memory.
#[derive(Debug, Clone)]
pub struct GlueDataset {
    pub meta: DatasetMeta,
    /// Examples in file order.
    pub examples: Vec<Example>,
}

impl GlueDataset {
    /// Loads a dataset folder (all `part-*.parquet`) or a single Parquet file.
    pub fn open(path: &Path) -> Result<Self> {
        let mut meta: Option<DatasetMeta> = None;
        let mut examples = Vec::new();
        for file in dataset_files(path)? {
            let (m, ex) = read_examples(&file)?;
            match &meta {
                Some(first) => same_meta(first, &m, &file)?,
                None => meta = Some(m),
            }
            examples.extend(ex);
        }
        let meta = meta.ok_or_else(|| Error::schema(path, "no dataset files"))?;
        Ok(Self { meta, examples })
    }

    /// The GLUE task recorded in the metadata.
    pub fn task(&self) -> Option<Task> {
        self.meta.task
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.examples.len()
    }

    /// True when there are no examples.
    pub fn is_empty(&self) -> bool {
        self.examples.is_empty()
    }
}

/// The shards of a pre-training instance dataset, read one at a time so that a corpus larger
/// than memory can be streamed.
#[derive(Debug, Clone)]
pub struct InstanceShards {
    pub meta: DatasetMeta,
    pub files: Vec<PathBuf>,
}

impl InstanceShards {
    /// Lists the shards of a dataset folder (or a single file) and reads the first footer.
    pub fn open(path: &Path) -> Result<Self> {
        let files = dataset_files(path)?;
        let meta = read_meta(&files[0])?;
        if meta.kind != DatasetKind::Pretraining {
            return Err(Error::schema(
                &files[0],
                "not a pre-training instance dataset",
            ));
        }
        Ok(Self { meta, files })
    }

    /// Total number of instances, from the files' footers.
    pub fn num_rows(&self) -> Result<usize> {
        self.files.iter().map(|f| row_count(f)).sum()
    }

    /// Reads shard `i`.
    pub fn read(&self, i: usize) -> Result<Vec<Instance>> {
        let file = self.files.get(i).ok_or_else(|| {
            Error::Invalid(format!("shard {i} of {} requested", self.files.len()))
        })?;
        let (meta, rows) = read_instances(file)?;
        same_meta(&self.meta, &meta, file)?;
        Ok(rows)
    }

    /// Reads every shard into memory.
    pub fn read_all(&self) -> Result<Vec<Instance>> {
        let mut all = Vec::new();
        for i in 0..self.files.len() {
            all.extend(self.read(i)?);
        }
        Ok(all)
    }
}
