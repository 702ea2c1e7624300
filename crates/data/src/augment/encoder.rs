//! The teacher's encoder evaluated for masked-LM candidates: every layer but the last in full,
//! the last one only at the masked rows (its keys and values still come from every position).
//! The MLM head reads nothing else, so the result equals the full encoder's output at those rows
//! while the last layer's attention output, feed-forward block and LayerNorms run on one row per
//! sequence instead of all of them. Layers run one at a time, so only one layer's attention
//! scores are alive at once.

use candle_core::{Module, Result, Tensor, D};
use tinybert_model::bert::additive_mask;
use tinybert_model::nn::activation;
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
    let (b, len) = ids.dims2()?;
    let dtype = bert.embeddings.word_embeddings.embeddings().dtype();
    let mask = additive_mask(&Tensor::ones((b, len), ids.dtype(), ids.device())?, dtype)?;
    let mut x = bert.embeddings.forward(ids, types, None)?;
    let Some((last, first)) = bert.layers.split_last() else {
        let h = x.dim(2)?;
        return x.reshape((b * len, h))?.index_select(rows, 0);
    };
    for layer in first {
        x = layer.forward(&x, &mask, None)?.0;
    }
    let h = x.dim(2)?;
    let heads = bert.config.num_attention_heads;
    let d = h / heads;
    let at_rows = x.reshape((b * len, h))?.index_select(rows, 0)?; // [b, h]
    let att = &last.attention;
    // [b, len, h] -> [b, heads, len, d]
    let split = |t: Tensor| -> Result<Tensor> {
        t.reshape((b, len, heads, d))?.transpose(1, 2)?.contiguous()
    };
    let q = att.query.forward(&at_rows)?.reshape((b, heads, 1, d))?;
    let k = split(att.key.forward(&x)?)?;
    let v = split(att.value.forward(&x)?)?;
    let scale = 1.0 / (d as f64).sqrt();
    let scores = (q.matmul(&k.t()?)? * scale)?.broadcast_add(&mask)?; // [b, heads, 1, len]
    let probs = candle_nn::ops::softmax(&scores, D::Minus1)?;
    let context = probs.matmul(&v)?.reshape((b, h))?;
    let attended = att
        .layer_norm
        .forward(&(att.output.forward(&context)? + &at_rows)?)?;
    let inter = activation(
        &bert.config.hidden_act,
        last.intermediate.forward(&attended)?,
    )?;
    last.output_layer_norm
        .forward(&(last.output.forward(&inter)? + attended)?)
}
