//! Task heads on top of the encoder: sequence classification/regression, the masked-LM head
//! (augmentation) and the student's `fit_dense` projection(s) (SPEC §1).

use crate::config::BertConfig;
use crate::kernels::bf16::PackedBf16;
use crate::nn::{activation, LayerNorm, Linear};
use candle_core::{Module, Result, Tensor};
use candle_nn::{Init, VarBuilder};
use std::sync::Arc;

/// `logits = W_c · ReLU(pooled) + b_c` (the paper's and reference code's head), HF name
/// `classifier`. One output for regression (STS-B).
#[derive(Debug, Clone)]
pub struct SequenceClassifier {
    pub classifier: Linear,
}

impl SequenceClassifier {
    pub fn load(vb: VarBuilder, cfg: &BertConfig, num_labels: usize) -> Result<Self> {
        Ok(Self {
            classifier: Linear::load(
                vb.pp("classifier"),
                cfg.hidden_size,
                num_labels,
                cfg.initializer_range,
            )?,
        })
    }

    /// Packs a frozen classifier for the bf16 products; returns the number of packed weights.
    pub fn pack_bf16(&mut self) -> Result<usize> {
        self.classifier.pack_bf16()
    }

    /// # Shapes
    /// `pooled`: [batch, hidden] -> logits [batch, num_labels]
    pub fn forward(&self, pooled: &Tensor) -> Result<Tensor> {
        self.classifier.forward(&pooled.relu()?)
    }
}

/// Masked-LM head `cls.predictions.*`: dense + activation + LayerNorm, then the decoder (tied to
/// the word embeddings unless the checkpoint carries its own `decoder.weight`) plus a bias.
#[derive(Debug, Clone)]
pub struct MlmHead {
    pub dense: Linear,
    pub layer_norm: LayerNorm,
    /// [vocab, hidden]
    pub decoder: Tensor,
    /// [vocab]
    pub bias: Tensor,
    act: String,
    /// The frozen decoder packed for the bf16 products ([`MlmHead::pack_bf16`]).
    packed_decoder: Option<Arc<PackedBf16>>,
}

impl MlmHead {
    /// `vb` is rooted at the checkpoint root (`cls.predictions` is looked up under it);
    /// `word_embeddings` [vocab, hidden] is used when no untied decoder is stored.
    pub fn load(vb: VarBuilder, cfg: &BertConfig, word_embeddings: &Tensor) -> Result<Self> {
        let p = vb.pp("cls").pp("predictions");
        let t = p.pp("transform");
        let h = cfg.hidden_size;
        let decoder = if p.contains_tensor("decoder.weight") {
            p.pp("decoder")
                .get_with_hints((cfg.vocab_size, h), "weight", Init::Const(0.0))?
        } else {
            word_embeddings.clone()
        };
        let bias = if !p.contains_tensor("bias") && p.contains_tensor("decoder.bias") {
            p.pp("decoder")
                .get_with_hints(cfg.vocab_size, "bias", Init::Const(0.0))?
        } else {
            p.get_with_hints(cfg.vocab_size, "bias", Init::Const(0.0))?
        };
        Ok(Self {
            dense: Linear::load(t.pp("dense"), h, h, cfg.initializer_range)?,
            layer_norm: LayerNorm::load(t.pp("LayerNorm"), h, cfg.layer_norm_eps)?,
            decoder,
            bias,
            act: cfg.hidden_act.clone(),
            packed_decoder: None,
        })
    }

    /// Packs the frozen transform and decoder (not `Var`s) for the bf16 products; returns the
    /// number of packed weights.
    pub fn pack_bf16(&mut self) -> Result<usize> {
        if self.packed_decoder.is_none() && !self.decoder.is_variable() {
            self.packed_decoder = PackedBf16::from_weight(&self.decoder)?.map(Arc::new);
        }
        Ok(self.dense.pack_bf16()? + usize::from(self.packed_decoder.is_some()))
    }

    /// Vocabulary logits for the given hidden states only (e.g. just the masked positions).
    ///
    /// # Shapes
    /// `hidden`: [n, hidden] -> [n, vocab]
    pub fn forward(&self, hidden: &Tensor) -> Result<Tensor> {
        let x = activation(&self.act, self.dense.forward(hidden)?)?;
        let x = self.layer_norm.forward(&x)?;
        match &self.packed_decoder {
            Some(p) if crate::kernels::bf16::takes(&x) => {
                crate::kernels::bf16::linear(&x, p, &self.bias)
            }
            _ => x.matmul(&self.decoder.t()?)?.broadcast_add(&self.bias),
        }
    }
}

/// How student hidden states are projected to the teacher's width for L_hidn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum FitDenseKind {
    /// One `fit_dense` shared by every hidden state, embeddings included (reference code).
    #[default]
    Shared,
    /// The paper's separate `W_e` for the embeddings (`fit_dense_embeddings`), `fit_dense` for
    /// the layers.
    SeparateEmbedding,
    /// One projection per hidden state, `fit_denses.{0..L}` (released general checkpoints).
    PerLayer,
}

/// The student's projection(s) `student_hidden -> teacher_hidden`.
#[derive(Debug, Clone)]
pub struct FitDense {
    pub kind: FitDenseKind,
    /// Shared: one; SeparateEmbedding: [embeddings, layers]; PerLayer: L + 1.
    pub dense: Vec<Linear>,
}

impl FitDense {
    pub fn load(
        vb: VarBuilder,
        cfg: &BertConfig,
        kind: FitDenseKind,
        fit_size: usize,
    ) -> Result<Self> {
        let (h, std) = (cfg.hidden_size, cfg.initializer_range);
        let dense = match kind {
            FitDenseKind::Shared => vec![Linear::load(vb.pp("fit_dense"), h, fit_size, std)?],
            FitDenseKind::SeparateEmbedding => vec![
                Linear::load(vb.pp("fit_dense_embeddings"), h, fit_size, std)?,
                Linear::load(vb.pp("fit_dense"), h, fit_size, std)?,
            ],
            FitDenseKind::PerLayer => (0..=cfg.num_hidden_layers)
                .map(|i| Linear::load(vb.pp("fit_denses").pp(i), h, fit_size, std))
                .collect::<Result<_>>()?,
        };
        Ok(Self { kind, dense })
    }

    /// Projects hidden state `j` (0 = embeddings).
    ///
    /// # Shapes
    /// `hidden`: [batch, seq, student_hidden] -> [batch, seq, teacher_hidden]
    pub fn forward(&self, j: usize, hidden: &Tensor) -> Result<Tensor> {
        let layer = match self.kind {
            FitDenseKind::Shared => &self.dense[0],
            FitDenseKind::SeparateEmbedding => &self.dense[usize::from(j > 0)],
            FitDenseKind::PerLayer => self.dense.get(j).ok_or_else(|| {
                candle_core::Error::Msg(format!("no fit_denses.{j} for hidden state {j}"))
            })?,
        };
        layer.forward(hidden)
    }
}
