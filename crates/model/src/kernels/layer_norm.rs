//! LayerNorm over the last dimension, `y = (x - mean) / sqrt(var + eps) * w + b`, with a fused
//! backward pass giving `dx`, `dw` and `db` from one pass over the rows.

use super::{
    dot, f32_slice, fold8, fused, in_task_order, last_dim, rows_per_task, sum, Fused, Grads, Input,
    Kernel,
};
use candle_core::{bail, CpuStorage, Layout, Result, Shape, Tensor, D};
use multiversion::multiversion;
use rayon::prelude::*;

/// LayerNorm over the last dimension, differentiable in `x`, `weight` and `bias` (fused on the
/// CPU for f32; composed of candle primitives elsewhere).
///
/// # Shapes
/// `x`: [..., n], `weight`, `bias`: [n] -> [..., n]
pub fn layer_norm(x: &Tensor, weight: &Tensor, bias: &Tensor, eps: f64) -> Result<Tensor> {
    if fused(x) && fused(weight) && fused(bias) {
        x.contiguous()?.apply_op3(
            &weight.contiguous()?,
            &bias.contiguous()?,
            Fused(LayerNorm { eps: eps as f32 }),
        )
    } else {
        composed(x, weight, bias, eps)
    }
}

/// The same LayerNorm from candle primitives (any device and dtype; computed in f32).
pub fn composed(x: &Tensor, weight: &Tensor, bias: &Tensor, eps: f64) -> Result<Tensor> {
    let dtype = x.dtype();
    let x = x.to_dtype(candle_core::DType::F32)?;
    let mean = x.mean_keepdim(D::Minus1)?;
    let centered = x.broadcast_sub(&mean)?;
    let var = centered.sqr()?.mean_keepdim(D::Minus1)?;
    let normed = centered.broadcast_div(&(var + eps)?.sqrt()?)?;
    normed
        .to_dtype(dtype)?
        .broadcast_mul(weight)?
        .broadcast_add(bias)
}

struct LayerNorm {
    eps: f32,
}

/// Mean and 1/std of one row.
#[inline(always)]
fn moments(x: &[f32], eps: f32) -> (f32, f32) {
    let n = x.len() as f32;
    let mean = sum(x) / n;
    let var = fold8(x, x, 0.0, |v, _| (v - mean) * (v - mean), |a, b| a + b) / n;
    (mean, 1.0 / (var + eps).sqrt())
}

/// `y = (x - mean) / std · w + b` for each row (of `w`'s length).
#[multiversion(targets = "simd")]
fn norm_rows(y: &mut [f32], x: &[f32], w: &[f32], b: &[f32], eps: f32) {
    let n = w.len();
    for (y, x) in y.chunks_mut(n).zip(x.chunks(n)) {
        let (mean, rstd) = moments(x, eps);
        for (((y, &x), &w), &b) in y.iter_mut().zip(x).zip(w).zip(b) {
            *y = (x - mean) * rstd * w + b;
        }
    }
}

/// `dx` of each row (of `w`'s length), adding the rows' contributions to `dw` and `db`.
#[multiversion(targets = "simd")]
fn norm_grad_rows(
    dx: &mut [f32],
    x: &[f32],
    g: &[f32],
    w: &[f32],
    eps: f32,
    dw: &mut [f32],
    db: &mut [f32],
) {
    let n = w.len();
    let (mut gw, mut xhat) = (vec![0f32; n], vec![0f32; n]);
    for ((dx, x), g) in dx.chunks_mut(n).zip(x.chunks(n)).zip(g.chunks(n)) {
        let (mean, rstd) = moments(x, eps);
        for i in 0..n {
            xhat[i] = (x[i] - mean) * rstd;
            gw[i] = g[i] * w[i];
            dw[i] += g[i] * xhat[i];
            db[i] += g[i];
        }
        let inv_n = 1.0 / n as f32;
        let (a, c) = (sum(&gw) * inv_n, dot(&gw, &xhat) * inv_n);
        for i in 0..n {
            dx[i] = rstd * (gw[i] - a - xhat[i] * c);
        }
    }
}

/// Errors unless every parameter layout is `[n]`.
fn check_params(op: &str, n: usize, params: &[&Layout]) -> Result<()> {
    match params.iter().find(|l| l.dims() != [n]) {
        Some(l) => bail!("{op}: a parameter of shape {:?} must be [{n}]", l.dims()),
        None => Ok(()),
    }
}

