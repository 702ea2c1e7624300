//! Per-example predictions of `tinybert eval glue` as one Parquet file per split.
//!
//! | column | type | meaning |
//! |---|---|---|
//! | `guid` | utf8 | the example's guid (the file's `index`/`id` column, else its 0-based row) |
//! | `prediction` | int64 class id (into `tinybert.labels`) or float32 value (STS-B) | |
//! | `label` | int64 / float32, null where the split has no labels (test) | gold label |
//! | `logits` | `list<float32>` | the classifier's outputs (one for STS-B) |
//!
//! Key-value metadata: `tinybert.task`, `tinybert.split`, `tinybert.labels` (JSON list of the
//! class names in id order, empty for STS-B) and `tinybert.model` (the evaluated folder).
//! Rows are in the split's order.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Float32Array, Int64Array, ListArray, RecordBatch, StringArray,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Field, Float32Type, Int64Type, Schema, SchemaRef,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use tinybert_data::{Label, Task};

use crate::column::PredictionColumn;
use crate::error::{Error, Result};
use tinybert_model::io::write_atomic_with;

/// Metadata keys of a predictions file.
pub mod keys {
    pub const TASK: &str = "tinybert.task";
    pub const SPLIT: &str = "tinybert.split";
    pub const LABELS: &str = "tinybert.labels";
    pub const MODEL: &str = "tinybert.model";
}

/// One split's per-example predictions.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionTable {
    pub task: Task,
    pub split: String,
    /// The evaluated model folder, as given.
    pub model: String,
    pub guids: Vec<String>,
    pub predictions: PredictionColumn,
    /// Gold labels ([`Label::None`] on test splits).
    pub gold: Vec<Label>,
    pub logits: Vec<Vec<f32>>,
}

impl PredictionTable {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.guids.len()
    }

    /// True when there are no examples.
    pub fn is_empty(&self) -> bool {
        self.guids.is_empty()
    }

    fn check_lengths(&self, path: &Path) -> Result<()> {
        let n = self.guids.len();
        let lengths = [
            ("prediction", self.predictions.len()),
            ("label", self.gold.len()),
            ("logits", self.logits.len()),
        ];
        match lengths.iter().find(|(_, len)| *len != n) {
            Some((name, len)) => Err(Error::invalid(
                path,
                *name,
                format!("{len} rows, but {n} guids"),
            )),
            None => Ok(()),
        }
    }
}

fn schema(regression: bool) -> SchemaRef {
    let value = if regression {
        DataType::Float32
    } else {
        DataType::Int64
    };
    Arc::new(Schema::new(vec![
        Field::new("guid", DataType::Utf8, false),
        Field::new("prediction", value.clone(), false),
        Field::new("label", value, true),
        Field::new(
            "logits",
            DataType::List(Arc::new(Field::new_list_field(DataType::Float32, false))),
            false,
        ),
    ]))
}

fn record_batch(
    table: &PredictionTable,
) -> std::result::Result<RecordBatch, arrow::error::ArrowError> {
    let regression = matches!(table.predictions, PredictionColumn::Values(_));
    let guid: ArrayRef = Arc::new(StringArray::from_iter_values(
        table.guids.iter().map(String::as_str),
    ));
    let (prediction, label): (ArrayRef, ArrayRef) = match &table.predictions {
        PredictionColumn::Values(v) => (
            Arc::new(Float32Array::from(v.clone())),
            Arc::new(Float32Array::from_iter(
                table.gold.iter().map(|l| l.score()),
            )),
        ),
        PredictionColumn::Classes(c) => (
            Arc::new(Int64Array::from_iter_values(
                c.iter().map(|&c| i64::from(c)),
            )),
            Arc::new(Int64Array::from_iter(
                table.gold.iter().map(|l| l.class().map(i64::from)),
            )),
        ),
    };
    let offsets = OffsetBuffer::<i32>::from_lengths(table.logits.iter().map(Vec::len));
    let flat: Vec<f32> = table.logits.iter().flatten().copied().collect();
    let logits: ArrayRef = Arc::new(ListArray::try_new(
        Arc::new(Field::new_list_field(DataType::Float32, false)),
        offsets,
        Arc::new(Float32Array::from(flat)),
        None,
    )?);
    RecordBatch::try_new(schema(regression), vec![guid, prediction, label, logits])
}

/// Writes `table` to `path` (through a temporary file and a rename).
pub fn write_predictions(path: &Path, table: &PredictionTable) -> Result<()> {
    table.check_lengths(path)?;
    let batch = record_batch(table).map_err(|e| tinybert_data::Error::arrow(path, e))?;
    let labels: Vec<&str> = table.task.labels().to_vec();
    let metadata = vec![
        KeyValue::new(keys::TASK.into(), table.task.name().to_string()),
        KeyValue::new(keys::SPLIT.into(), table.split.clone()),
        KeyValue::new(keys::LABELS.into(), serde_json::json!(labels).to_string()),
        KeyValue::new(keys::MODEL.into(), table.model.clone()),
    ];
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_key_value_metadata(Some(metadata))
        .build();
    write_atomic_with(path, |tmp| {
        let parquet = |e| tinybert_data::Error::parquet(tmp, e);
        let file = File::create(tmp).map_err(|e| Error::io(tmp, e))?;
        let mut writer =
            ArrowWriter::try_new(file, batch.schema(), Some(props)).map_err(parquet)?;
        writer.write(&batch).map_err(parquet)?;
        writer.close().map_err(parquet)?;
        Ok(())
    })
}

