//! The BERT encoder (HF layout and tensor names) returning everything TinyBERT distils:
//! all hidden states, every layer's pre-softmax attention scores, and the pooled output.

use crate::config::BertConfig;
use crate::nn::{activation, DropoutRng, LayerNorm, Linear};
use candle_core::{DType, IndexOp, Module, Result, Tensor, D};
use candle_nn::{Embedding, VarBuilder};
use std::sync::Arc;

/// Additive mask value on padded keys, as in the reference TinyBERT code.
pub const MASK_VALUE: f64 = -10000.0;

/// Everything the encoder computes.
#[derive(Debug, Clone)]
pub struct BertOutput {
    /// `[embeddings, layer_1, ..., layer_L]`, each [batch, seq, hidden].
    pub hidden_states: Vec<Tensor>,
    /// One per layer: `QK^T/sqrt(d_head) + mask` before softmax, [batch, heads, seq, seq];
    /// padded keys carry `-10000` added.
    pub attention_scores: Vec<Tensor>,
    /// The last hidden state, [batch, seq, hidden].
    pub sequence_output: Tensor,
    /// `tanh(W_p h_L[:, 0] + b_p)`, [batch, hidden].
    pub pooled_output: Tensor,
}

/// Word + position + token-type embeddings, LayerNorm, dropout.
#[derive(Debug, Clone)]
pub struct BertEmbeddings {
    pub word_embeddings: Embedding,
    pub position_embeddings: Embedding,
    pub token_type_embeddings: Embedding,
    pub layer_norm: LayerNorm,
    dropout: f64,
    pad_token_id: u32,
}

impl BertEmbeddings {
    pub fn load(vb: VarBuilder, cfg: &BertConfig) -> Result<Self> {
        let h = cfg.hidden_size;
        let init = crate::nn::bert_init(cfg.initializer_range);
        let emb = |name: &str, n: usize| -> Result<Embedding> {
            let w = vb.pp(name).get_with_hints((n, h), "weight", init)?;
            Ok(Embedding::new(w, h))
        };
        Ok(Self {
            word_embeddings: emb("word_embeddings", cfg.vocab_size)?,
            position_embeddings: emb("position_embeddings", cfg.max_position_embeddings)?,
            token_type_embeddings: emb("token_type_embeddings", cfg.type_vocab_size)?,
            layer_norm: LayerNorm::load(vb.pp("LayerNorm"), h, cfg.layer_norm_eps)?,
            dropout: cfg.hidden_dropout_prob,
            pad_token_id: cfg.pad_token_id,
        })
    }

    /// # Shapes
    /// `input_ids`, `token_type_ids`: [batch, seq] (u32) -> [batch, seq, hidden]
    ///
    /// The [PAD] row of the word embeddings gets no gradient from the lookup (as PyTorch's
    /// `padding_idx`): padded positions use a detached copy of their embedding.
    pub fn forward(
        &self,
        input_ids: &Tensor,
        token_type_ids: &Tensor,
        dropout: Option<&DropoutRng>,
    ) -> Result<Tensor> {
        let (_, seq) = input_ids.dims2()?;
        let positions = Tensor::arange(0u32, seq as u32, input_ids.device())?;
        let words = self.word_embeddings.forward(input_ids)?;
        let is_pad = input_ids
            .eq(self.pad_token_id)?
            .unsqueeze(D::Minus1)?
            .broadcast_as(words.shape())?;
        let words = is_pad.where_cond(&words.detach(), &words)?;
        let x = words
            .add(&self.token_type_embeddings.forward(token_type_ids)?)?
            .broadcast_add(&self.position_embeddings.forward(&positions)?)?;
        let x = self.layer_norm.forward(&x)?;
        apply_dropout(dropout, &x, self.dropout)
    }
}

fn apply_dropout(rng: Option<&DropoutRng>, x: &Tensor, p: f64) -> Result<Tensor> {
    match rng {
        Some(rng) => rng.apply(x, p),
        None => Ok(x.clone()),
    }
}

/// Multi-head self-attention (`attention.self` and `attention.output`).
#[derive(Debug, Clone)]
pub struct BertAttention {
    pub query: Linear,
    pub key: Linear,
    pub value: Linear,
    pub output: Linear,
    pub layer_norm: LayerNorm,
    heads: usize,
    head_dim: usize,
    attn_dropout: f64,
    hidden_dropout: f64,
    /// The attention products in bf16 (set by [`BertAttention::pack_bf16`]).
    bf16: bool,
}

