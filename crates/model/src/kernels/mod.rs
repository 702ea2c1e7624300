//! Fused CPU kernels with their own backward pass, as candle custom ops: softmax over the last
//! dimension, LayerNorm, erf-GELU, dropout, dense layers with the bias fused into the product,
//! batched matrix products split over the batch, and the distillation losses' MSE. candle's
//! fused softmax and LayerNorm have no backward pass and the composed versions make a dozen
//! passes (and allocations) over the tensor; these make one pass forward and one backward,
//! parallel over rows.
//!
//! The loops over rows are compiled once per vector extension (`multiversion`, AVX2 + FMA or
//! SSE4.2 on x86-64) and the best one for the CPU runs; `math` has branch-free `exp` and `erf`
//! for them.
//!
//! They apply to contiguous-or-not f32 tensors on the CPU; on other devices and dtypes the public
//! functions fall back to the composed candle versions, which the tests compare them with.

pub mod bf16;
mod dropout;
mod gelu;
mod layer_norm;
mod linear;
mod math;
mod matmul;
mod mse;
mod operand;
mod softmax;
mod subnormal;

pub use dropout::{dropout, mask as dropout_mask};
pub use gelu::{gelu_erf, gelu_erf_owned};
pub use layer_norm::layer_norm;
pub use linear::{linear, to_column_major};
pub use matmul::{
    batched_matmul, batched_matmul_add, batched_matmul_add_bf16, batched_matmul_bf16,
};
pub use mse::mse;
pub use softmax::softmax_last_dim;
pub use subnormal::{flush_subnormals, flushing_thread_pool};

use candle_core::{bail, CpuStorage, CustomOp2, CustomOp3, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// One input of a kernel's CPU pass: its storage and layout.
type Input<'a> = (&'a CpuStorage, &'a Layout);

/// The gradients of a kernel's `N` inputs (`None` for an input that gets none).
type Grads<const N: usize> = Result<[Option<Tensor>; N]>;

/// A fused op with `N` (2 or 3) inputs: its CPU pass and its backward pass, over arrays of
/// inputs. [`Fused`] makes it a candle custom op (`CustomOp2`, `CustomOp3`), so that the
/// forwarding to candle's per-arity methods is written once; one-input ops implement candle's
/// `CustomOp1` directly.
trait Kernel<const N: usize>: Send + Sync {
    /// The op's name, in errors.
    fn name(&self) -> &'static str;

    /// The output from the inputs' f32 storages and layouts.
    fn cpu(&self, inputs: [Input; N]) -> Result<(CpuStorage, Shape)>;

    /// The inputs' gradients from the inputs, the output `y` and its gradient `g`; none by
    /// default (candle's "backward not supported" error).
    fn grads(&self, _inputs: [&Tensor; N], _y: &Tensor, _g: &Tensor) -> Grads<N> {
        Err(candle_core::Error::BackwardNotSupported { op: self.name() })
    }
}

/// A [`Kernel`] as a candle custom op.
struct Fused<K>(K);

impl<K: Kernel<2>> CustomOp2 for Fused<K> {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.0.cpu([(s1, l1), (s2, l2)])
    }

    fn bwd(
        &self,
        a1: &Tensor,
        a2: &Tensor,
        y: &Tensor,
        g: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let [d1, d2] = self.0.grads([a1, a2], y, g)?;
        Ok((d1, d2))
    }
}

impl<K: Kernel<3>> CustomOp3 for Fused<K> {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.0.cpu([(s1, l1), (s2, l2), (s3, l3)])
    }

    fn bwd(
        &self,
        a1: &Tensor,
        a2: &Tensor,
        a3: &Tensor,
        y: &Tensor,
        g: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let [d1, d2, d3] = self.0.grads([a1, a2, a3], y, g)?;
        Ok((d1, d2, d3))
    }
}

/// Elements per parallel task: rows are grouped so that each task has at least this much work.
const MIN_TASK_ELEMS: usize = 1 << 14;

