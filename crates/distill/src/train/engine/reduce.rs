//! The sum over the ranks of one step's results, in one fused buffer: a flag for a non-finite
//! loss, a flag for a stop request (Ctrl-C on any rank), the loss and its terms, a presence flag
//! per trainable tensor, and every gradient, flattened. One `all_reduce_sum` per step; in one
//! process nothing is copied.

use super::step::{Gradients, Passes};
use crate::error::Result;
use crate::parallel::Collective;
use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor};

/// The bytes of the gradient part of the buffer (f32): what each rank contributes per step.
pub fn buffer_bytes(vars: &[Tensor]) -> usize {
    4 * vars.iter().map(Tensor::elem_count).sum::<usize>()
}

/// A step's results summed over the ranks.
pub struct Reduced {
    /// `None` when some rank's loss was not finite (its value, when it was this rank's).
    pub grads: Option<Gradients>,
    pub nonfinite_loss: Option<f32>,
    /// Whether any rank was asked to stop.
    pub stop: bool,
}

/// Sums `local` (this rank's gradients, or its non-finite loss) and `stop` over the ranks of
/// `world`; `vars` are the trainable tensors, `n_terms` the objective's logged terms.
pub fn all_reduce(
    world: &dyn Collective,
    vars: &[Tensor],
    local: Passes,
    n_terms: usize,
    stop: bool,
) -> Result<Reduced> {
    let local = match local {
        Passes::Done(g) => Ok(g),
        Passes::NonFiniteLoss(v) => Err(v),
    };
    if world.size() == 1 {
        return Ok(match local {
            Ok(g) => Reduced {
                grads: Some(g),
                nonfinite_loss: None,
                stop,
            },
            Err(v) => Reduced {
                grads: None,
                nonfinite_loss: Some(v),
                stop,
            },
        });
    }
    let device = vars.first().map_or(Device::Cpu, |v| v.device().clone());
    let flag = |b: bool| if b { 1f32 } else { 0f32 };
    let mut head = vec![flag(local.is_err()), flag(stop)];
    let mut parts = Vec::with_capacity(vars.len() + 1);
    match &local {
        Ok(g) => {
            head.push(g.loss as f32);
            head.extend(g.terms.iter().map(|&t| t as f32));
            head.extend(vars.iter().map(|v| flag(g.grads.get(v).is_some())));
        }
        Err(_) => head.extend(std::iter::repeat_n(0f32, 1 + n_terms + vars.len())),
    }
    let n_head = head.len();
    parts.push(Tensor::from_vec(head, n_head, &device)?);
    for v in vars {
        let g = match &local {
            Ok(g) => g.grads.get(v).cloned(),
            Err(_) => None,
        };
        parts.push(match g {
            Some(g) => g.to_dtype(DType::F32)?.flatten_all()?,
            None => Tensor::zeros(v.elem_count(), DType::F32, &device)?,
        });
    }
    let sum = world.all_reduce_sum(&Tensor::cat(&parts, 0)?)?;
    let head: Vec<f32> = sum.narrow(0, 0, n_head)?.to_vec1()?;
    let stop = head[1] > 0.0;
    if head[0] > 0.0 {
        return Ok(Reduced {
            grads: None,
            nonfinite_loss: Some(local.err().unwrap_or(f32::NAN)),
            stop,
        });
    }
    let mut grads = GradStore::default();
    let mut offset = n_head;
    for (i, v) in vars.iter().enumerate() {
        let n = v.elem_count();
        if head[3 + n_terms + i] > 0.0 {
            let g = sum.narrow(0, offset, n)?.reshape(v.shape())?;
            grads.insert(v, g.to_dtype(v.dtype())?);
        }
        offset += n;
    }
    Ok(Reduced {
        grads: Some(Gradients {
            grads,
            loss: head[2] as f64,
            terms: head[3..3 + n_terms].iter().map(|&t| t as f64).collect(),
        }),
        nonfinite_loss: None,
        stop,
    })
}
