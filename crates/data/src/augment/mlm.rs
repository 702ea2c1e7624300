//! Candidates from the teacher's masked-LM head for single-piece words (SPEC §5 step 2),
//! batched.
//!
//! For a field with pieces `p_1 .. p_n` and the word at piece `i`, the teacher reads
//! `[CLS] p_1 .. [MASK] .. p_n [SEP] p_1 .. p_n [SEP]` (segment 0 up to the first `[SEP]`,
//! segment 1 after it; cut to the model's maximum length like the reference's 512) and the
//! candidates are the K highest-scoring vocabulary entries at the masked position, of which
//! `##` continuation pieces and the tokenizer's special tokens are dropped (the reference drops
//! `##` pieces only; a special token such as `[SEP]` is never a word to put into a sentence).
//!
//! Speed: every masked copy of a field has the same length, so queries are grouped by exact
//! length and run many per forward without any padding (each row's result is what an unbatched
//! forward gives), and the MLM head runs only at the masked rows ([n, hidden] -> [n, vocab]),
//! not at every position, and the last layer only there too ([`super::encoder`]).

use super::encoder::hidden_at_rows;
use crate::error::{Error, Result};
use candle_core::{DType, Device, Tensor};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;
use tinybert_model::{MlmHead, Model};
use tokenizers::Tokenizer;

/// Most tokens in one forward (bounds activation memory).
const MAX_BATCH_TOKENS: usize = 16_384;
/// Most attention-score elements (batch x heads x seq x seq) of one layer in one forward.
const MAX_ATTENTION_ELEMENTS: usize = 32 << 20;
/// The reference's hard cap on the MLM input length.
const REFERENCE_MAX_LEN: usize = 512;

/// One masked-word query: the pieces of a field and the (0-based) piece to mask.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MlmQuery {
    pub pieces: Arc<[u32]>,
    pub position: usize,
}

/// Work done by [`MlmPredictor::predict`].
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MlmStats {
    /// Masked sequences run through the teacher (one reference forward each).
    pub sequences: u64,
    /// Batched forwards.
    pub batches: u64,
    /// Tokens of all sequences.
    pub tokens: u64,
    pub seconds: f64,
}

impl MlmStats {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &MlmStats) {
        self.sequences += other.sequences;
        self.batches += other.batches;
        self.tokens += other.tokens;
        self.seconds += other.seconds;
    }
}

/// The teacher's MLM head as a candidate generator.
pub struct MlmPredictor<'a> {
    model: &'a Model,
    head: &'a MlmHead,
    tok: &'a Tokenizer,
    device: Device,
    cls: u32,
    sep: u32,
    mask: u32,
    /// Per vocabulary id: never a candidate (`##` piece, special token, unknown id).
    excluded: Vec<bool>,
    k: usize,
    max_len: usize,
    batch_size: usize,
}

/// One query as model input.
struct Input {
    ids: Vec<u32>,
    types: Vec<u32>,
    /// Index of `[MASK]` in `ids`.
    mask_at: usize,
}

impl<'a> MlmPredictor<'a> {
    /// A predictor returning (at most) `k` candidates per query, running at most `batch_size`
    /// sequences per forward. Fails when `model` has no MLM head or `tok` lacks
    /// `[CLS]`/`[SEP]`/`[MASK]`.
    pub fn new(model: &'a Model, tok: &'a Tokenizer, k: usize, batch_size: usize) -> Result<Self> {
        let head = model.mlm_head.as_ref().ok_or_else(|| {
            Error::Invalid(
                "the teacher has no masked-LM head (`cls.predictions.*`): augmentation needs \
                 one; fit it with `tinybert distill mlm-head`"
                    .into(),
            )
        })?;
        let id = |t: &str| {
            tok.token_to_id(t)
                .ok_or_else(|| Error::Tokenize(format!("the teacher's vocabulary has no `{t}`")))
        };
        let vocab = model.config.vocab_size;
        let special: Vec<u32> = tok
            .get_added_tokens_decoder()
            .into_iter()
            .filter(|(_, t)| t.special)
            .map(|(i, _)| i)
            .chain(
                ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
                    .iter()
                    .filter_map(|t| tok.token_to_id(t)),
            )
            .collect();
        let excluded = (0..vocab as u32)
            .map(|i| match tok.id_to_token(i) {
                Some(t) => t.starts_with("##") || special.contains(&i),
                None => true,
            })
            .collect();
        let device = model
            .bert
            .embeddings
            .word_embeddings
            .embeddings()
            .device()
            .clone();
        Ok(Self {
            model,
            head,
            tok,
            device,
            cls: id("[CLS]")?,
            sep: id("[SEP]")?,
            mask: id("[MASK]")?,
            excluded,
            k,
            max_len: model.config.max_position_embeddings.min(REFERENCE_MAX_LEN),
            batch_size: batch_size.max(1),
        })
    }

    /// The model input of `q`, or `None` when the masked piece falls beyond the maximum length
    /// (no candidates, as in the reference).
    fn input(&self, q: &MlmQuery) -> Option<Input> {
        let n = q.pieces.len();
        let mask_at = q.position + 1;
        if q.position >= n || mask_at >= self.max_len {
            return None;
        }
        let mut ids = Vec::with_capacity(2 * n + 3);
        ids.push(self.cls);
        ids.extend_from_slice(&q.pieces);
        ids[mask_at] = self.mask;
        ids.push(self.sep);
        ids.extend_from_slice(&q.pieces);
        ids.push(self.sep);
        ids.truncate(self.max_len);
        let first = (n + 2).min(ids.len());
        let types = (0..ids.len()).map(|i| u32::from(i >= first)).collect();
        Some(Input {
            ids,
            types,
            mask_at,
        })
    }

