//! Dense layers, `y = x W^T + b`, as one gemm per pass: the bias is written into the output
//! before the product accumulates onto it (no separate broadcast add), and every product is
//! given to gemm with row-major operands, which its kernels pack well (measured on this CPU:
//! `x W^T` with `W^T` as a strided view runs at 45-120 GFLOP/s, stored row-major at 100-210).

use super::operand::{product, Operand};
use super::{f32_slice, fused, in_task_order, Fused, Grads, Input, Kernel};
use candle_core::{bail, CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use gemm::Parallelism;
use multiversion::multiversion;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// `x W^T + b`, differentiable in all three (fused on the CPU for f32).
///
/// # Shapes
/// `x`: [..., in], `weight`: [out, in], `bias`: [out] -> [..., out]
pub fn linear(x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
    if !(fused(x) && fused(weight) && fused(bias)) {
        return composed(x, weight, bias);
    }
    let mut dims = x.dims().to_vec();
    let Some(k) = dims.pop() else {
        bail!("linear: the input must have at least one dimension")
    };
    let rows = dims.iter().product::<usize>();
    let weight = if column_major(weight.layout()) {
        weight.clone()
    } else {
        weight.contiguous()?
    };
    let y = x.contiguous()?.reshape((rows, k))?.apply_op3(
        &weight,
        &bias.contiguous()?,
        Fused(Linear),
    )?;
    dims.push(y.dim(1)?);
    y.reshape(dims)
}

/// The same layer with candle's matmul and broadcast add (any device and dtype).
pub fn composed(x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
    let w = weight.t()?;
    let y = match x.dims() {
        [b, s, k] => x.reshape((b * s, *k))?.matmul(&w)?.reshape((*b, *s, ()))?,
        _ => x.matmul(&w)?,
    };
    y.broadcast_add(bias)
}

/// `[rows, cols]` -> `[cols, rows]`, in cache-sized tiles, in parallel.
fn transpose(src: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    const TILE: usize = 32;
    let mut dst = Vec::with_capacity(rows * cols);
    if rows * cols > 0 {
        dst.spare_capacity_mut()
            .par_chunks_mut(TILE * rows)
            .enumerate()
            .for_each(|(block, out): (usize, &mut [MaybeUninit<f32>])| {
                let c0 = block * TILE;
                for r0 in (0..rows).step_by(TILE) {
                    for c in 0..out.len() / rows {
                        for r in r0..(r0 + TILE).min(rows) {
                            out[c * rows + r].write(src[r * cols + c0 + c]);
                        }
                    }
                }
            });
    }
    // SAFETY: the tiles above wrote every one of the rows·cols elements.
    unsafe { dst.set_len(rows * cols) };
    dst
}

/// A new `[m, n]` buffer holding `lhs [m, k] · rhs [k, n]` (`lhs` row-major), split over the
/// rayon threads; `init` fills it first when given (one row) and the product adds onto it.
fn new_product(
    m: usize,
    n: usize,
    k: usize,
    lhs: &[f32],
    rhs: &Operand,
    init: Option<&[f32]>,
) -> Vec<f32> {
    if init.is_none() && k == 0 {
        return vec![0f32; m * n];
    }
    let mut out = Vec::with_capacity(m * n);
    if let (Some(row), true) = (init, n > 0) {
        out.spare_capacity_mut()
            .par_chunks_mut(n)
            .with_min_len(64)
            .for_each(|o: &mut [MaybeUninit<f32>]| {
                o.iter_mut().zip(row).for_each(|(o, &v)| {
                    o.write(v);
                })
            });
    }
    debug_assert!(lhs.len() >= m * k);
    // SAFETY: `out` has room for m·n elements, all written by `init` (when read) or by gemm;
    // the callers check the operands' shapes against m, n and k.
    unsafe {
        product(
            (m, n, k),
            out.as_mut_ptr(),
            (&Operand::row_major(lhs, k), 0),
            (rhs, 0),
            1.0,
            init.is_some(),
            Parallelism::Rayon(0),
        );
        out.set_len(m * n);
    }
    out
}

/// True for a 2-D layout stored transposed (`[out, in]` with strides `[1, out]`), the layout
/// frozen dense weights are loaded in (see `store`): its storage is `W^T`, row-major.
pub(crate) fn column_major(l: &Layout) -> bool {
    matches!((l.dims(), l.stride()), (&[n, _], &[1, s]) if s == n)
}

/// `w` [out, in] with the same values stored transposed (strides `[1, out]`), so that
/// [`linear`] multiplies by it without a copy; frozen weights are loaded this way.
pub fn to_column_major(w: &Tensor) -> Result<Tensor> {
    let (n, k) = w.dims2()?;
    if !fused(w) || column_major(w.layout()) {
        return Ok(w.clone());
    }
    let wt = transpose(&w.flatten_all()?.to_vec1::<f32>()?, n, k);
    Tensor::from_vec(wt, (k, n), w.device())?.t()
}

/// The two dimensions of a 2-D layout.
fn dims2(l: &Layout, op: &str, what: &str) -> Result<(usize, usize)> {
    match l.dims() {
        &[a, b] => Ok((a, b)),
        d => bail!("{op}: {what} must be 2-D, got {d:?}"),
    }
}

struct Linear;

impl Kernel<3> for Linear {
    fn name(&self) -> &'static str {
        "tinybert-linear"
    }

    fn cpu(&self, [(sx, lx), (sw, lw), (sb, lb)]: [Input; 3]) -> Result<(CpuStorage, Shape)> {
        let name = self.name();
        let ((m, k), (n, kw)) = (dims2(lx, name, "input")?, dims2(lw, name, "weight")?);
        if kw != k || lb.dims() != [n] {
            bail!(
                "{name}: input {:?}, weight {:?} and bias {:?} do not match",
                lx.dims(),
                lw.dims(),
                lb.dims()
            )
        }
        let (x, b) = (f32_slice(sx, lx, name)?, f32_slice(sb, lb, name)?);
        // A frozen weight is stored as `W^T` (row-major [k, n]); a trainable one changes every
        // step, so it is transposed on each call: the same operand layout as a frozen one gives
        // bit-identical outputs after a reload.
        let wt;
        let rhs = if column_major(lw) {
            Operand::new(sw, &lw.transpose(0, 1)?, name)?
        } else {
            wt = transpose(f32_slice(sw, lw, name)?, n, k);
            Operand::row_major(&wt, n)
        };
        let y = new_product(m, n, k, x, &rhs, Some(b));
        Ok((CpuStorage::F32(y), Shape::from((m, n))))
    }

    fn grads(&self, [x, w, b]: [&Tensor; 3], _y: &Tensor, g: &Tensor) -> Grads<3> {
        let g = g.contiguous()?;
        let dx = x
            .track_op()
            .then(|| g.apply_op2_no_bwd(w, &Fused(LinearGrad::Input)))
            .transpose()?;
        let dw = w
            .track_op()
            .then(|| g.apply_op2_no_bwd(x, &Fused(LinearGrad::Weight)))
            .transpose()?;
        let db = b
            .track_op()
            .then(|| g.apply_op1_no_bwd(&ColumnSum))
            .transpose()?;
        Ok([dx, dw, db])
    }
}

