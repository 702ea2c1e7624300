//! Conversion between examples/instances and Arrow record batches of [`crate::schema`].

use crate::corpus::instances::InstanceBuffer;
use crate::example::{Example, Instance, Label};
use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float32Array, Int64Array, ListArray, RecordBatch,
    StringArray, UInt32Array, UInt64Array, UInt8Array,
};
use arrow::buffer::{OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{
    DataType, Field, Float32Type, Int64Type, SchemaRef, UInt32Type, UInt64Type, UInt8Type,
};
use arrow::error::ArrowError;
use std::sync::Arc;

fn list_array<'a, T: Copy + 'a>(
    seqs: impl Iterator<Item = &'a [T]> + Clone,
    item: DataType,
    values: impl FnOnce(Vec<T>) -> ArrayRef,
) -> Result<ListArray, ArrowError> {
    let offsets = OffsetBuffer::<i32>::from_lengths(seqs.clone().map(|s| s.len()));
    let flat: Vec<T> = seqs.flat_map(|s| s.iter().copied()).collect();
    ListArray::try_new(
        Arc::new(Field::new_list_field(item, false)),
        offsets,
        values(flat),
        None,
    )
}

fn ids_column<'a>(seqs: impl Iterator<Item = &'a [u32]> + Clone) -> Result<ArrayRef, ArrowError> {
    let a = list_array(seqs, DataType::UInt32, |v| Arc::new(UInt32Array::from(v)))?;
    Ok(Arc::new(a))
}

fn types_column<'a>(seqs: impl Iterator<Item = &'a [u8]> + Clone) -> Result<ArrayRef, ArrowError> {
    let a = list_array(seqs, DataType::UInt8, |v| Arc::new(UInt8Array::from(v)))?;
    Ok(Arc::new(a))
}

fn length_column(lengths: impl Iterator<Item = usize>) -> ArrayRef {
    Arc::new(UInt32Array::from_iter_values(lengths.map(|l| l as u32)))
}

/// A record batch of GLUE examples in `schema` (from [`crate::schema::glue_schema`]).
pub fn glue_batch(schema: &SchemaRef, examples: &[Example]) -> Result<RecordBatch, ArrowError> {
    let regression = schema
        .field_with_name("label")
        .map(|f| f.data_type() == &DataType::Float32)?;
    let guid: ArrayRef = Arc::new(StringArray::from_iter_values(
        examples.iter().map(|e| e.guid.as_str()),
    ));
    let label: ArrayRef = if regression {
        Arc::new(Float32Array::from_iter(
            examples.iter().map(|e| e.label.score()),
        ))
    } else {
        Arc::new(Int64Array::from_iter(
            examples.iter().map(|e| e.label.class().map(i64::from)),
        ))
    };
    let mut columns = vec![
        guid,
        ids_column(examples.iter().map(|e| e.input_ids.as_slice()))?,
        types_column(examples.iter().map(|e| e.token_type_ids.as_slice()))?,
        length_column(examples.iter().map(|e| e.input_ids.len())),
        label,
    ];
    if schema.column_with_name("source_index").is_some() {
        columns.push(Arc::new(UInt64Array::from_iter(
            examples.iter().map(|e| e.source_index),
        )));
    }
    RecordBatch::try_new(schema.clone(), columns)
}

/// A record batch of pre-training instances in [`crate::schema::pretraining_schema`], built
/// from the buffer without copying the ids.
pub fn instance_batch(schema: &SchemaRef, buf: InstanceBuffer) -> Result<RecordBatch, ArrowError> {
    let lengths: Vec<u32> = buf
        .offsets
        .windows(2)
        .map(|w| (w[1] - w[0]) as u32)
        .collect();
    let offsets = OffsetBuffer::new(ScalarBuffer::from(buf.offsets));
    let ids = ListArray::try_new(
        Arc::new(Field::new_list_field(DataType::UInt32, false)),
        offsets.clone(),
        Arc::new(UInt32Array::from(buf.input_ids)),
        None,
    )?;
    let types = ListArray::try_new(
        Arc::new(Field::new_list_field(DataType::UInt8, false)),
        offsets,
        Arc::new(UInt8Array::from(buf.token_type_ids)),
        None,
    )?;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(ids),
        Arc::new(types),
        Arc::new(UInt32Array::from(lengths)),
        Arc::new(BooleanArray::from(buf.is_random_next)),
    ];
    RecordBatch::try_new(schema.clone(), columns)
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef, String> {
    batch
        .column_by_name(name)
        .ok_or_else(|| format!("no column `{name}`"))
}