impl BertAttention {
    pub fn load(vb: VarBuilder, cfg: &BertConfig) -> Result<Self> {
        let h = cfg.hidden_size;
        let std = cfg.initializer_range;
        let sa = vb.pp("self");
        Ok(Self {
            query: Linear::load(sa.pp("query"), h, h, std)?,
            key: Linear::load(sa.pp("key"), h, h, std)?,
            value: Linear::load(sa.pp("value"), h, h, std)?,
            output: Linear::load(vb.pp("output").pp("dense"), h, h, std)?,
            layer_norm: LayerNorm::load(vb.pp("output").pp("LayerNorm"), h, cfg.layer_norm_eps)?,
            heads: cfg.num_attention_heads,
            head_dim: cfg.head_dim(),
            attn_dropout: cfg.attention_probs_dropout_prob,
            hidden_dropout: cfg.hidden_dropout_prob,
            bf16: false,
        })
    }

    /// Packs the frozen dense weights for the bf16 products; when all four are (a frozen
    /// layer), `Q K^T` and `P V` run in bf16 too (the scores stay f32). Returns the number of
    /// packed weights.
    pub fn pack_bf16(&mut self) -> Result<usize> {
        let mut packed = 0;
        for l in [
            &mut self.query,
            &mut self.key,
            &mut self.value,
            &mut self.output,
        ] {
            packed += l.pack_bf16()?;
        }
        self.bf16 = packed == 4;
        Ok(packed)
    }

    /// [batch, seq, hidden] -> [batch, heads, seq, head_dim] (a view for f32 on the CPU, where
    /// the attention products take strided operands; a copy elsewhere).
    fn split_heads(&self, x: &Tensor) -> Result<Tensor> {
        let (b, s, _) = x.dims3()?;
        let heads = x
            .reshape((b, s, self.heads, self.head_dim))?
            .transpose(1, 2)?;
        if x.device().is_cpu() && x.dtype() == DType::F32 {
            Ok(heads)
        } else {
            heads.contiguous()
        }
    }

    /// # Shapes
    /// `x`: [batch, seq, hidden], `mask`: [batch, 1, 1, seq] additive
    /// -> (output [batch, seq, hidden], scores [batch, heads, seq, seq])
    pub fn forward(
        &self,
        x: &Tensor,
        mask: &Tensor,
        dropout: Option<&DropoutRng>,
    ) -> Result<(Tensor, Tensor)> {
        self.forward_rows(x, x, mask, dropout)
    }

    /// The attention of the query positions `xq` against every position of `x`: the layer's
    /// output at those positions only. `forward` is the case `xq = x`; the augmentation's
    /// masked-LM candidates ask for one position per sequence.
    ///
    /// # Shapes
    /// `xq`: [batch, queries, hidden] (rows of `x`), `x`: [batch, seq, hidden], `mask`:
    /// [batch, 1, 1, seq] additive
    /// -> (output [batch, queries, hidden], scores [batch, heads, queries, seq])
    pub fn forward_rows(
        &self,
        xq: &Tensor,
        x: &Tensor,
        mask: &Tensor,
        dropout: Option<&DropoutRng>,
    ) -> Result<(Tensor, Tensor)> {
        let (b, nq, h) = xq.dims3()?;
        let q = self.split_heads(&self.query.forward(xq)?)?;
        let k = self.split_heads(&self.key.forward(x)?)?;
        let v = self.split_heads(&self.value.forward(x)?)?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let scores = if self.bf16 {
            crate::kernels::batched_matmul_add_bf16(&q, &k.t()?, scale, mask)?
        } else {
            crate::kernels::batched_matmul_add(&q, &k.t()?, scale, mask)?
        };
        let probs = crate::kernels::softmax_last_dim(&scores)?;
        let probs = apply_dropout(dropout, &probs, self.attn_dropout)?;
        let context = if self.bf16 {
            crate::kernels::batched_matmul_bf16(&probs, &v, 1.0)?
        } else {
            crate::kernels::batched_matmul(&probs, &v, 1.0)?
        };
        let context = context.transpose(1, 2)?.contiguous()?.reshape((b, nq, h))?;
        let out = self.output.forward(&context)?;
        let out = apply_dropout(dropout, &out, self.hidden_dropout)?;
        let out = self.layer_norm.forward(&(out + xq)?)?;
        Ok((out, scores))
    }
}