/// The parallel tasks' partial results, in task order, to be combined sequentially: rayon's
/// `reduce` and `sum` group partials by the splits work stealing made, so a sum's rounding, and
/// a training run, would depend on timing.
fn in_task_order<T: Send>(partials: impl IndexedParallelIterator<Item = T>) -> Vec<T> {
    partials.collect()
}

/// True when the fused CPU kernels handle `x`.
fn fused(x: &Tensor) -> bool {
    x.device().is_cpu() && x.dtype() == DType::F32
}

/// The f32 elements of a contiguous CPU storage.
fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(v) = s else {
        bail!("{op}: expects f32 data")
    };
    let Some((start, end)) = l.contiguous_offsets() else {
        bail!("{op}: expects a contiguous input")
    };
    Ok(&v[start..end])
}

/// Rows per parallel task for rows of `n` elements.
fn rows_per_task(n: usize) -> usize {
    MIN_TASK_ELEMS.div_ceil(n.max(1)).max(1)
}

/// The output of a row-wise op on the f32 input `(s, l)`: `f(out_rows, in_rows)` over groups of
/// whole rows of length `n` (the last group may end with a shorter row), in parallel; the output
/// has the input's shape.
fn map_rows(
    s: &CpuStorage,
    l: &Layout,
    op: &str,
    n: usize,
    f: impl Fn(&mut [f32], &[f32]) + Sync,
) -> Result<(CpuStorage, Shape)> {
    let x = f32_slice(s, l, op)?;
    let mut out = vec![0f32; x.len()];
    if n > 0 {
        let task = n * rows_per_task(n);
        out.par_chunks_mut(task)
            .zip(x.par_chunks(task))
            .for_each(|(o, x)| f(o, x));
    }
    Ok((CpuStorage::F32(out), l.shape().clone()))
}

/// As [`map_rows`] with two inputs of the same shape: `f(out_rows, a_rows, b_rows)`.
fn map_rows2(
    sa: &CpuStorage,
    la: &Layout,
    sb: &CpuStorage,
    lb: &Layout,
    op: &str,
    n: usize,
    f: impl Fn(&mut [f32], &[f32], &[f32]) + Sync,
) -> Result<(CpuStorage, Shape)> {
    let (a, b) = (f32_slice(sa, la, op)?, f32_slice(sb, lb, op)?);
    if a.len() != b.len() {
        bail!(
            "{op}: inputs {:?} and {:?} differ in shape",
            la.dims(),
            lb.dims()
        )
    }
    let mut out = vec![0f32; a.len()];
    if n > 0 {
        let task = n * rows_per_task(n);
        out.par_chunks_mut(task)
            .zip(a.par_chunks(task).zip(b.par_chunks(task)))
            .for_each(|(o, (a, b))| f(o, a, b));
    }
    Ok((CpuStorage::F32(out), la.shape().clone()))
}

/// `combine` over `f(a[i], b[i])` for every `i`, in eight independent accumulators started at
/// `init` (vectorisable, unlike a sequential fold): the lanes in order, then the tail.
#[inline(always)]
fn fold8(
    a: &[f32],
    b: &[f32],
    init: f32,
    f: impl Fn(f32, f32) -> f32,
    combine: impl Fn(f32, f32) -> f32,
) -> f32 {
    let mut acc = [init; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .fold(init, |t, (&x, &y)| combine(t, f(x, y)));
    for (a8, b8) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] = combine(acc[i], f(a8[i], b8[i]));
        }
    }
    combine(acc.iter().fold(init, |t, &v| combine(t, v)), tail)
}

/// The sum of `x`.
#[inline(always)]
fn sum(x: &[f32]) -> f32 {
    fold8(x, x, 0.0, |v, _| v, |a, b| a + b)
}

/// The dot product of `x` and `y`.
#[inline(always)]
fn dot(x: &[f32], y: &[f32]) -> f32 {
    fold8(x, y, 0.0, |a, b| a * b, |a, b| a + b)
}