fn lists<'a, T: arrow::datatypes::ArrowPrimitiveType>(
    batch: &'a RecordBatch,
    name: &str,
) -> Result<(&'a [i32], &'a [T::Native]), String> {
    let bad = || {
        format!(
            "column `{name}` has type {:?}, expected a list",
            batch
                .schema()
                .field_with_name(name)
                .map(|f| f.data_type().clone())
                .ok()
        )
    };
    let list = column(batch, name)?.as_list_opt::<i32>().ok_or_else(bad)?;
    let values = list.values().as_primitive_opt::<T>().ok_or_else(bad)?;
    Ok((list.value_offsets(), values.values()))
}

fn slice<T: Copy>(offsets: &[i32], values: &[T], row: usize) -> Vec<T> {
    values[offsets[row] as usize..offsets[row + 1] as usize].to_vec()
}

/// The `input_ids` and `token_type_ids` list columns every dataset has.
struct TokenColumns<'a> {
    id_off: &'a [i32],
    ids: &'a [u32],
    ty_off: &'a [i32],
    types: &'a [u8],
}

impl<'a> TokenColumns<'a> {
    fn of(batch: &'a RecordBatch) -> Result<Self, String> {
        let (id_off, ids) = lists::<UInt32Type>(batch, "input_ids")?;
        let (ty_off, types) = lists::<UInt8Type>(batch, "token_type_ids")?;
        Ok(Self {
            id_off,
            ids,
            ty_off,
            types,
        })
    }

    /// Row `r`'s ids and segment ids, which must be equally long.
    fn row(&self, r: usize) -> Result<(Vec<u32>, Vec<u8>), String> {
        let input_ids = slice(self.id_off, self.ids, r);
        let token_type_ids = slice(self.ty_off, self.types, r);
        if input_ids.len() != token_type_ids.len() {
            return Err(format!(
                "row {r}: input_ids and token_type_ids differ in length"
            ));
        }
        Ok((input_ids, token_type_ids))
    }
}

/// Reads GLUE examples back from a record batch; the error is a message.
pub fn examples_from_batch(batch: &RecordBatch) -> Result<Vec<Example>, String> {
    let guid = column(batch, "guid")?
        .as_string_opt::<i32>()
        .ok_or("column `guid` is not a string")?;
    let tokens = TokenColumns::of(batch)?;
    let label = column(batch, "label")?;
    let classes = label.as_primitive_opt::<Int64Type>();
    let scores = label.as_primitive_opt::<Float32Type>();
    if classes.is_none() && scores.is_none() {
        return Err(format!("column `label` has type {}", label.data_type()));
    }
    let source = batch
        .column_by_name("source_index")
        .map(|c| {
            c.as_primitive_opt::<UInt64Type>()
                .ok_or("column `source_index` is not uint64")
        })
        .transpose()?;
    (0..batch.num_rows())
        .map(|r| {
            let label = match (classes, scores) {
                (Some(c), _) if c.is_valid(r) => Label::Class(
                    u32::try_from(c.value(r)).map_err(|_| format!("row {r}: bad class id"))?,
                ),
                (_, Some(s)) if s.is_valid(r) => Label::Score(s.value(r)),
                _ => Label::None,
            };
            let (input_ids, token_type_ids) = tokens.row(r)?;
            Ok(Example {
                guid: guid.value(r).to_string(),
                input_ids,
                token_type_ids,
                label,
                source_index: source.and_then(|s| s.is_valid(r).then(|| s.value(r))),
            })
        })
        .collect()
}

/// Reads pre-training instances back from a record batch; the error is a message.
pub fn instances_from_batch(batch: &RecordBatch) -> Result<Vec<Instance>, String> {
    let tokens = TokenColumns::of(batch)?;
    let random = column(batch, "is_random_next")?
        .as_boolean_opt()
        .ok_or("column `is_random_next` is not boolean")?;
    (0..batch.num_rows())
        .map(|r| {
            let (input_ids, token_type_ids) = tokens.row(r)?;
            Ok(Instance {
                input_ids,
                token_type_ids,
                is_random_next: random.value(r),
            })
        })
        .collect()
}
