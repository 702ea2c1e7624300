//! The teacher's encoder evaluated for masked-LM candidates: every layer but the last in full,
//! the last one only at the masked rows (its keys and values still come from every position).
//! The MLM head reads nothing else, so the result equals the full encoder's output at those rows
//! while the last layer's attention output, feed-forward block and LayerNorms run on one row per
//! sequence instead of all of them. The model computes it ([`BertModel::hidden_at_rows`]) with
//! the same attention code as its full forward pass, bf16 products included.

use candle_core::{Result, Tensor};
use tinybert_model::BertModel;

/// Last-layer hidden states at one row per sequence.
///
/// # Shapes
/// `ids`, `types`: `[b, len]` u32 (no padding); `rows`: `[b]` u32, the flat index `i * len + pos`
/// of sequence `i`'s row -> [b, hidden]
pub fn hidden_at_rows(
    bert: &BertModel,
    ids: &Tensor,
    types: &Tensor,
    rows: &Tensor,
) -> Result<Tensor> {
    bert.hidden_at_rows(ids, types, rows)
}