    /// Sequences per forward for inputs of length `len`.
    fn rows_per_batch(&self, len: usize) -> usize {
        let heads = self.model.config.num_attention_heads.max(1);
        let by_tokens = MAX_BATCH_TOKENS / len.max(1);
        let by_attention = MAX_ATTENTION_ELEMENTS / (heads * len * len).max(1);
        self.batch_size.min(by_tokens).min(by_attention).max(1)
    }

    /// The candidates of every query, in query order: the top-K pieces at the masked position
    /// (best first), without `##` pieces and special tokens.
    pub fn predict(&self, queries: &[MlmQuery]) -> Result<(Vec<Vec<String>>, MlmStats)> {
        let started = Instant::now();
        let mut stats = MlmStats::default();
        let mut out = vec![Vec::new(); queries.len()];
        let mut by_len: BTreeMap<usize, Vec<(usize, Input)>> = BTreeMap::new();
        for (qi, q) in queries.iter().enumerate() {
            if let Some(input) = self.input(q) {
                by_len.entry(input.ids.len()).or_default().push((qi, input));
            }
        }
        // Longest first, so that concurrent batches finish together.
        let batches: Vec<(usize, &[(usize, Input)])> = by_len
            .iter()
            .rev()
            .flat_map(|(&len, group)| {
                group
                    .chunks(self.rows_per_batch(len))
                    .map(move |b| (len, b))
            })
            .collect();
        let run = |&(len, batch): &(usize, &[(usize, Input)])| {
            let inputs: Vec<&Input> = batch.iter().map(|(_, i)| i).collect();
            self.top_k_batch(&inputs, len)
        };
        // On the CPU, batches run concurrently: one batch's single-threaded element-wise ops
        // overlap another's matrix products (each batch's result does not depend on it).
        let tops: Vec<Vec<Vec<u32>>> = if self.device.is_cpu() {
            batches
                .par_iter()
                .with_max_len(1)
                .map(run)
                .collect::<Result<_>>()?
        } else {
            batches.iter().map(run).collect::<Result<_>>()?
        };
        for ((len, batch), top) in batches.iter().zip(tops) {
            for ((qi, _), ids) in batch.iter().zip(top) {
                out[*qi] = ids
                    .into_iter()
                    .filter(|&id| !self.excluded.get(id as usize).copied().unwrap_or(true))
                    .filter_map(|id| self.tok.id_to_token(id))
                    .collect();
            }
            stats.batches += 1;
            stats.sequences += batch.len() as u64;
            stats.tokens += (batch.len() * len) as u64;
        }
        stats.seconds = started.elapsed().as_secs_f64();
        Ok((out, stats))
    }

    /// The top-K vocabulary ids (unfiltered) at the masked position of each input; all inputs
    /// have length `len`.
    ///
    /// # Shapes
    /// ids, types: [b, len] u32 -> hidden at the masked rows [b, hidden] -> logits [b, vocab]
    fn top_k_batch(&self, inputs: &[&Input], len: usize) -> Result<Vec<Vec<u32>>> {
        let b = inputs.len();
        let flat = |f: &dyn Fn(&Input) -> &[u32]| -> Vec<u32> {
            inputs.iter().flat_map(|i| f(i).iter().copied()).collect()
        };
        let ids = Tensor::from_vec(flat(&|i| &i.ids), (b, len), &self.device)?;
        let types = Tensor::from_vec(flat(&|i| &i.types), (b, len), &self.device)?;
        let rows: Vec<u32> = inputs
            .iter()
            .enumerate()
            .map(|(r, i)| (r * len + i.mask_at) as u32)
            .collect();
        let rows = Tensor::from_vec(rows, b, &self.device)?;
        let masked = hidden_at_rows(&self.model.bert, &ids, &types, &rows)?;
        let logits = self
            .head
            .forward(&masked)?
            .to_dtype(DType::F32)?
            .to_vec2::<f32>()?;
        Ok(logits.iter().map(|row| top_k(row, self.k)).collect())
    }
}

/// Indices of the `k` largest values, largest first; ties by lower index, NaN last.
pub fn top_k(values: &[f32], k: usize) -> Vec<u32> {
    let mut best: Vec<(f32, u32)> = Vec::with_capacity(k + 1);
    if k == 0 {
        return Vec::new();
    }
    for (i, &x) in values.iter().enumerate() {
        let v = if x.is_nan() { f32::NEG_INFINITY } else { x };
        if best.len() == k && v <= best[k - 1].0 {
            continue;
        }
        let at = best.partition_point(|&(s, _)| s >= v);
        best.insert(at, (v, i as u32));
        best.truncate(k);
    }
    best.into_iter().map(|(_, i)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_orders_by_value_then_index() {
        let v = [0.5, 2.0, f32::NAN, 2.0, -1.0, 3.0];
        assert_eq!(top_k(&v, 3), vec![5, 1, 3]);
        assert_eq!(top_k(&v, 10), vec![5, 1, 3, 0, 4, 2]);
        assert!(top_k(&v, 0).is_empty());
    }
}
