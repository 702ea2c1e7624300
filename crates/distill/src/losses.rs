//! TinyBERT's distillation losses as pure functions (SPEC §2).

use candle_core::{DType, Result, Tensor, D};
use serde::{Deserialize, Serialize};
use tinybert_model::{kernels, BertOutput, FitDense};

/// Entries at or below this are masked keys (score + -10000) and are zeroed in both tensors.
pub const ATT_ZERO_THRESHOLD: f64 = -100.0;

/// How the soft cross-entropy is normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Compat {
    /// The paper: mean over the batch of the per-example cross-entropy.
    #[default]
    Paper,
    /// The reference code: mean over batch·classes (divides by the number of classes).
    Reference,
}

/// Weights of each loss term; setting one to 0 is the matching ablation (w/o Embd, Attn, Hidn,
/// Trm = attn and hidn and embd, Pred).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LossWeights {
    pub embedding: f64,
    pub attention: f64,
    pub hidden: f64,
    pub prediction: f64,
}

impl Default for LossWeights {
    fn default() -> Self {
        Self {
            embedding: 1.0,
            attention: 1.0,
            hidden: 1.0,
            prediction: 1.0,
        }
    }
}

fn zero_masked(x: &Tensor) -> Result<Tensor> {
    let keep = x.gt(ATT_ZERO_THRESHOLD)?;
    keep.where_cond(x, &x.zeros_like()?)
}

/// Mean of `sq` weighted by `weight` (1 on real entries, 0 on padding), broadcast to its shape.
fn masked_mean(sq: &Tensor, weight: &Tensor) -> Result<Tensor> {
    let w = weight.broadcast_as(sq.shape())?;
    let den = w.sum_all()?.clamp(1e-12, f64::INFINITY)?;
    (sq * w)?.sum_all()?.div(&den)
}

/// MSE between two attention-score tensors [batch, heads, seq, seq] after zeroing entries
/// <= -100 in both. Mean over all entries (padding included, as the reference), or over real
/// query/key pairs when `pad_mask` [batch, seq] is given.
pub fn attention_mse(
    student: &Tensor,
    teacher: &Tensor,
    pad_mask: Option<&Tensor>,
) -> Result<Tensor> {
    let (s, t) = (student.to_dtype(DType::F32)?, teacher.to_dtype(DType::F32)?);
    match pad_mask {
        None => kernels::mse(&s, &t, Some(ATT_ZERO_THRESHOLD as f32)),
        Some(m) => {
            let sq = (zero_masked(&s)? - zero_masked(&t)?)?.sqr()?;
            let m = m.to_dtype(DType::F32)?;
            let (b, n) = m.dims2()?;
            let pair = m
                .reshape((b, 1, n, 1))?
                .broadcast_mul(&m.reshape((b, 1, 1, n))?)?;
            masked_mean(&sq, &pair)
        }
    }
}

/// MSE between a projected student hidden state and a teacher hidden state [batch, seq, hidden],
/// mean over [batch·seq·hidden] (or over real tokens with `pad_mask`).
pub fn hidden_mse(student: &Tensor, teacher: &Tensor, pad_mask: Option<&Tensor>) -> Result<Tensor> {
    let (s, t) = (student.to_dtype(DType::F32)?, teacher.to_dtype(DType::F32)?);
    match pad_mask {
        None => kernels::mse(&s, &t, None),
        Some(m) => {
            let sq = (s - t)?.sqr()?;
            let m = m.to_dtype(DType::F32)?.unsqueeze(D::Minus1)?;
            masked_mean(&sq, &m)
        }
    }
}

/// Soft cross-entropy `-Σ_c softmax(z_T/T)_c · log_softmax(z_S/T)_c`, averaged per [`Compat`].
///
/// # Shapes
/// `student`, `teacher`: [batch, classes] -> scalar
pub fn soft_cross_entropy(
    student: &Tensor,
    teacher: &Tensor,
    temperature: f64,
    compat: Compat,
) -> Result<Tensor> {
    let s = (student.to_dtype(DType::F32)? / temperature)?;
    let t = (teacher.to_dtype(DType::F32)? / temperature)?;
    let targets = candle_nn::ops::softmax(&t, D::Minus1)?;
    let log_probs = candle_nn::ops::log_softmax(&s, D::Minus1)?;
    let prod = (targets * log_probs)?.neg()?;
    match compat {
        Compat::Paper => prod.sum(D::Minus1)?.mean_all(),
        Compat::Reference => prod.mean_all(),
    }
}

/// Mean squared error of a regression output `[batch, 1]` (or `[batch]`) against `target`
/// `[batch]`.
pub fn mse(pred: &Tensor, target: &Tensor) -> Result<Tensor> {
    let p = pred.to_dtype(DType::F32)?.flatten_all()?;
    (p - target.to_dtype(DType::F32)?.flatten_all()?)?
        .sqr()?
        .mean_all()
}

