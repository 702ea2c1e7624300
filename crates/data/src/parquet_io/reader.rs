//! Reading dataset files: shard discovery, metadata, and rows.

use super::arrays;
use crate::error::{Error, Result};
use crate::example::{Example, Instance};
use crate::schema::{DatasetKind, DatasetMeta};
use arrow::array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::fs::File;
use std::path::{Path, PathBuf};

/// The Parquet files of a dataset: `path` itself if it is a file, else the folder's
/// `part-*.parquet` in name order.
pub fn dataset_files(path: &Path) -> Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries = std::fs::read_dir(path).map_err(|e| Error::io(path, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(path, e))?;
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with("part-") && name.ends_with(".parquet") {
            files.push(entry.path());
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(Error::schema(path, "no part-*.parquet files"));
    }
    Ok(files)
}

fn open(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| Error::parquet(path, e))
}

fn meta_of(path: &Path, b: &ParquetRecordBatchReaderBuilder<File>) -> Result<DatasetMeta> {
    let kv = b
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .cloned()
        .unwrap_or_default();
    DatasetMeta::from_key_values(path, &kv)
}

/// The metadata of one Parquet file.
pub fn read_meta(path: &Path) -> Result<DatasetMeta> {
    meta_of(path, &open(path)?)
}

/// Number of rows of one Parquet file, from its footer.
pub fn row_count(path: &Path) -> Result<usize> {
    Ok(open(path)?.metadata().file_metadata().num_rows() as usize)
}

fn read_batches(path: &Path, kind: DatasetKind) -> Result<(DatasetMeta, Vec<RecordBatch>)> {
    let builder = open(path)?;
    let meta = meta_of(path, &builder)?;
    if meta.kind != kind {
        return Err(Error::schema(
            path,
            format!("dataset kind is {:?}, expected {kind:?}", meta.kind),
        ));
    }
    let reader = builder
        .with_batch_size(8192)
        .build()
        .map_err(|e| Error::parquet(path, e))?;
    let batches = reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::arrow(path, e))?;
    Ok((meta, batches))
}

/// Reads the GLUE examples of one Parquet file.
pub fn read_examples(path: &Path) -> Result<(DatasetMeta, Vec<Example>)> {
    read_rows(path, DatasetKind::Glue, arrays::examples_from_batch)
}

/// Reads the pre-training instances of one Parquet file.
pub fn read_instances(path: &Path) -> Result<(DatasetMeta, Vec<Instance>)> {
    read_rows(path, DatasetKind::Pretraining, arrays::instances_from_batch)
}

/// Reads the rows of one Parquet file of `kind`, each record batch converted by `from_batch`.
fn read_rows<T>(
    path: &Path,
    kind: DatasetKind,
    from_batch: fn(&RecordBatch) -> std::result::Result<Vec<T>, String>,
) -> Result<(DatasetMeta, Vec<T>)> {
    let (meta, batches) = read_batches(path, kind)?;
    let mut out = Vec::new();
    for b in &batches {
        out.extend(from_batch(b).map_err(|m| Error::schema(path, m))?);
    }
    Ok((meta, out))
}