/// `(g [m, n], W [n, k]) -> dx = g W`, or `(g, x [m, k]) -> dW = g^T x`.
enum LinearGrad {
    Input,
    Weight,
}

impl Kernel<2> for LinearGrad {
    fn name(&self) -> &'static str {
        match self {
            Self::Input => "tinybert-linear-grad-input",
            Self::Weight => "tinybert-linear-grad-weight",
        }
    }

    fn cpu(&self, [(sg, lg), (so, lo)]: [Input; 2]) -> Result<(CpuStorage, Shape)> {
        let name = self.name();
        let ((m, n), (r, k)) = (dims2(lg, name, "gradient")?, dims2(lo, name, "operand")?);
        let g = f32_slice(sg, lg, name)?;
        // The operand is row-major, or (a frozen weight) column-major.
        let o = Operand::new(so, lo, name)?;
        let (out, shape) = match self {
            Self::Input if r == n => (new_product(m, k, n, g, &o, None), (m, k)),
            Self::Weight if r == m => (new_product(n, k, m, &transpose(g, m, n), &o, None), (n, k)),
            _ => bail!(
                "{name}: gradient {:?} does not match {:?}",
                lg.dims(),
                lo.dims()
            ),
        };
        Ok((CpuStorage::F32(out), Shape::from(shape)))
    }
}