/// The intermediate-layer terms of one batch.
#[derive(Debug, Clone)]
pub struct IntermediateLoss {
    /// Weighted total (scalar).
    pub total: Tensor,
    /// Σ attention MSE (unweighted, scalar).
    pub att: Tensor,
    /// Σ hidden MSE over j = 0..=M, embeddings included (unweighted, scalar).
    pub rep: Tensor,
    /// The j = 0 (embedding) part of `rep` (scalar).
    pub emb: Tensor,
}

/// `w_attn·L_attn + w_emb·L_emb + w_hidn·Σ_{j≥1} L_hidn_j` for the given layer pairs
/// (student index, teacher index) into `attention_scores` and `hidden_states`.
pub fn intermediate_loss(
    student: &BertOutput,
    teacher: &BertOutput,
    fit_dense: &FitDense,
    attention_pairs: &[(usize, usize)],
    hidden_pairs: &[(usize, usize)],
    weights: &LossWeights,
    pad_mask: Option<&Tensor>,
) -> Result<IntermediateLoss> {
    let dev = student.sequence_output.device();
    let zero = || Tensor::zeros((), DType::F32, dev);
    let mut att = zero()?;
    if weights.attention != 0.0 {
        for &(s, t) in attention_pairs {
            att = (att
                + attention_mse(
                    &student.attention_scores[s],
                    &teacher.attention_scores[t],
                    pad_mask,
                )?)?;
        }
    }
    let (mut emb, mut layers) = (zero()?, zero()?);
    for &(s, t) in hidden_pairs {
        let w = if s == 0 {
            weights.embedding
        } else {
            weights.hidden
        };
        if w == 0.0 {
            continue;
        }
        let projected = fit_dense.forward(s, &student.hidden_states[s])?;
        let l = hidden_mse(&projected, &teacher.hidden_states[t], pad_mask)?;
        if s == 0 {
            emb = (emb + l)?;
        } else {
            layers = (layers + l)?;
        }
    }
    let total = ((att.clone() * weights.attention)? + (emb.clone() * weights.embedding)?)?;
    let total = (total + (layers.clone() * weights.hidden)?)?;
    let rep = (&emb + &layers)?;
    Ok(IntermediateLoss {
        total,
        att,
        rep,
        emb,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn t(v: &[f32], shape: &[usize]) -> Tensor {
        Tensor::from_slice(v, shape, &Device::Cpu).unwrap()
    }

    fn scalar(x: Tensor) -> f32 {
        x.to_scalar::<f32>().unwrap()
    }

    #[test]
    fn attention_mse_zeroes_masked_entries_in_both_tensors() {
        let s = t(&[1., -10000.5, 2., 3.], &[1, 1, 2, 2]);
        let tt = t(&[0., -9999.0, 2., 1.], &[1, 1, 2, 2]);
        // (1-0)^2 + 0 + 0 + (3-1)^2 = 5 over 4 entries
        assert!((scalar(attention_mse(&s, &tt, None).unwrap()) - 1.25).abs() < 1e-6);
    }

    #[test]
    fn pad_masked_attention_mse_averages_over_real_pairs_only() {
        let s = t(&[1., 5., 7., 9.], &[1, 1, 2, 2]);
        let tt = t(&[0., 0., 0., 0.], &[1, 1, 2, 2]);
        let mask = t(&[1., 0.], &[1, 2]);
        assert!((scalar(attention_mse(&s, &tt, Some(&mask)).unwrap()) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn pad_masked_hidden_mse_averages_over_real_tokens_and_hidden() {
        let s = t(&[1., 1., 4., 4.], &[1, 2, 2]);
        let tt = t(&[0., 0., 0., 0.], &[1, 2, 2]);
        let mask = t(&[1., 0.], &[1, 2]);
        assert!((scalar(hidden_mse(&s, &tt, Some(&mask)).unwrap()) - 1.0).abs() < 1e-6);
        assert!((scalar(hidden_mse(&s, &tt, None).unwrap()) - 8.5).abs() < 1e-6);
    }

    #[test]
    fn soft_cross_entropy_reference_compat_divides_by_the_number_of_classes() {
        let s = t(&[0.2, -1.0, 0.5, 1.0, 0.0, -0.5], &[2, 3]);
        let tt = t(&[1.0, 0.0, 0.0, 0.3, 0.3, 0.4], &[2, 3]);
        let paper = scalar(soft_cross_entropy(&s, &tt, 1.0, Compat::Paper).unwrap());
        let reference = scalar(soft_cross_entropy(&s, &tt, 1.0, Compat::Reference).unwrap());
        assert!((paper / reference - 3.0).abs() < 1e-5);
        // Identical logits: the loss is the entropy of the teacher distribution.
        let same = scalar(soft_cross_entropy(&tt, &tt, 1.0, Compat::Paper).unwrap());
        let p = candle_nn::ops::softmax(&tt, D::Minus1).unwrap();
        let entropy = scalar(
            (p.clone() * p.log().unwrap())
                .unwrap()
                .neg()
                .unwrap()
                .sum(1)
                .unwrap()
                .mean_all()
                .unwrap(),
        );
        assert!((same - entropy).abs() < 1e-6);
    }
}
