//! erf-GELU, `y = x/2 (1 + erf(x/√2))`, backward `dx = g (Φ(x) + x φ(x))`.

use super::math::{erf, exp};
use super::{fused, map_rows, map_rows2};
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use multiversion::multiversion;

/// The exact (erf) GELU, differentiable (fused on the CPU for f32).
pub fn gelu_erf(x: &Tensor) -> Result<Tensor> {
    if fused(x) {
        x.contiguous()?.apply_op1(Gelu)
    } else {
        x.gelu_erf()
    }
}

const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// 1/√(2π).
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;
/// Elements per row handed to [`map_rows`] (GELU is elementwise; the last row may be shorter).
const ROW: usize = 4096;

#[multiversion(targets = "simd")]
fn gelu(y: &mut [f32], x: &[f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = 0.5 * x * (1.0 + erf(x * FRAC_1_SQRT_2));
    }
}

#[multiversion(targets = "simd")]
fn gelu_grad(dx: &mut [f32], x: &[f32], g: &[f32]) {
    for ((dx, &x), &g) in dx.iter_mut().zip(x).zip(g) {
        let cdf = 0.5 * (1.0 + erf(x * FRAC_1_SQRT_2));
        let pdf = FRAC_1_SQRT_2PI * exp(-0.5 * x * x);
        *dx = g * (cdf + x * pdf);
    }
}

struct Gelu;

impl CustomOp1 for Gelu {
    fn name(&self) -> &'static str {
        "tinybert-gelu-erf"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        map_rows(s, l, self.name(), ROW, gelu)
    }

    fn bwd(&self, x: &Tensor, _y: &Tensor, g: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(x.apply_op2_no_bwd(&g.contiguous()?, &GeluGrad)?))
    }
}

/// `(x, g) -> dx`.
struct GeluGrad;

impl CustomOp2 for GeluGrad {
    fn name(&self) -> &'static str {
        "tinybert-gelu-erf-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        map_rows2(s1, l1, s2, l2, self.name(), ROW, gelu_grad)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{rel_diff, var, SHAPES};
    use super::*;

    #[test]
    fn fused_gelu_matches_candles_gelu_erf_in_values_and_gradients() {
        for (i, shape) in SHAPES.iter().enumerate() {
            let x = var(shape, 6.0, i as u64).unwrap();
            let up = var(shape, 1.0, 50 + i as u64).unwrap();
            let ours = gelu_erf(x.as_tensor()).unwrap();
            let theirs = x.as_tensor().gelu_erf().unwrap();
            assert!(rel_diff(&ours, &theirs).unwrap() < 1e-6, "{shape:?} values");
            let loss = |y: Tensor| (y * up.as_tensor()).unwrap().sum_all().unwrap();
            let (a, b) = (
                loss(ours).backward().unwrap(),
                loss(theirs).backward().unwrap(),
            );
            let (a, b) = (a.get(&x).unwrap(), b.get(&x).unwrap());
            assert!(rel_diff(a, b).unwrap() < 1e-5, "{shape:?} gradient");
        }
    }
}
