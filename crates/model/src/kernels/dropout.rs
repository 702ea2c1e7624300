//! Inverted dropout whose mask is a hash of `(seed, element index)`: drawn in parallel and in
//! vector registers, never stored (the backward pass recomputes it), and the same for the same
//! seed whatever the thread count.

use super::{f32_slice, fused};
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use multiversion::multiversion;
use rayon::prelude::*;

/// Zeroes each entry of `x` with probability `p` (mask from `seed`) and scales the rest by
/// `1/(1-p)`, differentiable; `None` when the fused CPU kernel does not apply (not f32 on the
/// CPU), for the caller to draw a mask itself.
pub fn dropout(x: &Tensor, p: f32, seed: u64) -> Result<Option<Tensor>> {
    if !fused(x) {
        return Ok(None);
    }
    let op = Dropout::new(p, seed);
    x.contiguous()?.apply_op1(op).map(Some)
}

/// Elements per parallel task.
const TASK: usize = 1 << 14;

#[derive(Clone, Copy)]
struct Dropout {
    /// Entries whose hash is below this are dropped.
    threshold: u32,
    scale: f32,
    keys: [u32; 2],
}

impl Dropout {
    fn new(p: f32, seed: u64) -> Self {
        Self {
            threshold: (p.clamp(0.0, 1.0) as f64 * u32::MAX as f64) as u32,
            scale: 1.0 / (1.0 - p),
            keys: [seed as u32, (seed >> 32) as u32],
        }
    }
}

/// A 32-bit integer hash with good avalanche (Wellons' "lowbias32").
#[inline(always)]
fn mix(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^ (x >> 16)
}

/// `y[i] = x[i] · scale`, or 0 where the hash of element `first + i` falls below the threshold.
#[multiversion(targets = "simd")]
fn apply_mask(y: &mut [f32], x: &[f32], first: u32, op: Dropout) {
    let [k0, k1] = op.keys;
    for (i, (y, &x)) in y.iter_mut().zip(x).enumerate() {
        let h = mix(mix((first + i as u32) ^ k0) ^ k1);
        *y = if h >= op.threshold { x * op.scale } else { 0.0 };
    }
}

impl CustomOp1 for Dropout {
    fn name(&self) -> &'static str {
        "tinybert-dropout"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s, l, self.name())?;
        let mut y = vec![0f32; x.len()];
        y.par_chunks_mut(TASK)
            .zip(x.par_chunks(TASK))
            .enumerate()
            .for_each(|(task, (y, x))| apply_mask(y, x, (task * TASK) as u32, *self));
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, _x: &Tensor, _y: &Tensor, g: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(g.contiguous()?.apply_op1_no_bwd(self)?))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::var;
    use super::*;

    #[test]
    fn dropout_drops_about_p_scales_the_rest_and_repeats_for_a_seed() {
        let x = var(&[300, 257], 1.0, 0).unwrap();
        let x = (x.as_tensor().abs().unwrap() + 0.5).unwrap();
        let y = dropout(&x, 0.1, 7).unwrap().unwrap();
        let (xs, ys): (Vec<f32>, Vec<f32>) = (
            x.flatten_all().unwrap().to_vec1().unwrap(),
            y.flatten_all().unwrap().to_vec1().unwrap(),
        );
        let dropped = ys.iter().filter(|&&v| v == 0.0).count() as f64 / ys.len() as f64;
        assert!((dropped - 0.1).abs() < 0.005, "dropped {dropped}");
        for (a, b) in xs.iter().zip(&ys) {
            assert!(*b == 0.0 || (b - a / 0.9).abs() < 1e-6);
        }
        let again = dropout(&x, 0.1, 7).unwrap().unwrap();
        let other = dropout(&x, 0.1, 8).unwrap().unwrap();
        assert_eq!(ys, again.flatten_all().unwrap().to_vec1::<f32>().unwrap());
        assert_ne!(ys, other.flatten_all().unwrap().to_vec1::<f32>().unwrap());
    }

    #[test]
    fn dropout_gradient_is_the_same_mask_and_scale() {
        let x = var(&[40, 33], 1.0, 1).unwrap();
        let y = dropout(x.as_tensor(), 0.3, 3).unwrap().unwrap();
        let grads = y.sum_all().unwrap().backward().unwrap();
        let g: Vec<f32> = grads
            .get(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let ys: Vec<f32> = y.flatten_all().unwrap().to_vec1().unwrap();
        for (g, y) in g.iter().zip(&ys) {
            let expected = if *y == 0.0 { 0.0 } else { 1.0 / 0.7 };
            assert!((g - expected).abs() < 1e-6);
        }
    }
}
