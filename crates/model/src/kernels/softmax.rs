//! Softmax over the last dimension: `y = exp(x - max) / sum`, backward `dx = y (g - <g, y>)`.

use super::{dot, fused, last_dim, map_rows, map_rows2, math::exp, max, sum, Fused, Input, Kernel};
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor, D};
use multiversion::multiversion;

/// Softmax over the last dimension, differentiable (fused on the CPU for f32).
///
/// # Shapes
/// `x`: [..., n] -> [..., n]
pub fn softmax_last_dim(x: &Tensor) -> Result<Tensor> {
    if fused(x) {
        x.contiguous()?.apply_op1(Softmax)
    } else {
        candle_nn::ops::softmax(x, D::Minus1)
    }
}

struct Softmax;

/// Softmax of each row of length `n`.
#[multiversion(targets = "simd")]
fn softmax_rows(y: &mut [f32], x: &[f32], n: usize) {
    for (y, x) in y.chunks_mut(n).zip(x.chunks(n)) {
        let max = max(x);
        for (y, &x) in y.iter_mut().zip(x) {
            *y = exp(x - max);
        }
        let inv = 1.0 / sum(y);
        y.iter_mut().for_each(|y| *y *= inv);
    }
}

/// `dx = y (g - <g, y>)` for each row of length `n`.
#[multiversion(targets = "simd")]
fn softmax_grad_rows(dx: &mut [f32], y: &[f32], g: &[f32], n: usize) {
    for ((dx, y), g) in dx.chunks_mut(n).zip(y.chunks(n)).zip(g.chunks(n)) {
        let yg = dot(y, g);
        for ((dx, &y), &g) in dx.iter_mut().zip(y).zip(g) {
            *dx = y * (g - yg);
        }
    }
}

impl CustomOp1 for Softmax {
    fn name(&self) -> &'static str {
        "tinybert-softmax"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let n = last_dim(l);
        map_rows(s, l, self.name(), n, |y, x| softmax_rows(y, x, n))
    }

    fn bwd(&self, _x: &Tensor, y: &Tensor, g: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(
            y.apply_op2_no_bwd(&g.contiguous()?, &Fused(SoftmaxGrad))?,
        ))
    }
}

/// `(y, g) -> dx`.
struct SoftmaxGrad;

impl Kernel<2> for SoftmaxGrad {
    fn name(&self) -> &'static str {
        "tinybert-softmax-grad"
    }

    fn cpu(&self, [(s1, l1), (s2, l2)]: [Input; 2]) -> Result<(CpuStorage, Shape)> {
        let n = last_dim(l1);
        map_rows2(s1, l1, s2, l2, self.name(), n, |dx, y, g| {
            softmax_grad_rows(dx, y, g, n)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_agree, rel_diff, var, SHAPES};
    use super::*;

    #[test]
    fn fused_softmax_matches_the_composed_one_in_values_and_gradients() {
        for (i, shape) in SHAPES.iter().enumerate() {
            let x = var(shape, 8.0, i as u64).unwrap();
            assert_agree(
                softmax_last_dim(x.as_tensor()).unwrap(),
                candle_nn::ops::softmax(x.as_tensor(), D::Minus1).unwrap(),
                &[("x", &x)],
                (1e-6, 1e-5),
                &format!("{shape:?}"),
            );
        }
    }

    #[test]
    fn fused_softmax_handles_masked_entries_and_transposed_inputs() {
        let x = var(&[6, 10], 3.0, 7).unwrap();
        let masked = (x.as_tensor().t().unwrap() - 10000.0).unwrap();
        let ours = softmax_last_dim(&masked).unwrap();
        let theirs = candle_nn::ops::softmax(&masked, D::Minus1).unwrap();
        assert!(rel_diff(&ours, &theirs).unwrap() < 1e-6);
        let rows = ours.sum(D::Minus1).unwrap().to_vec1::<f32>().unwrap();
        assert!(rows.iter().all(|s| (s - 1.0).abs() < 1e-6));
    }
}