/// The largest element (-inf for none).
#[inline(always)]
fn max(x: &[f32]) -> f32 {
    fold8(x, x, f32::NEG_INFINITY, |v, _| v, f32::max)
}

/// The last dimension of a layout (1 for a scalar).
fn last_dim(l: &Layout) -> usize {
    l.dims().last().copied().unwrap_or(1)
}

#[cfg(test)]
pub(crate) mod testing {
    use candle_core::{Device, Result, Tensor, Var};

    /// A random f32 variable of `shape` (values ~ N(0, scale)).
    pub fn var(shape: &[usize], scale: f64, seed: u64) -> Result<Var> {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|_| (rng.random::<f32>() * 2.0 - 1.0) * scale as f32)
            .collect();
        Var::from_tensor(&Tensor::from_vec(v, shape, &Device::Cpu)?)
    }

    /// max |a - b| / max(1, max |b|).
    pub fn rel_diff(a: &Tensor, b: &Tensor) -> Result<f32> {
        let d = (a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?;
        let m = b.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?;
        Ok(d / m.max(1.0))
    }

    /// Asserts that `ours` and `theirs`, the same function of `vars` computed two ways, agree in
    /// value (to `tol.0`, relative) and in the gradient with respect to each variable of a random
    /// linear function of them (to `tol.1`); `what` names the case in a failure.
    pub fn assert_agree(
        ours: Tensor,
        theirs: Tensor,
        vars: &[(&str, &Var)],
        tol: (f32, f32),
        what: &str,
    ) {
        assert_eq!(ours.dims(), theirs.dims(), "{what}: shapes");
        assert!(rel_diff(&ours, &theirs).unwrap() < tol.0, "{what}: values");
        let up = var(ours.dims(), 1.0, 99).unwrap();
        let loss = |y: Tensor| (y * up.as_tensor()).unwrap().sum_all().unwrap();
        let (g_ours, g_theirs) = (
            loss(ours).backward().unwrap(),
            loss(theirs).backward().unwrap(),
        );
        for (name, v) in vars {
            let (a, b) = (g_ours.get(v).unwrap(), g_theirs.get(v).unwrap());
            assert!(rel_diff(a, b).unwrap() < tol.1, "{what}: d{name}");
        }
    }

    /// Shapes with odd sizes, one row, and rows shorter and longer than 8 lanes.
    pub const SHAPES: &[&[usize]] = &[
        &[1, 1],
        &[3, 7],
        &[2, 5, 13],
        &[4, 3, 17, 17],
        &[2, 129],
        &[300, 64],
        &[2, 2, 33, 128],
    ];
}

#[cfg(test)]
mod tests {
    use super::testing::var;
    use super::{layer_norm::layer_norm, linear::linear};

    #[test]
    fn parameter_gradients_are_bit_identical_however_the_threads_split_the_work() {
        // 32,768 rows of 64: 128 tasks' partial sums per bias and layer-norm gradient, more than
        // 3 threads share evenly, so work stealing splits them differently from run to run.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let rows = 32_768;
        let (x, up) = (
            var(&[rows, 64], 1.0, 1).unwrap(),
            var(&[rows, 64], 1.0, 2).unwrap(),
        );
        let (w, b) = (var(&[64, 64], 0.2, 3).unwrap(), var(&[64], 1.0, 4).unwrap());
        let (g, beta) = (var(&[64], 1.0, 5).unwrap(), var(&[64], 1.0, 6).unwrap());
        let grads = || {
            pool.install(|| {
                let h = linear(x.as_tensor(), w.as_tensor(), b.as_tensor()).unwrap();
                let y = layer_norm(&h, g.as_tensor(), beta.as_tensor(), 1e-12).unwrap();
                let store = (y * up.as_tensor())
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .backward()
                    .unwrap();
                [&b, &g, &beta].map(|v| {
                    let d = store.get(v).unwrap().to_vec1::<f32>().unwrap();
                    d.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
                })
            })
        };
        let first = grads();
        for run in 1..30 {
            assert_eq!(grads(), first, "run {run} differs from run 0");
        }
    }
}