impl Kernel<3> for LayerNorm {
    fn name(&self) -> &'static str {
        "tinybert-layer-norm"
    }

    fn cpu(&self, [(sx, lx), (sw, lw), (sb, lb)]: [Input; 3]) -> Result<(CpuStorage, Shape)> {
        let name = self.name();
        let n = last_dim(lx);
        check_params(name, n, &[lw, lb])?;
        let (w, b) = (f32_slice(sw, lw, name)?, f32_slice(sb, lb, name)?);
        super::map_rows(sx, lx, name, n, |y, x| norm_rows(y, x, w, b, self.eps))
    }

    fn grads(&self, [x, w, _b]: [&Tensor; 3], _y: &Tensor, g: &Tensor) -> Grads<3> {
        let rows = x.elem_count() / x.dim(D::Minus1)?.max(1);
        let packed =
            x.apply_op3_no_bwd(w, &g.contiguous()?, &Fused(LayerNormGrad { eps: self.eps }))?;
        let dx = packed.narrow(0, 0, rows)?.reshape(x.shape())?;
        let dw = packed.get(rows)?;
        let db = packed.get(rows + 1)?;
        Ok([Some(dx), Some(dw), Some(db)])
    }
}

/// `(x, w, g) -> [rows + 2, n]`: the rows of `dx`, then `dw`, then `db`.
struct LayerNormGrad {
    eps: f32,
}

impl Kernel<3> for LayerNormGrad {
    fn name(&self) -> &'static str {
        "tinybert-layer-norm-grad"
    }

    fn cpu(&self, [(sx, lx), (sw, lw), (sg, lg)]: [Input; 3]) -> Result<(CpuStorage, Shape)> {
        let name = self.name();
        let (x, w, g) = (
            f32_slice(sx, lx, name)?,
            f32_slice(sw, lw, name)?,
            f32_slice(sg, lg, name)?,
        );
        let n = last_dim(lx);
        check_params(name, n, &[lw])?;
        let rows = x.len().checked_div(n).unwrap_or(0);
        let mut out = vec![0f32; (rows + 2) * n];
        if n == 0 {
            return Ok((CpuStorage::F32(out), Shape::from((rows + 2, n))));
        }
        let (dx, params) = out.split_at_mut(rows * n);
        let chunk = rows_per_task(n) * n;
        let partials = dx
            .par_chunks_mut(chunk)
            .zip(x.par_chunks(chunk).zip(g.par_chunks(chunk)))
            .map(|(dx, (x, g))| {
                let (mut dw, mut db) = (vec![0f32; n], vec![0f32; n]);
                norm_grad_rows(dx, x, g, w, self.eps, &mut dw, &mut db);
                (dw, db)
            });
        let (dw, db) = in_task_order(partials).into_iter().fold(
            (vec![0f32; n], vec![0f32; n]),
            |(mut dw, mut db), (dw2, db2)| {
                dw.iter_mut().zip(&dw2).for_each(|(a, b)| *a += b);
                db.iter_mut().zip(&db2).for_each(|(a, b)| *a += b);
                (dw, db)
            },
        );
        params[..n].copy_from_slice(&dw);
        params[n..].copy_from_slice(&db);
        Ok((CpuStorage::F32(out), Shape::from((rows + 2, n))))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_agree, var, SHAPES};
    use super::*;

    #[test]
    fn fused_layer_norm_matches_the_composed_one_in_values_and_all_three_gradients() {
        for (i, shape) in SHAPES.iter().enumerate() {
            let n = *shape.last().unwrap();
            let seed = 10 * i as u64;
            let x = var(shape, 3.0, seed).unwrap();
            let w = var(&[n], 1.0, seed + 1).unwrap();
            let b = var(&[n], 1.0, seed + 2).unwrap();
            let (xt, wt, bt) = (x.as_tensor(), w.as_tensor(), b.as_tensor());
            assert_agree(
                layer_norm(xt, wt, bt, 1e-12).unwrap(),
                composed(xt, wt, bt, 1e-12).unwrap(),
                &[("x", &x), ("weight", &w), ("bias", &b)],
                (1e-5, 1e-4),
                &format!("{shape:?}"),
            );
        }
    }

    #[test]
    fn fused_layer_norm_rejects_parameters_of_the_wrong_length() {
        let x = var(&[2, 4], 1.0, 0).unwrap();
        let w = var(&[3], 1.0, 1).unwrap();
        let err = layer_norm(x.as_tensor(), w.as_tensor(), w.as_tensor(), 1e-12).unwrap_err();
        assert!(err.to_string().contains("must be [4]"), "{err}");
    }
}
