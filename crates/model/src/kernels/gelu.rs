//! erf-GELU, `y = x/2 (1 + erf(x/√2))`, backward `dx = g (Φ(x) + x φ(x))`.

use super::math::{erf, exp};
use super::{fused, map_rows, map_rows2, Fused, Input, Kernel};
use candle_core::{bail, CpuStorage, CustomOp1, InplaceOp1, Layout, Result, Shape, Tensor};
use multiversion::multiversion;
use rayon::prelude::*;

/// The exact (erf) GELU, differentiable (fused on the CPU for f32).
pub fn gelu_erf(x: &Tensor) -> Result<Tensor> {
    if fused(x) {
        x.contiguous()?.apply_op1(Gelu)
    } else {
        x.gelu_erf()
    }
}

/// [`gelu_erf`] of a tensor the caller owns alone (a layer's fresh output): when it needs no
/// gradient (inference, a frozen teacher) its storage is overwritten instead of copied.
pub fn gelu_erf_owned(x: Tensor) -> Result<Tensor> {
    if fused(&x) && !x.track_op() && x.is_contiguous() {
        x.inplace_op1(&Gelu)?;
        Ok(x)
    } else {
        gelu_erf(&x)
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
fn gelu_in_place(x: &mut [f32]) {
    for x in x.iter_mut() {
        *x *= 0.5 * (1.0 + erf(*x * FRAC_1_SQRT_2));
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
        map_rows(s, l, CustomOp1::name(self), ROW, gelu)
    }

    fn bwd(&self, x: &Tensor, _y: &Tensor, g: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(
            x.apply_op2_no_bwd(&g.contiguous()?, &Fused(GeluGrad))?,
        ))
    }
}

impl InplaceOp1 for Gelu {
    fn name(&self) -> &'static str {
        "tinybert-gelu-erf-in-place"
    }

    fn cpu_fwd(&self, s: &mut CpuStorage, l: &Layout) -> Result<()> {
        let CpuStorage::F32(v) = s else {
            bail!("{}: expects f32 data", InplaceOp1::name(self))
        };
        let Some((start, end)) = l.contiguous_offsets() else {
            bail!("{}: expects a contiguous input", InplaceOp1::name(self))
        };
        v[start..end].par_chunks_mut(ROW).for_each(gelu_in_place);
        Ok(())
    }
}

/// `(x, g) -> dx`.
struct GeluGrad;

impl Kernel<2> for GeluGrad {
    fn name(&self) -> &'static str {
        "tinybert-gelu-erf-grad"
    }

    fn cpu(&self, [(s1, l1), (s2, l2)]: [Input; 2]) -> Result<(CpuStorage, Shape)> {
        map_rows2(s1, l1, s2, l2, self.name(), ROW, gelu_grad)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_agree, rel_diff, var, SHAPES};
    use super::*;

    #[test]
    fn owned_gelu_without_gradient_overwrites_its_input_with_the_same_values() {
        let x = var(&[3, 5000], 6.0, 9).unwrap().as_tensor().detach();
        let expected = gelu_erf(&x).unwrap();
        let y = gelu_erf_owned(x.copy().unwrap()).unwrap();
        assert!(rel_diff(&y, &expected).unwrap() == 0.0);
        let tracked = var(&[2, 3], 1.0, 10).unwrap();
        let y = gelu_erf_owned(tracked.as_tensor().clone()).unwrap();
        assert!(rel_diff(&y, &gelu_erf(tracked.as_tensor()).unwrap()).unwrap() == 0.0);
        assert_ne!(
            y.to_vec2::<f32>().unwrap(),
            tracked.as_tensor().to_vec2::<f32>().unwrap(),
            "a tracked input is left as it was"
        );
    }

    #[test]
    fn fused_gelu_matches_candles_gelu_erf_in_values_and_gradients() {
        for (i, shape) in SHAPES.iter().enumerate() {
            let x = var(shape, 6.0, i as u64).unwrap();
            assert_agree(
                gelu_erf(x.as_tensor()).unwrap(),
                x.as_tensor().gelu_erf().unwrap(),
                &[("x", &x)],
                (1e-6, 1e-5),
                &format!("{shape:?}"),
            );
        }
    }
}