/// `acc += Σ rows` for the rows (of `acc`'s length) of `rows`.
#[multiversion(targets = "simd")]
fn add_rows(acc: &mut [f32], rows: &[f32]) {
    for row in rows.chunks_exact(acc.len()) {
        acc.iter_mut().zip(row).for_each(|(a, v)| *a += v);
    }
}

/// `g [m, n] -> [n]`, the sum over rows (the bias gradient).
struct ColumnSum;

impl CustomOp1 for ColumnSum {
    fn name(&self) -> &'static str {
        "tinybert-column-sum"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (_, n) = dims2(l, self.name(), "gradient")?;
        let g = f32_slice(s, l, self.name())?;
        let total = if n == 0 {
            Vec::new()
        } else {
            let partials = g.par_chunks(n * super::rows_per_task(n)).map(|rows| {
                let mut acc = vec![0f32; n];
                add_rows(&mut acc, rows);
                acc
            });
            in_task_order(partials)
                .into_iter()
                .fold(vec![0f32; n], |mut a, b| {
                    add_rows(&mut a, &b);
                    a
                })
        };
        Ok((CpuStorage::F32(total), Shape::from(n)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_agree, var};
    use super::*;

    #[test]
    fn fused_linear_matches_the_composed_one_in_values_and_all_three_gradients() {
        for (i, &(lead, k, n)) in [
            (&[1usize][..], 1usize, 1usize),
            (&[3], 7, 5),
            (&[2, 5], 13, 33),
            (&[4, 37], 64, 129),
            (&[300], 31, 2),
        ]
        .iter()
        .enumerate()
        {
            let seed = 10 * i as u64;
            let mut shape = lead.to_vec();
            shape.push(k);
            let x = var(&shape, 2.0, seed).unwrap();
            let w = var(&[n, k], 1.0, seed + 1).unwrap();
            let b = var(&[n], 1.0, seed + 2).unwrap();
            let (xt, wt, bt) = (x.as_tensor(), w.as_tensor(), b.as_tensor());
            assert_agree(
                linear(xt, wt, bt).unwrap(),
                composed(xt, wt, bt).unwrap(),
                &[("x", &x), ("weight", &w), ("bias", &b)],
                (1e-5, 1e-5),
                &format!("{shape:?} -> {n}"),
            );
        }
    }

    #[test]
    fn transpose_of_odd_shapes_is_exact() {
        for (rows, cols) in [(1, 1), (3, 70), (65, 33), (100, 1)] {
            let src: Vec<f32> = (0..rows * cols).map(|i| i as f32).collect();
            let t = transpose(&src, rows, cols);
            for r in 0..rows {
                for c in 0..cols {
                    assert_eq!(t[c * rows + r], src[r * cols + c]);
                }
            }
        }
    }

    #[test]
    fn fused_linear_rejects_a_weight_of_the_wrong_width() {
        let x = var(&[2, 4], 1.0, 0).unwrap();
        let w = var(&[3, 5], 1.0, 1).unwrap();
        let b = var(&[3], 1.0, 2).unwrap();
        let err = linear(x.as_tensor(), w.as_tensor(), b.as_tensor()).unwrap_err();
        assert!(err.to_string().contains("do not match"), "{err}");
    }
}