/// Reads a predictions file written by [`write_predictions`].
pub fn read_predictions(path: &Path) -> Result<PredictionTable> {
    let parquet = |e| tinybert_data::Error::parquet(path, e);
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet)?;
    let kv = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .cloned()
        .unwrap_or_default();
    let get = |key: &str| -> Result<String> {
        kv.iter()
            .find(|e| e.key == key)
            .and_then(|e| e.value.clone())
            .ok_or_else(|| Error::invalid(path, key, "missing from the file's metadata"))
    };
    let task: Task = get(keys::TASK)?
        .parse()
        .map_err(|e: tinybert_data::Error| Error::invalid(path, keys::TASK, e.to_string()))?;
    let mut table = PredictionTable {
        task,
        split: get(keys::SPLIT)?,
        model: get(keys::MODEL)?,
        guids: Vec::new(),
        predictions: if task.is_regression() {
            PredictionColumn::Values(Vec::new())
        } else {
            PredictionColumn::Classes(Vec::new())
        },
        gold: Vec::new(),
        logits: Vec::new(),
    };
    let reader = builder.build().map_err(parquet)?;
    for batch in reader {
        let batch = batch.map_err(|e| tinybert_data::Error::arrow(path, e))?;
        append(&mut table, &batch).map_err(|m| Error::invalid(path, "columns", m))?;
    }
    Ok(table)
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> std::result::Result<&'a ArrayRef, String> {
    batch
        .column_by_name(name)
        .ok_or_else(|| format!("no column `{name}`"))
}

fn wrong_type(name: &str, array: &ArrayRef) -> String {
    format!("column `{name}` has type {}", array.data_type())
}

/// Appends one record batch's rows to `table`; the error is a message.
fn append(table: &mut PredictionTable, batch: &RecordBatch) -> std::result::Result<(), String> {
    let guid_col = column(batch, "guid")?;
    let guid = guid_col
        .as_string_opt::<i32>()
        .ok_or_else(|| wrong_type("guid", guid_col))?;
    let (pred_col, label_col) = (column(batch, "prediction")?, column(batch, "label")?);
    let logits_col = column(batch, "logits")?;
    let logits = logits_col
        .as_list_opt::<i32>()
        .ok_or_else(|| wrong_type("logits", logits_col))?;
    let logit_values = logits
        .values()
        .as_primitive_opt::<Float32Type>()
        .ok_or_else(|| wrong_type("logits", logits_col))?;
    let offsets = logits.value_offsets();
    for r in 0..batch.num_rows() {
        table.guids.push(guid.value(r).to_string());
        let (start, end) = (offsets[r] as usize, offsets[r + 1] as usize);
        table
            .logits
            .push(logit_values.values()[start..end].to_vec());
    }
    match &mut table.predictions {
        PredictionColumn::Classes(out) => {
            let class = |v: i64, r: usize| {
                u32::try_from(v).map_err(|_| format!("row {r}: class id {v} is out of range"))
            };
            append_rows::<Int64Type, _>(
                pred_col,
                label_col,
                out,
                &mut table.gold,
                class,
                Label::Class,
            )
        }
        PredictionColumn::Values(out) => append_rows::<Float32Type, _>(
            pred_col,
            label_col,
            out,
            &mut table.gold,
            |v, _| Ok(v),
            Label::Score,
        ),
    }
}

/// Appends the `prediction` column's values (as `value` reads them; it gets the row too) to
/// `out` and the `label` column's to `gold` (nulls as [`Label::None`]); both columns must have
/// the arrow type `T`.
fn append_rows<T: ArrowPrimitiveType, V>(
    pred_col: &ArrayRef,
    label_col: &ArrayRef,
    out: &mut Vec<V>,
    gold: &mut Vec<Label>,
    value: impl Fn(T::Native, usize) -> std::result::Result<V, String>,
    label: fn(V) -> Label,
) -> std::result::Result<(), String> {
    let p = pred_col
        .as_primitive_opt::<T>()
        .ok_or_else(|| wrong_type("prediction", pred_col))?;
    let l = label_col
        .as_primitive_opt::<T>()
        .ok_or_else(|| wrong_type("label", label_col))?;
    for r in 0..p.len() {
        out.push(value(p.value(r), r)?);
        gold.push(if l.is_valid(r) {
            label(value(l.value(r), r)?)
        } else {
            Label::None
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinybert_testkit::assert_mentions;

    fn table(task: Task, predictions: PredictionColumn, gold: Vec<Label>) -> PredictionTable {
        let n = predictions.len();
        PredictionTable {
            task,
            split: "dev".into(),
            model: "models/tiny".into(),
            guids: (0..n).map(|i| format!("g{i}")).collect(),
            predictions,
            gold,
            logits: (0..n).map(|i| vec![i as f32, -(i as f32)]).collect(),
        }
    }

    /// Writes `t` and reads it back unchanged.
    fn assert_round_trips(t: PredictionTable) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.parquet");
        write_predictions(&path, &t).unwrap();
        assert_eq!(read_predictions(&path).unwrap(), t);
    }

    #[test]
    fn classification_predictions_round_trip_with_null_labels() {
        assert_round_trips(table(
            Task::MNLI,
            PredictionColumn::Classes(vec![2, 0, 1]),
            vec![Label::Class(2), Label::None, Label::Class(0)],
        ));
    }

    #[test]
    fn regression_predictions_round_trip() {
        assert_round_trips(table(
            Task::STSB,
            PredictionColumn::Values(vec![1.5, 4.25]),
            vec![Label::Score(2.0), Label::Score(4.0)],
        ));
    }

    #[test]
    fn mismatched_lengths_are_rejected_naming_the_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.parquet");
        let t = table(
            Task::RTE,
            PredictionColumn::Classes(vec![0, 1]),
            vec![Label::Class(0)],
        );
        let err = write_predictions(&path, &t).unwrap_err().to_string();
        assert_mentions(&err, &["label", "1 rows, but 2 guids"]);
        assert!(!path.exists());
    }
}
