//! Batched matrix products `scale · A B (+ C)` over leading batch dimensions (attention's `QK^T`
//! plus the mask, and `PV`). candle runs the batch of small products one after another, each
//! split over the threads; here the batch itself is split over the threads, one single-threaded
//! gemm per item. Operands may be strided views (heads split off a [batch, seq, hidden] tensor,
//! `K^T`, a broadcast mask): nothing is copied.

use super::operand::{per_item, product, Batched};
use super::{fused, Fused, Grads, Input, Kernel};
use candle_core::{CpuStorage, Result, Shape, Tensor};
use gemm::Parallelism;
use std::mem::MaybeUninit;

/// `scale · a b` for every batch item, differentiable in both inputs.
///
/// # Shapes
/// `a`: [..., m, k], `b`: [..., k, n] (the same batch dimensions) -> [..., m, n]
pub fn batched_matmul(a: &Tensor, b: &Tensor, scale: f64) -> Result<Tensor> {
    if fused(a) && fused(b) && a.rank() >= 3 {
        a.apply_op2(b, Fused(BatchedMatmul { scale, bf16: false }))
    } else {
        composed(a, b, scale)
    }
}

/// `scale · a b + c`, with `c` broadcast to the product's shape (an additive attention mask),
/// differentiable in all three.
///
/// # Shapes
/// `a`: [..., m, k], `b`: [..., k, n], `c`: broadcastable to [..., m, n] -> [..., m, n]
pub fn batched_matmul_add(a: &Tensor, b: &Tensor, scale: f64, c: &Tensor) -> Result<Tensor> {
    if fused(a) && fused(b) && fused(c) && a.rank() >= 3 {
        let mut dims = a.dims().to_vec();
        *dims.last_mut().expect("rank >= 3") = b.dim(candle_core::D::Minus1)?;
        a.apply_op3(
            b,
            &c.broadcast_as(dims)?,
            Fused(BatchedMatmul { scale, bf16: false }),
        )
    } else {
        composed(a, b, scale)?.broadcast_add(c)
    }
}

/// `scale · a b` for every batch item with bf16 products (both operands converted per call,
/// f32 output); the f32 [`batched_matmul`] when the bf16 products are not
/// [`available`](super::bf16::available), the operands are not f32 CPU tensors, or one needs a gradient (no backward
/// pass here).
///
/// # Shapes
/// `a`: [..., m, k], `b`: [..., k, n] (the same batch dimensions) -> [..., m, n]
pub fn batched_matmul_bf16(a: &Tensor, b: &Tensor, scale: f64) -> Result<Tensor> {
    if applies(&[a, b]) {
        a.apply_op2_no_bwd(b, &Fused(BatchedMatmul { scale, bf16: true }))
    } else {
        batched_matmul(a, b, scale)
    }
}

/// `scale · a b + c` as [`batched_matmul_bf16`], `c` broadcast to the product's shape (an additive
/// attention mask [batch, 1, 1, seq] is added in the micro-kernel, like a bias).
///
/// # Shapes
/// `a`: [..., m, k], `b`: [..., k, n], `c`: broadcastable to [..., m, n] -> [..., m, n]
pub fn batched_matmul_add_bf16(a: &Tensor, b: &Tensor, scale: f64, c: &Tensor) -> Result<Tensor> {
    if applies(&[a, b, c]) {
        let mut dims = a.dims().to_vec();
        if let Some(last) = dims.last_mut() {
            *last = b.dim(candle_core::D::Minus1)?;
        }
        a.apply_op3_no_bwd(
            b,
            &c.broadcast_as(dims)?,
            &Fused(BatchedMatmul { scale, bf16: true }),
        )
    } else {
        batched_matmul_add(a, b, scale, c)
    }
}

