//! A classifier's outputs over a whole dataset, computed in length-sorted batches (little
//! padding) and put back in input order: the one loop behind evaluation's predictions and
//! task distillation's cached teacher logits.

use crate::batch::{collate, length_sorted_batches, Padding, Sequence};
use crate::error::Result;
use candle_core::{DType, Device, IndexOp};
use tinybert_model::Model;

/// Runs `model` (its classifier, in eval mode) over `items`, `batch_size` at a time, shortest
/// first; returns each item's logits as f32 on the CPU, in input order.
///
/// # Shapes
/// Each batch's logits are `[batch, num_labels]`; the result is `items.len()` rows of
/// `num_labels` values.
pub fn logits_in_order<S: Sequence>(
    model: &Model,
    items: &[S],
    batch_size: usize,
    pad_id: u32,
    device: &Device,
) -> Result<Vec<Vec<f32>>> {
    let mut logits = vec![Vec::new(); items.len()];
    for chunk in length_sorted_batches(items, batch_size) {
        let picked: Vec<&S> = chunk.iter().map(|&i| &items[i]).collect();
        let t = collate(&picked, Padding::Longest, pad_id)?.to_tensors(device)?;
        let out = model.forward_t(&t.input_ids, &t.token_type_ids, &t.attention_mask, false)?;
        let l = model
            .logits(&out)?
            .to_dtype(DType::F32)?
            .to_device(&Device::Cpu)?;
        for (row, &i) in chunk.iter().enumerate() {
            logits[i] = l.i(row)?.to_vec1::<f32>()?;
        }
    }
    Ok(logits)
}
