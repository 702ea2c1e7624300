//! Inverted dropout whose mask is a hash of `(seed, row, index within the row)`, where a row is
//! one example (the tensor's first dimension) numbered from `first_row`: drawn in parallel and
//! in vector registers, never stored (the backward pass recomputes it), the same for the same
//! seed whatever the thread count, and the same for an example whether it is computed in one
//! batch or in parts of it (micro-batches, data-parallel ranks) numbered by their position.

use super::{f32_slice, fused};
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use multiversion::multiversion;
use rayon::prelude::*;

/// Zeroes each entry of `x` with probability `p` (mask from `seed`; the rows of `x`, its first
/// dimension, are rows `first_row..` of the mask) and scales the rest by `1/(1-p)`,
/// differentiable; `None` when the fused CPU kernel does not apply (not f32 on the CPU), for
/// the caller to build the same mask with [`mask`].
pub fn dropout(x: &Tensor, p: f32, seed: u64, first_row: u64) -> Result<Option<Tensor>> {
    if !fused(x) {
        return Ok(None);
    }
    let op = Dropout::new(p, seed, first_row, row_len(x.shape()));
    x.contiguous()?.apply_op1(op).map(Some)
}

/// The mask [`dropout`] applies to a tensor of `shape` (0 or `1/(1-p)` per entry), for devices
/// without the fused kernel: the same entries are dropped everywhere.
pub fn mask(shape: &Shape, p: f32, seed: u64, first_row: u64) -> Vec<f32> {
    let op = Dropout::new(p, seed, first_row, row_len(shape));
    let ones = vec![1f32; shape.elem_count()];
    let mut y = vec![0f32; ones.len()];
    op.apply(&mut y, &ones);
    y
}

/// Entries per row: everything after the first dimension (a scalar or vector is one row).
fn row_len(shape: &Shape) -> usize {
    match shape.dims() {
        [] | [_] => shape.elem_count().max(1),
        [_, rest @ ..] => rest.iter().product::<usize>().max(1),
    }
}

#[derive(Clone, Copy)]
struct Dropout {
    /// Entries whose hash is below this are dropped.
    threshold: u32,
    scale: f32,
    keys: [u32; 2],
    first_row: u64,
    row_len: usize,
}

impl Dropout {
    fn new(p: f32, seed: u64, first_row: u64, row_len: usize) -> Self {
        Self {
            threshold: (p.clamp(0.0, 1.0) as f64 * u32::MAX as f64) as u32,
            scale: 1.0 / (1.0 - p),
            keys: [seed as u32, (seed >> 32) as u32],
            first_row,
            row_len,
        }
    }

    /// `y = x · mask`, row by row in parallel.
    fn apply(&self, y: &mut [f32], x: &[f32]) {
        y.par_chunks_mut(self.row_len)
            .zip(x.par_chunks(self.row_len))
            .enumerate()
            .for_each(|(row, (y, x))| {
                let key = row_key(self.keys[1], self.first_row + row as u64);
                apply_row(y, x, key, *self)
            });
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

/// The per-row part of the hash (a row is one example).
fn row_key(k1: u32, row: u64) -> u32 {
    mix(mix(row as u32 ^ k1) ^ (row >> 32) as u32)
}

/// `y[i] = x[i] · scale`, or 0 where the hash of `(row, i)` falls below the threshold.
#[multiversion(targets = "simd")]
fn apply_row(y: &mut [f32], x: &[f32], row: u32, op: Dropout) {
    let k0 = op.keys[0];
    for (i, (y, &x)) in y.iter_mut().zip(x).enumerate() {
        let h = mix(mix(i as u32 ^ k0) ^ row);
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
        self.apply(&mut y, x);
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
        let y = dropout(&x, 0.1, 7, 0).unwrap().unwrap();
        let (xs, ys): (Vec<f32>, Vec<f32>) = (
            x.flatten_all().unwrap().to_vec1().unwrap(),
            y.flatten_all().unwrap().to_vec1().unwrap(),
        );
        let dropped = ys.iter().filter(|&&v| v == 0.0).count() as f64 / ys.len() as f64;
        assert!((dropped - 0.1).abs() < 0.005, "dropped {dropped}");
        for (a, b) in xs.iter().zip(&ys) {
            assert!(*b == 0.0 || (b - a / 0.9).abs() < 1e-6);
        }
        let again = dropout(&x, 0.1, 7, 0).unwrap().unwrap();
        let other = dropout(&x, 0.1, 8, 0).unwrap().unwrap();
        assert_eq!(ys, again.flatten_all().unwrap().to_vec1::<f32>().unwrap());
        assert_ne!(ys, other.flatten_all().unwrap().to_vec1::<f32>().unwrap());
    }

    #[test]
    fn dropout_gradient_is_the_same_mask_and_scale() {
        let x = var(&[40, 33], 1.0, 1).unwrap();
        let y = dropout(x.as_tensor(), 0.3, 3, 0).unwrap().unwrap();
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

    #[test]
    fn an_example_gets_the_same_mask_in_a_whole_batch_or_in_parts_numbered_by_position() {
        let x = var(&[6, 5, 7], 1.0, 2).unwrap();
        let x = (x.as_tensor().abs().unwrap() + 0.5).unwrap();
        let whole: Vec<f32> = dropout(&x, 0.3, 11, 0)
            .unwrap()
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let mut parts = Vec::new();
        for (start, len) in [(0, 2), (2, 3), (5, 1)] {
            let part = x.narrow(0, start, len).unwrap();
            let y = dropout(&part, 0.3, 11, start as u64).unwrap().unwrap();
            parts.extend(y.flatten_all().unwrap().to_vec1::<f32>().unwrap());
        }
        assert_eq!(whole, parts);
        // The mask for other devices drops the same entries.
        let m = mask(x.shape(), 0.3, 11, 0);
        let xs: Vec<f32> = x.flatten_all().unwrap().to_vec1().unwrap();
        for ((w, m), x) in whole.iter().zip(&m).zip(&xs) {
            assert_eq!(*w, x * m);
        }
    }
}
