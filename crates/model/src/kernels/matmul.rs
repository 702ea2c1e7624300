//! Batched matrix products `scale · A B` over leading batch dimensions (attention's `QK^T` and
//! `PV`). candle runs the batch of small products one after another, each split over the
//! threads; here the batch itself is split over the threads, one single-threaded gemm per item.

use super::fused;
use candle_core::{bail, CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};
use gemm::{gemm, Parallelism};
use rayon::prelude::*;

/// `scale · a b` for every batch item, differentiable in both inputs.
///
/// # Shapes
/// `a`: [..., m, k], `b`: [..., k, n] (the same batch dimensions) -> [..., m, n]
pub fn batched_matmul(a: &Tensor, b: &Tensor, scale: f64) -> Result<Tensor> {
    if fused(a) && fused(b) && a.rank() >= 3 {
        mergeable(a)?.apply_op2(&mergeable(b)?, BatchedMatmul { scale })
    } else {
        composed(a, b, scale)
    }
}

/// The same product with candle's matmul.
pub fn composed(a: &Tensor, b: &Tensor, scale: f64) -> Result<Tensor> {
    let y = a.matmul(b)?;
    if scale == 1.0 {
        Ok(y)
    } else {
        y * scale
    }
}

/// The stride between batch items, when the batch dimensions merge into one.
fn batch_stride(l: &Layout) -> Option<usize> {
    let (dims, strides) = (l.dims(), l.stride());
    let r = dims.len();
    (0..r - 3)
        .all(|i| strides[i] == strides[i + 1] * dims[i + 1])
        .then(|| strides[r - 3])
}

/// `t`, or a contiguous copy when its batch dimensions do not merge.
fn mergeable(t: &Tensor) -> Result<Tensor> {
    match batch_stride(t.layout()) {
        Some(_) => Ok(t.clone()),
        None => t.contiguous(),
    }
}

struct BatchedMatmul {
    scale: f64,
}

/// One operand: its elements from the layout's start, batch/row/column strides.
struct Operand<'a> {
    data: &'a [f32],
    batch: usize,
    rows: isize,
    cols: isize,
}

impl<'a> Operand<'a> {
    fn new(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<Self> {
        let CpuStorage::F32(v) = s else {
            bail!("{op}: expects f32 data")
        };
        let Some(batch) = batch_stride(l) else {
            bail!("{op}: batch dimensions must merge")
        };
        let st = l.stride();
        let r = st.len();
        Ok(Self {
            data: &v[l.start_offset()..],
            batch,
            rows: st[r - 2] as isize,
            cols: st[r - 1] as isize,
        })
    }
}

impl CustomOp2 for BatchedMatmul {
    fn name(&self) -> &'static str {
        "tinybert-batched-matmul"
    }

    fn cpu_fwd(
        &self,
        sa: &CpuStorage,
        la: &Layout,
        sb: &CpuStorage,
        lb: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (da, db) = (la.dims(), lb.dims());
        let r = da.len();
        if db.len() != r || da[..r - 2] != db[..r - 2] || da[r - 1] != db[r - 2] {
            bail!("{}: cannot multiply {da:?} by {db:?}", self.name())
        }
        let (m, k, n) = (da[r - 2], da[r - 1], db[r - 1]);
        let items: usize = da[..r - 2].iter().product();
        let (a, b) = (
            Operand::new(sa, la, self.name())?,
            Operand::new(sb, lb, self.name())?,
        );
        let mut out = vec![0f32; items * m * n];
        let mut dims = da[..r - 2].to_vec();
        dims.extend([m, n]);
        if m * n == 0 {
            return Ok((CpuStorage::F32(out), Shape::from(dims)));
        }
        let threads = rayon::current_num_threads();
        let product = |i: usize, dst: &mut [f32], par: Parallelism| {
            // SAFETY: `dst` holds m·n elements; every element read from `a` and `b` lies inside
            // their storage, as candle's layouts (checked above to merge) describe it.
            unsafe {
                gemm(
                    m,
                    n,
                    k,
                    dst.as_mut_ptr(),
                    1,
                    n as isize,
                    false,
                    a.data.as_ptr().add(i * a.batch),
                    a.cols,
                    a.rows,
                    b.data.as_ptr().add(i * b.batch),
                    b.cols,
                    b.rows,
                    0.0,
                    self.scale as f32,
                    false,
                    false,
                    false,
                    par,
                )
            }
        };
        if items >= 2 * threads {
            out.par_chunks_mut(m * n)
                .enumerate()
                .for_each(|(i, dst)| product(i, dst, Parallelism::None));
        } else {
            let par = if threads > 1 {
                Parallelism::Rayon(threads)
            } else {
                Parallelism::None
            };
            for (i, dst) in out.chunks_mut(m * n).enumerate() {
                product(i, dst, par);
            }
        }
        Ok((CpuStorage::F32(out), Shape::from(dims)))
    }