/// True when the bf16 batched products take these operands.
fn applies(ts: &[&Tensor]) -> bool {
    ts[0].rank() >= 3 && ts.iter().all(|t| super::bf16::takes(t))
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

/// The batched product op, `scale · A B (+ C)` for every batch item: one f32 gemm per item, or
/// when `bf16` the bf16 products of [`super::bf16`] (applied without a backward pass).
pub(super) struct BatchedMatmul {
    pub scale: f64,
    pub bf16: bool,
}

impl BatchedMatmul {
    /// The op's name, with the addend `c` (`add`) or without, for f32 or bf16 products.
    fn op_name(&self, add: bool) -> &'static str {
        match (add, self.bf16) {
            (false, false) => "tinybert-batched-matmul",
            (false, true) => "tinybert-batched-matmul-bf16",
            (true, false) => "tinybert-batched-matmul-add",
            (true, true) => "tinybert-batched-matmul-add-bf16",
        }
    }

    /// The products, written over `c`'s values when given (same shape as the output).
    fn run(&self, a: Input, b: Input, c: Option<Input>) -> Result<(CpuStorage, Shape)> {
        let name = self.op_name(false);
        let p = Batched::new(name, a, b, c)?;
        let out = if self.bf16 {
            super::bf16::products(&p, self.scale as f32, name)?
        } else {
            self.products(&p)
        };
        Ok((CpuStorage::F32(out), Shape::from(p.dims)))
    }

    /// The f32 products: one gemm per item.
    fn products(&self, p: &Batched) -> Vec<f32> {
        let Batched {
            a, b, c, m, k, n, ..
        } = p;
        let (m, k, n) = (*m, *k, *n);
        if m * n == 0 || (k == 0 && c.is_none()) {
            return vec![0f32; p.items() * m * n];
        }
        let product = |i: usize, dst: &mut [MaybeUninit<f32>], _: &mut (), threads: usize| {
            if let Some(c) = c {
                for (row, d) in dst.chunks_mut(n).enumerate() {
                    let start = c.offsets[i] + row * c.rows as usize;
                    if c.cols == 1 {
                        for (d, &v) in d.iter_mut().zip(&c.data[start..start + n]) {
                            d.write(v);
                        }
                    } else {
                        for (col, d) in d.iter_mut().enumerate() {
                            d.write(c.data[start + col * c.cols as usize]);
                        }
                    }
                }
            }
            let par = if threads > 1 {
                Parallelism::Rayon(threads)
            } else {
                Parallelism::None
            };
            // SAFETY: `dst` holds m·n elements, written by gemm (or by the addend above when it
            // reads them); every element read from `a` and `b` lies inside their storage, as
            // candle's layouts (their offsets and strides) describe it.
            unsafe {
                product(
                    (m, n, k),
                    dst.as_mut_ptr().cast::<f32>(),
                    (a, i),
                    (b, i),
                    self.scale as f32,
                    c.is_some(),
                    par,
                )
            }
        };
        // SAFETY: gemm writes each item's m·n elements.
        unsafe { per_item(p.items(), m * n, || (), product) }
    }

    /// `[da, db]` for the output gradient `g`.
    fn product_grads(&self, a: &Tensor, b: &Tensor, g: &Tensor) -> Grads<2> {
        let r = a.rank();
        let op = Fused(BatchedMatmul {
            scale: self.scale,
            bf16: false,
        });
        let da = g.apply_op2_no_bwd(&b.transpose(r - 2, r - 1)?, &op)?;
        let db = a.transpose(r - 2, r - 1)?.apply_op2_no_bwd(g, &op)?;
        Ok([Some(da), Some(db)])
    }
}

impl Kernel<2> for BatchedMatmul {
    fn name(&self) -> &'static str {
        self.op_name(false)
    }

    fn cpu(&self, [a, b]: [Input; 2]) -> Result<(CpuStorage, Shape)> {
        self.run(a, b, None)
    }

    fn grads(&self, [a, b]: [&Tensor; 2], _y: &Tensor, g: &Tensor) -> Grads<2> {
        self.product_grads(a, b, g)
    }
}

impl Kernel<3> for BatchedMatmul {
    fn name(&self) -> &'static str {
        self.op_name(true)
    }

    fn cpu(&self, [a, b, c]: [Input; 3]) -> Result<(CpuStorage, Shape)> {
        self.run(a, b, Some(c))
    }

    fn grads(&self, [a, b, c]: [&Tensor; 3], _y: &Tensor, g: &Tensor) -> Grads<3> {
        let [da, db] = self.product_grads(a, b, g)?;
        Ok([da, db, c.track_op().then(|| g.clone())])
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_agree, var};
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
            assert_agree(
                batched_matmul(a.as_tensor(), &bt, 0.125).unwrap(),
                composed(a.as_tensor(), &bt, 0.125).unwrap(),
                &[("a", &a), ("b", &b)],
                (1e-5, 1e-5),
                &format!("case {i}"),
            );
        }
    }

    #[test]
    fn batched_matmul_add_on_strided_heads_matches_the_composed_product_plus_the_mask() {
        // Heads split off [batch, seq, hidden] as views, K^T as a view, a [batch, 1, 1, seq] mask.
        let (x, y) = (
            var(&[2, 9, 12], 1.0, 5).unwrap(),
            var(&[2, 9, 12], 1.0, 6).unwrap(),
        );
        let heads = |t: &Tensor| t.reshape((2, 9, 3, 4)).unwrap().transpose(1, 2).unwrap();
        let (q, k) = (heads(x.as_tensor()), heads(y.as_tensor()));
        let kt = k.t().unwrap();
        let mask = var(&[2, 1, 1, 9], 5.0, 7).unwrap();
        assert_agree(
            batched_matmul_add(&q, &kt, 0.5, mask.as_tensor()).unwrap(),
            composed(&q.contiguous().unwrap(), &kt.contiguous().unwrap(), 0.5)
                .unwrap()
                .broadcast_add(mask.as_tensor())
                .unwrap(),
            &[("q", &x), ("k", &y), ("mask", &mask)],
            (1e-5, 1e-5),
            "strided heads",
        );
    }

    #[test]
    fn batched_matmul_rejects_mismatched_inner_dimensions() {
        let a = var(&[2, 3, 4], 1.0, 0).unwrap();
        let b = var(&[2, 5, 3], 1.0, 1).unwrap();
        let err = batched_matmul(a.as_tensor(), b.as_tensor(), 1.0).unwrap_err();
        assert!(err.to_string().contains("cannot multiply"), "{err}");
    }
}
