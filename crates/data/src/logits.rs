//! A classifier's outputs over a whole dataset, computed in length-sorted batches (little
//! padding) and put back in input order: the one loop behind evaluation's predictions and
//! task distillation's cached teacher logits.

use crate::batch::{collate, length_sorted_batches, Padding, Sequence};
use crate::error::Result;
use crate::progress::{NoProgress, Progress};
use candle_core::{DType, Device};
use std::sync::atomic::{AtomicBool, Ordering};
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
    logits_in_order_reporting(model, items, batch_size, pad_id, device, &NoProgress, None)
}

/// [`logits_in_order`], telling `progress` the number of items (`start`) and each finished
/// batch (`advance(rows, rows)`; `finish` is left to the caller), and checking `stop` before
/// each batch: once it is set, [`Error::Interrupted`](crate::Error::Interrupted).
pub fn logits_in_order_reporting<S: Sequence>(
    model: &Model,
    items: &[S],
    batch_size: usize,
    pad_id: u32,
    device: &Device,
    progress: &dyn Progress,
    stop: Option<&AtomicBool>,
) -> Result<Vec<Vec<f32>>> {
    let mut logits = vec![Vec::new(); items.len()];
    progress.start(Some(items.len() as u64));
    let mut done = 0;
    for chunk in length_sorted_batches(items, batch_size) {
        if stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
            return Err(crate::Error::Interrupted {
                done,
                total: items.len(),
            });
        }
        let picked: Vec<&S> = chunk.iter().map(|&i| &items[i]).collect();
        let t = collate(&picked, Padding::Longest, pad_id)?.to_tensors(device)?;
        let out = model.forward_t(&t.input_ids, &t.token_type_ids, &t.attention_mask, false)?;
        let l = model
            .logits(&out)?
            .to_dtype(DType::F32)?
            .to_device(&Device::Cpu)?;
        for (&i, row) in chunk.iter().zip(l.to_vec2::<f32>()?) {
            logits[i] = row;
        }
        progress.advance(chunk.len() as u64, chunk.len() as u64);
        done += chunk.len();
    }
    Ok(logits)
}