    fn bwd(
        &self,
        a: &Tensor,
        b: &Tensor,
        _y: &Tensor,
        g: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let r = a.rank();
        let op = BatchedMatmul { scale: self.scale };
        let g = mergeable(g)?;
        let da = g.apply_op2_no_bwd(&mergeable(&b.transpose(r - 2, r - 1)?)?, &op)?;
        let db = mergeable(&a.transpose(r - 2, r - 1)?)?.apply_op2_no_bwd(&g, &op)?;
        Ok((Some(da), Some(db)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{rel_diff, var};
    use super::*;

    #[test]
    fn batched_matmul_matches_candles_matmul_in_values_and_gradients() {
        let cases: &[(&[usize], &[usize], bool)] = &[
            (&[3, 5, 7], &[3, 7, 4], false),
            (&[2, 3, 17, 8], &[2, 3, 8, 17], false),
            (&[2, 3, 17, 8], &[2, 3, 17, 8], true), // b transposed, as in Q K^T
            (&[1, 1, 4, 6], &[1, 1, 6, 5], false),
            (&[40, 9, 3], &[40, 3, 11], false),
        ];
        for (i, (sa, sb, transpose_b)) in cases.iter().enumerate() {
            let seed = 10 * i as u64;
            let (a, b) = (var(sa, 1.0, seed).unwrap(), var(sb, 1.0, seed + 1).unwrap());
            let r = sb.len();
            let bt = if *transpose_b {
                b.as_tensor().transpose(r - 2, r - 1).unwrap()
            } else {
                b.as_tensor().clone()
            };
            let ours = batched_matmul(a.as_tensor(), &bt, 0.125).unwrap();
            let theirs = composed(a.as_tensor(), &bt, 0.125).unwrap();
            assert!(rel_diff(&ours, &theirs).unwrap() < 1e-5, "case {i} values");
            let up = var(ours.dims(), 1.0, seed + 2).unwrap();
            let loss = |y: Tensor| (y * up.as_tensor()).unwrap().sum_all().unwrap();
            let (g1, g2) = (
                loss(ours).backward().unwrap(),
                loss(theirs).backward().unwrap(),
            );
            for (what, v) in [("a", &a), ("b", &b)] {
                let (x, y) = (g1.get(v).unwrap(), g2.get(v).unwrap());
                assert!(rel_diff(x, y).unwrap() < 1e-5, "case {i} d{what}");
            }
        }
    }

    #[test]
    fn batched_matmul_rejects_mismatched_inner_dimensions() {
        let a = var(&[2, 3, 4], 1.0, 0).unwrap();
        let b = var(&[2, 5, 3], 1.0, 1).unwrap();
        let err = batched_matmul(a.as_tensor(), b.as_tensor(), 1.0).unwrap_err();
        assert!(err.to_string().contains("cannot multiply"), "{err}");
    }
}
