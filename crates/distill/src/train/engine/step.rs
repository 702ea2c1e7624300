//! One optimizer step's forward and backward passes: the micro-batches of the step, each loss
//! checked finite before its backward pass, gradients summed over the micro-batches (the loss
//! divided by their number: gradient accumulation).

use super::{Loss, Objective};
use crate::error::{Error, Result};
use candle_core::backprop::GradStore;
use candle_core::Tensor;

/// The gradients of one step and its losses (means over the micro-batches).
pub struct Gradients {
    pub grads: GradStore,
    pub loss: f64,
    pub terms: Vec<(&'static str, f64)>,
}

/// What the forward and backward passes of a step gave.
pub enum Passes {
    Done(Gradients),
    /// A micro-batch's loss was NaN or infinite; the step's remaining micro-batches were not
    /// run.
    NonFiniteLoss(f32),
}

/// Runs `objective` on `chunk` (the step's examples) `micro` examples at a time and sums the
/// gradients of the trainable tensors `vars`.
pub fn forward_backward(
    objective: &mut dyn Objective,
    vars: &[Tensor],
    chunk: &[usize],
    micro: usize,
    step: usize,
) -> Result<Passes> {
    let n_micro = chunk.len().div_ceil(micro);
    let mut grads: Option<GradStore> = None;
    let mut loss_sum = 0.0;
    let mut terms_sum: Vec<(&'static str, f64)> = Vec::new();
    for part in chunk.chunks(micro) {
        let Loss { total, terms } = objective.loss(part, step)?;
        let value = total.to_scalar::<f32>()?;
        if !value.is_finite() {
            return Ok(Passes::NonFiniteLoss(value));
        }
        loss_sum += value as f64 / n_micro as f64;
        for (i, (name, t)) in terms.iter().enumerate() {
            let v = t.to_scalar::<f32>()? as f64 / n_micro as f64;
            match terms_sum.get_mut(i) {
                Some(slot) => slot.1 += v,
                None => terms_sum.push((name, v)),
            }
        }
        let scaled = if n_micro > 1 {
            (total / n_micro as f64)?
        } else {
            total
        };
        let g = scaled.backward()?;
        grads = Some(match grads {
            None => g,
            Some(acc) => accumulate(acc, &g, vars)?,
        });
    }
    let grads = grads.ok_or_else(|| Error::Config(format!("step {} has no examples", step + 1)))?;
    Ok(Passes::Done(Gradients {
        grads,
        loss: loss_sum,
        terms: terms_sum,
    }))
}

/// `acc + g` for the gradients of `vars`.
fn accumulate(mut acc: GradStore, g: &GradStore, vars: &[Tensor]) -> Result<GradStore> {
    for t in vars {
        if let Some(new) = g.get(t) {
            let sum = match acc.get(t) {
                Some(old) => (old + new)?,
                None => new.clone(),
            };
            acc.insert(t, sum);
        }
    }
    Ok(acc)
}