/// One Transformer layer: attention, then the feed-forward block.
#[derive(Debug, Clone)]
pub struct BertLayer {
    pub attention: BertAttention,
    pub intermediate: Linear,
    pub output: Linear,
    pub output_layer_norm: LayerNorm,
    act: String,
    hidden_dropout: f64,
}

impl BertLayer {
    pub fn load(vb: VarBuilder, cfg: &BertConfig) -> Result<Self> {
        let (h, i, std) = (
            cfg.hidden_size,
            cfg.intermediate_size,
            cfg.initializer_range,
        );
        Ok(Self {
            attention: BertAttention::load(vb.pp("attention"), cfg)?,
            intermediate: Linear::load(vb.pp("intermediate").pp("dense"), h, i, std)?,
            output: Linear::load(vb.pp("output").pp("dense"), i, h, std)?,
            output_layer_norm: LayerNorm::load(
                vb.pp("output").pp("LayerNorm"),
                h,
                cfg.layer_norm_eps,
            )?,
            act: cfg.hidden_act.clone(),
            hidden_dropout: cfg.hidden_dropout_prob,
        })
    }

    /// Packs the layer's frozen dense weights for the bf16 products (see
    /// [`BertAttention::pack_bf16`]); returns the number of packed weights.
    pub fn pack_bf16(&mut self) -> Result<usize> {
        Ok(self.attention.pack_bf16()?
            + self.intermediate.pack_bf16()?
            + self.output.pack_bf16()?)
    }

    /// # Shapes
    /// `x`: [batch, seq, hidden] -> (hidden [batch, seq, hidden], scores [batch, heads, seq, seq])
    pub fn forward(
        &self,
        x: &Tensor,
        mask: &Tensor,
        dropout: Option<&DropoutRng>,
    ) -> Result<(Tensor, Tensor)> {
        self.forward_rows(x, x, mask, dropout)
    }

    /// The layer's output at the query positions `xq` only (see
    /// [`BertAttention::forward_rows`]).
    ///
    /// # Shapes
    /// `xq`: [batch, queries, hidden] (rows of `x`), `x`: [batch, seq, hidden]
    /// -> (hidden [batch, queries, hidden], scores [batch, heads, queries, seq])
    pub fn forward_rows(
        &self,
        xq: &Tensor,
        x: &Tensor,
        mask: &Tensor,
        dropout: Option<&DropoutRng>,
    ) -> Result<(Tensor, Tensor)> {
        let (attn, scores) = self.attention.forward_rows(xq, x, mask, dropout)?;
        let inter = activation(&self.act, self.intermediate.forward(&attn)?)?;
        let out = self.output.forward(&inter)?;
        let out = apply_dropout(dropout, &out, self.hidden_dropout)?;
        let out = self.output_layer_norm.forward(&(out + attn)?)?;
        Ok((out, scores))
    }
}

/// The BERT encoder with pooler (`BertModel` in HF).
#[derive(Debug, Clone)]
pub struct BertModel {
    pub config: BertConfig,
    pub embeddings: BertEmbeddings,
    pub layers: Vec<BertLayer>,
    pub pooler: Linear,
    dropout_rng: Arc<DropoutRng>,
}

