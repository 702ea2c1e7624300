//! Mean squared error against a constant target, optionally after zeroing the entries at or
//! below a floor in both tensors (TinyBERT's attention loss zeroes the masked scores): one pass
//! forward, one backward, instead of the dozen passes and temporaries of the composed version.

use super::{
    f32_slice, fold8, fused, in_task_order, map_rows2, rows_per_task, Fused, Grads, Input, Kernel,
};
use candle_core::{bail, CpuStorage, Result, Shape, Tensor};
use multiversion::multiversion;
use rayon::prelude::*;

/// `mean((z(pred) - z(target))²)` where `z` zeroes entries `<= floor` when a floor is given;
/// differentiable in `pred` (fused on the CPU for f32 when `target` needs no gradient).
///
/// # Shapes
/// `pred`, `target`: the same shape -> scalar
pub fn mse(pred: &Tensor, target: &Tensor, floor: Option<f32>) -> Result<Tensor> {
    if fused(pred) && fused(target) && !target.track_op() {
        pred.contiguous()?
            .apply_op2(&target.contiguous()?, Fused(Mse { floor }))
    } else {
        composed(pred, target, floor)
    }
}

/// The same loss from candle primitives (any device and dtype).
pub fn composed(pred: &Tensor, target: &Tensor, floor: Option<f32>) -> Result<Tensor> {
    let z = |x: &Tensor| match floor {
        Some(f) => x.gt(f as f64)?.where_cond(x, &x.zeros_like()?),
        None => Ok(x.clone()),
    };
    (z(pred)? - z(target)?)?.sqr()?.mean_all()
}

struct Mse {
    floor: Option<f32>,
}

/// `x`, or 0 at or below the floor.
#[inline(always)]
fn zeroed(x: f32, floor: f32) -> f32 {
    if x > floor {
        x
    } else {
        0.0
    }
}

/// `Σ (z(p) - z(t))²`.
#[multiversion(targets = "simd")]
fn squared_error(p: &[f32], t: &[f32], floor: f32) -> f64 {
    let sq = |p: f32, t: f32| (zeroed(p, floor) - zeroed(t, floor)).powi(2);
    fold8(p, t, 0.0, sq, |a, b| a + b) as f64
}

/// `d = scale · (z(p) - z(t))` where `p > floor`, else 0.
#[multiversion(targets = "simd")]
fn squared_error_grad(d: &mut [f32], p: &[f32], t: &[f32], floor: f32, scale: f32) {
    for ((d, &p), &t) in d.iter_mut().zip(p).zip(t) {
        *d = if p > floor {
            scale * (p - zeroed(t, floor))
        } else {
            0.0
        };
    }
}

impl Kernel<2> for Mse {
    fn name(&self) -> &'static str {
        "tinybert-mse"
    }

    fn cpu(&self, [(sp, lp), (st, lt)]: [Input; 2]) -> Result<(CpuStorage, Shape)> {
        let name = self.name();
        if lp.dims() != lt.dims() {
            bail!("{name}: shapes {:?} and {:?} differ", lp.dims(), lt.dims())
        }
        let (p, t) = (f32_slice(sp, lp, name)?, f32_slice(st, lt, name)?);
        let floor = self.floor.unwrap_or(f32::NEG_INFINITY);
        let task = rows_per_task(1);
        let partials = p
            .par_chunks(task)
            .zip(t.par_chunks(task))
            .map(|(p, t)| squared_error(p, t, floor));
        let total: f64 = in_task_order(partials).into_iter().sum();
        let mean = (total / p.len().max(1) as f64) as f32;
        Ok((CpuStorage::F32(vec![mean]), Shape::from(())))
    }

    fn grads(&self, [pred, target]: [&Tensor; 2], _res: &Tensor, g: &Tensor) -> Grads<2> {
        let scale = 2.0 * g.to_scalar::<f32>()? / pred.elem_count().max(1) as f32;
        let grad = MseGrad {
            floor: self.floor.unwrap_or(f32::NEG_INFINITY),
            scale,
        };
        Ok([Some(pred.apply_op2_no_bwd(target, &Fused(grad))?), None])
    }
}

/// `(pred, target) -> scale · (z(pred) - z(target))` where `pred > floor`, else 0.
struct MseGrad {
    floor: f32,
    scale: f32,
}

impl Kernel<2> for MseGrad {
    fn name(&self) -> &'static str {
        "tinybert-mse-grad"
    }

    fn cpu(&self, [(sp, lp), (st, lt)]: [Input; 2]) -> Result<(CpuStorage, Shape)> {
        let (floor, scale) = (self.floor, self.scale);
        map_rows2(sp, lp, st, lt, self.name(), 4096, |d, p, t| {
            squared_error_grad(d, p, t, floor, scale)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{rel_diff, var};
    use super::*;

    #[test]
    fn fused_mse_matches_the_composed_one_with_and_without_a_floor() {
        for (i, shape) in [&[1usize][..], &[3, 7], &[2, 3, 17, 17], &[5000]]
            .iter()
            .enumerate()
        {
            let seed = 10 * i as u64;
            // Scores around the floor, some far below (masked keys).
            let p = (var(shape, 200.0, seed).unwrap().as_tensor() - 50.0).unwrap();
            let p = candle_core::Var::from_tensor(&p).unwrap();
            let t = (var(shape, 200.0, seed + 1).unwrap().as_tensor() - 50.0).unwrap();
            for floor in [None, Some(-100.0)] {
                let ours = mse(p.as_tensor(), &t, floor).unwrap();
                let theirs = composed(p.as_tensor(), &t, floor).unwrap();
                assert!(
                    rel_diff(&ours, &theirs).unwrap() < 1e-5,
                    "{shape:?} {floor:?}"
                );
                let (a, b) = (
                    (ours * 3.0).unwrap().backward().unwrap(),
                    (theirs * 3.0).unwrap().backward().unwrap(),
                );
                let (a, b) = (a.get(&p).unwrap(), b.get(&p).unwrap());
                assert!(
                    rel_diff(a, b).unwrap() < 1e-5,
                    "{shape:?} {floor:?} gradient"
                );
            }
        }
    }
}
