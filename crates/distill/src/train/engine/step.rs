//! One optimizer step's forward and backward passes on this rank: its share of the step's
//! examples, `micro` at a time, each pass's loss checked finite before its backward pass, the
//! gradients of the passes summed (each pass's loss is already its share of the step's loss).

use super::{Objective, Pass};
use crate::error::Result;
use candle_core::backprop::GradStore;
use candle_core::Tensor;
use std::ops::Range;

/// The gradients of this rank's passes and the sums of their losses.
pub struct Gradients {
    pub grads: GradStore,
    pub loss: f64,
    /// Per term of [`Objective::terms`].
    pub terms: Vec<f64>,
}

/// What the forward and backward passes of a step gave.
pub enum Passes {
    Done(Gradients),
    /// A pass's loss was NaN or infinite; the step's remaining passes were not run.
    NonFiniteLoss(f32),
}

/// Runs `objective` on the examples `shard` of `batch` (the step's examples), `micro` at a
/// time, calling `before_pass` with each pass's first position in `batch` first (dropout
/// reseeding), and sums the gradients of the trainable tensors `vars`. An empty shard gives no
/// gradients and zero losses.
pub fn forward_backward(
    objective: &mut dyn Objective,
    vars: &[Tensor],
    batch: &[usize],
    shard: Range<usize>,
    micro: usize,
    step: usize,
    before_pass: &dyn Fn(usize),
) -> Result<Passes> {
    let mut grads: Option<GradStore> = None;
    let mut loss = 0.0;
    let mut terms = vec![0.0; objective.terms().len()];
    for start in shard.clone().step_by(micro.max(1)) {
        let pass = Pass {
            step,
            batch,
            range: start..(start + micro).min(shard.end),
        };
        before_pass(start);
        let l = objective.loss(&pass)?;
        let value = l.total.to_scalar::<f32>()?;
        if !value.is_finite() {
            return Ok(Passes::NonFiniteLoss(value));
        }
        loss += value as f64;
        for (sum, t) in terms.iter_mut().zip(&l.terms) {
            *sum += t.to_scalar::<f32>()? as f64;
        }
        let g = l.total.backward()?;
        grads = Some(match grads {
            None => g,
            Some(acc) => accumulate(acc, &g, vars)?,
        });
    }
    Ok(Passes::Done(Gradients {
        grads: grads.unwrap_or_default(),
        loss,
        terms,
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