impl BertModel {
    /// Builds the encoder from `vb` (rooted where `embeddings.*` lives).
    pub fn load(vb: VarBuilder, cfg: &BertConfig) -> Result<Self> {
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| BertLayer::load(vb.pp("encoder").pp("layer").pp(i), cfg))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            config: cfg.clone(),
            embeddings: BertEmbeddings::load(vb.pp("embeddings"), cfg)?,
            layers,
            pooler: Linear::load(
                vb.pp("pooler").pp("dense"),
                cfg.hidden_size,
                cfg.hidden_size,
                cfg.initializer_range,
            )?,
            dropout_rng: Arc::new(DropoutRng::default()),
        })
    }

    /// Packs every frozen dense weight (layers and pooler) for the bf16 products (see
    /// [`BertAttention::pack_bf16`]); returns the number of packed weights.
    pub fn pack_bf16(&mut self) -> Result<usize> {
        let mut packed = self.pooler.pack_bf16()?;
        for layer in &mut self.layers {
            packed += layer.pack_bf16()?;
        }
        Ok(packed)
    }

    /// The RNG that draws this model's dropout masks in training mode.
    pub fn dropout_rng(&self) -> &DropoutRng {
        &self.dropout_rng
    }

    /// Runs the encoder. Dropout is active only when `train` is true.
    ///
    /// # Shapes
    /// `input_ids`, `token_type_ids`: [batch, seq] (u32); `attention_mask`: [batch, seq]
    /// (1 = token, 0 = padding; any numeric dtype). See [`BertOutput`] for the outputs.
    pub fn forward_t(
        &self,
        input_ids: &Tensor,
        token_type_ids: &Tensor,
        attention_mask: &Tensor,
        train: bool,
    ) -> Result<BertOutput> {
        let dropout = train.then_some(&*self.dropout_rng);
        let dtype = self.embeddings.word_embeddings.embeddings().dtype();
        let mask = additive_mask(attention_mask, dtype)?;
        let mut hidden = self
            .embeddings
            .forward(input_ids, token_type_ids, dropout)?;
        let mut hidden_states = Vec::with_capacity(self.layers.len() + 1);
        let mut attention_scores = Vec::with_capacity(self.layers.len());
        hidden_states.push(hidden.clone());
        for layer in &self.layers {
            let (h, scores) = layer.forward(&hidden, &mask, dropout)?;
            hidden = h;
            hidden_states.push(hidden.clone());
            attention_scores.push(scores);
        }
        // Contiguous: CUDA's matmul takes no row stride other than the row length.
        let first = hidden.i((.., 0))?.contiguous()?;
        let pooled_output = self.pooler.forward(&first)?.tanh()?;
        Ok(BertOutput {
            hidden_states,
            attention_scores,
            sequence_output: hidden,
            pooled_output,
        })
    }

    /// The last layer's hidden states at one row per sequence: every layer but the last in
    /// full, the last one only at `rows` (its keys and values still come from every position),
    /// through the same attention code as [`BertModel::forward_t`] (so the bf16 products apply
    /// to a bf16 model). The result equals the full encoder's output at those rows while the
    /// last layer's attention output, feed-forward block and LayerNorms run on one row per
    /// sequence; the masked-LM head of the augmentation reads nothing else. No dropout.
    ///
    /// # Shapes
    /// `input_ids`, `token_type_ids`: [batch, seq] u32 (no padding); `rows`: [batch] u32, the
    /// flat index `i * seq + pos` of a row of sequence `i` -> [batch, hidden]
    pub fn hidden_at_rows(
        &self,
        input_ids: &Tensor,
        token_type_ids: &Tensor,
        rows: &Tensor,
    ) -> Result<Tensor> {
        let (b, seq) = input_ids.dims2()?;
        let dtype = self.embeddings.word_embeddings.embeddings().dtype();
        let ones = Tensor::ones((b, seq), input_ids.dtype(), input_ids.device())?;
        let mask = additive_mask(&ones, dtype)?;
        let mut x = self.embeddings.forward(input_ids, token_type_ids, None)?;
        let h = x.dim(2)?;
        let Some((last, first)) = self.layers.split_last() else {
            return x.reshape((b * seq, h))?.index_select(rows, 0);
        };
        for layer in first {
            x = layer.forward(&x, &mask, None)?.0;
        }
        let xq = x
            .reshape((b * seq, h))?
            .index_select(rows, 0)?
            .reshape((b, 1, h))?;
        last.forward_rows(&xq, &x, &mask, None)?.0.reshape((b, h))
    }
}

/// `(1 - mask) * -10000`, shaped [batch, 1, 1, seq] to broadcast over heads and queries.
pub fn additive_mask(attention_mask: &Tensor, dtype: DType) -> Result<Tensor> {
    let (b, s) = attention_mask.dims2()?;
    let m = attention_mask.to_dtype(dtype)?;
    ((m.ones_like()? - m)? * MASK_VALUE)?.reshape((b, 1, 1, s))
}
