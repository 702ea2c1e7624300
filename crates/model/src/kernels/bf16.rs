//! bf16 matrix products for frozen models on CPUs with AVX-512 BF16 (`vdpbf16ps`: dot products
//! of bf16 pairs accumulated in f32, twice the f32 FMA rate on AMD Zen 4).
//!
//! Inputs are rounded to bf16 (round to nearest even, as `vcvtne2ps2bf16` does), products are
//! summed in f32 and the outputs are f32. Layouts:
//! - the right operand `B` [k, n] is packed into panels of [`NR`] columns, each panel laid out
//!   `[k_pair][NR][2]` (the two bf16 of a k-pair of one column side by side, one u32), with k and
//!   n zero-padded. Frozen dense weights (`W^T`) are packed once at load ([`PackedBf16`]);
//!   attention operands are packed on each call (`V` by pairs of rows, `K^T` by 16 x 16
//!   transposes of converted rows of `K`);
//! - the left operand `A` [m, k] is converted on each call into row-major rows of k-pairs, so
//!   that the micro-kernel broadcasts one u32 (a k-pair of one row) per row and k-pair;
//! - a micro-kernel keeps an `MR x NR` f32 tile of the output in 24 zmm registers over up to
//!   [`KC`] k-pairs (all of k up to 1024) and writes it once per block, with `scale` applied and a
//!   row vector (the bias, or a broadcast attention mask) added after the last; edge tiles use
//!   the same kernel with fewer rows (one instance per row count) and masked stores.
//!
//! Measured here (AMD EPYC Zen 4, 2 threads, `examples/bf16_gemm.rs`, best of 4 runs on a
//! shared machine): dense layers at BERT-base and MiniLM shapes (4096 tokens) 372-402 GFLOP/s,
//! 1.86-2.04x the f32 kernels; the attention products, bound by reading their operands,
//! 1.16-1.67x; whole BERT-base and MiniLM-L6 forward passes 1.77x and 1.66x. The kernel alone
//! reaches ~200-225 GFLOP/s on one core (`parts` test below).
//!
//! The products are split over rayon's current pool: dense layers by blocks of rows and panels,
//! batched products by batch item. Everything here runs only when [`available`] is true (the CPU
//! has AVX-512 BF16 and `TINYBERT_NO_BF16` is not set); callers fall back to the f32 kernels
//! otherwise.

use super::operand::{per_item, Batched, Operand};
use super::{Fused, Input, Kernel};
use candle_core::{bail, CpuStorage, Result, Shape, Tensor};
use rayon::prelude::*;
use std::sync::{Arc, OnceLock};

/// Rows of the output tile a micro-kernel computes.
pub const MR: usize = 12;
/// zmm vectors (16 f32 columns each) per row of the output tile.
const NV: usize = 2;
/// Columns of a packed panel of `B` (and of the output tile).
pub const NR: usize = 16 * NV;
/// Row tiles per parallel task of a dense product (a block of `MR * TILES_PER_TASK` rows).
const TILES_PER_TASK: usize = 8;
/// k-pairs per block of the inner dimension. Longer blocks write the output tiles less often
/// (measured: 128 and 256 lose 10-25% to reloading them, 512 is as fast as no blocking for
/// k <= 1024 and ~5-10% faster for k = 3072, where a panel's block then stays in L2).
pub const KC: usize = 512;

/// The environment variable that forces the f32 fallback when set to anything but `0` or empty.
pub const NO_BF16_ENV: &str = "TINYBERT_NO_BF16";

/// True when the CPU has AVX-512 BF16 (with AVX-512 F and BW), detected once.
pub fn cpu_supported() -> bool {
    static SUPPORTED: OnceLock<bool> = OnceLock::new();
    *SUPPORTED.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            is_x86_feature_detected!("avx512bf16")
                && is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

/// True when `TINYBERT_NO_BF16` asks for the f32 fallback (read on each call).
pub fn disabled_by_env() -> bool {
    std::env::var(NO_BF16_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// True when the bf16 products run here: the CPU supports them and the environment allows them.
pub fn available() -> bool {
    cpu_supported() && !disabled_by_env()
}

/// The bf16 bits of `x` as `vcvtne2ps2bf16` computes them: rounded to nearest even, NaN kept
/// (quietened), infinities kept, subnormal inputs flushed to a zero of their sign (the
/// instruction treats them as zero; `half::bf16::from_f32` would keep them).
pub fn bf16_bits(x: f32) -> u16 {
    let b = x.to_bits();
    if x.is_nan() {
        return ((b >> 16) | 0x0040) as u16;
    }
    if x.is_subnormal() {
        return ((b >> 16) & 0x8000) as u16;
    }
    // Non-NaN bit patterns are at most 0xff80_0000, so the sum cannot wrap.
    ((b + 0x7fff + ((b >> 16) & 1)) >> 16) as u16
}

/// `x` rounded to the nearest bf16 (ties to even), as an f32.
pub fn round_to_bf16(x: f32) -> f32 {
    f32::from_bits(u32::from(bf16_bits(x)) << 16)
}

/// One 64-byte line of a packed panel: 16 k-pairs (u32) of 16 columns.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u32; 16]);

const ZERO_LINE: Line = Line([0; 16]);

/// A matrix `B` [k, n] packed for the bf16 products: panels of [`NR`] columns, each
/// `[k_pair][NR]` u32 (two bf16, the even k in the low half), k and n zero-padded. Frozen dense
/// layers keep one beside their f32 weight (`W^T`, half the f32 weight's memory).
pub struct PackedBf16 {
    k: usize,
    n: usize,
    lines: Vec<Line>,
}

impl std::fmt::Debug for PackedBf16 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackedBf16")
            .field("k", &self.k)
            .field("n", &self.n)
            .finish_non_exhaustive()
    }
}

impl PackedBf16 {
    /// Packs `W^T` for the dense layer `x W^T + b`; `None` when the bf16 products are not
    /// [`available`] or `weight` is not an f32 CPU tensor.
    ///
    /// # Shapes
    /// `weight`: [out, in] (any strides: frozen weights are stored transposed) -> `B` [in, out]
    pub fn from_weight(weight: &Tensor) -> Result<Option<Self>> {
        if !(available() && super::fused(weight)) {
            return Ok(None);
        }
        let (n, k) = weight.dims2()?;
        let (storage, layout) = weight.storage_and_layout();
        let candle_core::Storage::Cpu(CpuStorage::F32(data)) = &*storage else {
            bail!("bf16 pack: expects an f32 CPU weight")
        };
        let st = layout.stride();
        let src = Strided {
            data,
            offset: layout.start_offset(),
            rs: st[1],
            cs: st[0],
        };
        Ok(Some(Self::pack(&src, k, n)))
    }

    /// Packs `B` [k, n] read through `src` (`available()` must be true).
    fn pack(src: &Strided, k: usize, n: usize) -> Self {
        let mut lines = Vec::new();
        pack_b(src, k, n, &mut lines);
        Self { k, n, lines }
    }

    /// The inner dimension `k` (the layer's input width).
    pub fn k(&self) -> usize {
        self.k
    }

    /// The number of columns `n` (the layer's output width).
    pub fn n(&self) -> usize {
        self.n
    }

    /// Bytes held by the packed panels.
    pub fn bytes(&self) -> usize {
        self.lines.len() * std::mem::size_of::<Line>()
    }

    /// `x B + bias` in f32 from bf16-rounded `x` and `B`, split over rayon's current pool.
    ///
    /// # Shapes
    /// `x`: [m, k] row-major, `bias`: [n] -> [m, n] row-major
    pub fn matmul(&self, x: &[f32], m: usize, bias: Option<&[f32]>) -> Result<Vec<f32>> {
        let (k, n) = (self.k, self.n);
        if x.len() != m * k || bias.is_some_and(|b| b.len() != n) {
            bail!(
                "bf16 matmul: input of {} values for [{m}, {k}], bias of {:?} for {n} columns",
                x.len(),
                bias.map(<[f32]>::len)
            )
        }
        if !available() {
            bail!("bf16 matmul: this CPU has no AVX-512 BF16 (or {NO_BF16_ENV} is set)")
        }
        let src = Strided {
            data: x,
            offset: 0,
            rs: k,
            cs: 1,
        };
        let threads = rayon::current_num_threads();
        let mut a = Vec::new();
        let lda = pack_a(&src, m, k, &mut a, threads);
        let mut out = Vec::with_capacity(m * n);
        let dst = Dst {
            ptr: out.as_mut_ptr(),
            ldc: n,
        };
        // SAFETY: `out` has room for m·n f32 and the product writes each of them once; `a` and
        // `self.lines` are the packings of [m, k] and [k, n] that `product` expects.
        unsafe {
            product((&a, lda), m, k, &self.lines, n, dst, bias, 1.0, threads);
            out.set_len(m * n);
        }
        Ok(out)
    }
}

/// `x W^T + b` with the packed `W^T` (bf16 products, f32 output). It has no backward pass: an
/// input that needs a gradient is an error (frozen models only; [`crate::nn::Linear`] takes the
/// f32 path for those).
///
/// # Shapes
/// `x`: [..., in], `bias`: [out] -> [..., out]
pub fn linear(x: &Tensor, packed: &Arc<PackedBf16>, bias: &Tensor) -> Result<Tensor> {
    if x.track_op() {
        bail!("bf16 linear: the input needs a gradient and bf16 products have no backward pass")
    }
    let mut dims = x.dims().to_vec();
    let Some(k) = dims.pop() else {
        bail!("bf16 linear: the input must have at least one dimension")
    };
    let rows = dims.iter().product::<usize>();
    let y = x
        .contiguous()?
        .reshape((rows, k))?
        .apply_op2_no_bwd(&bias.contiguous()?, &Fused(LinearOp(packed.clone())))?;
    dims.push(packed.n);
    y.reshape(dims)
}

/// The dense layer's op: `(x [m, k], bias [n]) -> x B + bias`.
struct LinearOp(Arc<PackedBf16>);

impl Kernel<2> for LinearOp {
    fn name(&self) -> &'static str {
        "tinybert-linear-bf16"
    }

    fn cpu(&self, [(sx, lx), (sb, lb)]: [Input; 2]) -> Result<(CpuStorage, Shape)> {
        let name = self.name();
        let (m, k) = lx.shape().dims2()?;
        let n = self.0.n;
        if k != self.0.k || lb.dims() != [n] {
            bail!(
                "{name}: input {:?} and bias {:?} do not match the packed weight [{}, {n}]",
                lx.dims(),
                lb.dims(),
                self.0.k
            )
        }
        let (x, b) = (
            super::f32_slice(sx, lx, name)?,
            super::f32_slice(sb, lb, name)?,
        );
        let y = self.0.matmul(x, m, Some(b))?;
        Ok((CpuStorage::F32(y), Shape::from((m, n))))
    }
}

/// True when the bf16 products take `x` as an input: an f32 CPU tensor that needs no gradient,
/// with the bf16 products [`available`].
pub fn takes(x: &Tensor) -> bool {
    super::fused(x) && !x.track_op() && available()
}

/// The bf16 products of the batched op ([`super::matmul`]'s, with `bf16` set) for the checked
/// operands `p`: each item's operands converted and packed, then multiplied.
pub(super) fn products(p: &Batched, scale: f32, name: &str) -> Result<Vec<f32>> {
    if !available() {
        bail!("{name}: this CPU has no AVX-512 BF16 (or {NO_BF16_ENV} is set)")
    }
    let Batched {
        a, b, c, m, k, n, ..
    } = p;
    let (m, k, n) = (*m, *k, *n);
    let items = p.items();
    if m * n == 0 {
        return Ok(Vec::new());
    }
    fn view<'a>(o: &Operand<'a>, i: usize) -> Strided<'a> {
        Strided {
            data: o.data,
            offset: o.offsets[i],
            rs: o.rows as usize,
            cs: o.cols as usize,
        }
    }
    let (sa, sb) = (view(a, 0), view(b, 0));
    let last = items - 1;
    let inside = [view(a, last).holds(m, k), sa.holds(m, k)];
    if !(inside[0] && inside[1] && view(b, last).holds(k, n) && sb.holds(k, n)) {
        bail!("{name}: an operand lies outside its storage")
    }
    // Item i into `dst` (m·n f32), with `threads` workers.
    let item = |i: usize,
                dst: &mut [std::mem::MaybeUninit<f32>],
                bufs: &mut (Vec<u32>, Vec<Line>),
                threads: usize| {
        let dst = dst.as_mut_ptr().cast::<f32>();
        let lda = pack_a(&view(a, i), m, k, &mut bufs.0, threads);
        pack_b(&view(b, i), k, n, &mut bufs.1);

        let c = c.as_ref().map(|c| (c, view(c, i)));
        let rowvec = match &c {
            Some((_, v)) if v.rs == 0 && v.cs == 1 => Some(&v.data[v.offset..v.offset + n]),
            _ => None,
        };
        // SAFETY: `dst` has room for this item's m·n outputs (the caller's chunk); the
        // buffers hold the packings of item i; the CPU supports the instructions (checked
        // above).
        unsafe {
            product(
                (&bufs.0, lda),
                m,
                k,
                &bufs.1,
                n,
                Dst { ptr: dst, ldc: n },
                rowvec,
                scale,
                threads,
            );
            if let (Some((_, v)), None) = (&c, rowvec) {
                for r in 0..m {
                    for j in 0..n {
                        *dst.add(r * n + j) += v.at(r, j);
                    }
                }
            }
        }
    };
    // SAFETY: every item's m·n elements are written by its product.
    Ok(unsafe { per_item(items, m * n, || (Vec::new(), Vec::new()), item) })
}

/// A strided view of f32 values: element (r, c) at `offset + r * rs + c * cs`.
struct Strided<'a> {
    data: &'a [f32],
    offset: usize,
    rs: usize,
    cs: usize,
}

impl Strided<'_> {
    /// Element (r, c), which must lie inside `data`.
    #[inline(always)]
    fn at(&self, r: usize, c: usize) -> f32 {
        self.data[self.offset + r * self.rs + c * self.cs]
    }

    /// True when every element of an [m, k] matrix lies inside `data`.
    fn holds(&self, m: usize, k: usize) -> bool {
        m == 0 || k == 0 || self.offset + (m - 1) * self.rs + (k - 1) * self.cs < self.data.len()
    }
}

/// The output of a product: row-major rows of `ldc` f32 starting at `ptr`, written from the
/// rayon workers (each element by exactly one).
#[derive(Clone, Copy)]
struct Dst {
    ptr: *mut f32,
    ldc: usize,
}

impl Dst {
    /// The element (r, c).
    ///
    /// # Safety
    /// (r, c) must lie inside the output.
    unsafe fn at(&self, r: usize, c: usize) -> *mut f32 {
        self.ptr.add(r * self.ldc + c)
    }
}

// SAFETY: the tasks of one product write disjoint elements of the output.
unsafe impl Send for Dst {}
// SAFETY: as above; `Dst` is only a pointer and a stride.
unsafe impl Sync for Dst {}

/// Number of k-pairs of an inner dimension `k`.
fn pairs(k: usize) -> usize {
    k.div_ceil(2)
}

/// The row stride (in k-pairs) of a converted `A` with `kp` k-pairs: whole 64-byte lines, and
/// not a multiple of 512 bytes, so that the rows of a tile fall into different L1 sets.
fn row_stride(kp: usize) -> usize {
    let lda = kp.next_multiple_of(16);
    if lda.is_multiple_of(128) {
        lda + 16
    } else {
        lda
    }
}

/// Converts `A` [m, k] into `buf`: row-major rows of k-pairs (u32 = two bf16, the even k in the
/// low half, an odd k zero-padded), [`row_stride`] apart; with `threads` workers when above one.
/// Returns the row stride.
fn pack_a(src: &Strided, m: usize, k: usize, buf: &mut Vec<u32>, threads: usize) -> usize {
    let lda = row_stride(pairs(k));
    let len = m * lda;
    assert!(src.holds(m, k), "bf16 pack: operand outside its storage");
    buf.clear();
    buf.reserve(len);
    let rows = |r0: usize, out: &mut [std::mem::MaybeUninit<u32>]| {
        // SAFETY: `available()` was checked by the public entry points; `out` holds whole rows
        // of lda >= kp u32 and the source rows r0.. lie inside `src` (`holds` above).
        unsafe { imp::convert_rows(src, r0, out.len() / lda, k, out.as_mut_ptr().cast(), lda) }
    };
    if len > 0 {
        let spare = &mut buf.spare_capacity_mut()[..len];
        let per_task = lda * (1usize << 14).div_ceil(lda);
        if threads > 1 && len > per_task {
            spare
                .par_chunks_mut(per_task)
                .enumerate()
                .for_each(|(i, out)| rows(i * per_task / lda, out));
        } else {
            rows(0, spare);
        }
    }
    // SAFETY: every row's lda elements were written above.
    unsafe { buf.set_len(len) };
    lda
}

/// Packs `B` [k, n] into `buf` as panels of [`NR`] columns, `[k_pair][NR]` u32 each, zero-padded.
fn pack_b(src: &Strided, k: usize, n: usize, buf: &mut Vec<Line>) {
    let (kp, panels) = (pairs(k), n.div_ceil(NR));
    assert!(src.holds(k, n), "bf16 pack: operand outside its storage");
    let len = panels * kp * NV;
    buf.clear();
    if src.cs != 1 && src.rs != 1 {
        // The scalar packing writes the columns < n only.
        buf.resize(len, ZERO_LINE);
    } else {
        buf.reserve(len);
    }
    if len > 0 {
        // SAFETY: `available()` was checked by the public entry points; `buf` has room for the
        // panels·kp·NV lines and `src` holds [k, n] (`holds` above).
        unsafe { imp::pack_b(src, k, n, buf.as_mut_ptr()) }
    }
    // SAFETY: every line was written: zeroed above, or by the vector packings, which write
    // whole lines including the padding columns.
    unsafe { buf.set_len(len) };
}

/// `dst = scale · A B + rowvec` (`rowvec` added to every row) for `A` packed by [`pack_a`] and
/// `B` by [`pack_b`], with `threads` rayon tasks in flight when above one.
///
/// # Safety
/// `dst` must be valid for writes of `m` rows of `n` f32 (row stride `dst.ldc >= n`); the CPU
/// must support AVX-512 BF16.
#[allow(clippy::too_many_arguments)]
unsafe fn product(
    (a, lda): (&[u32], usize),
    m: usize,
    k: usize,
    b: &[Line],
    n: usize,
    dst: Dst,
    rowvec: Option<&[f32]>,
    scale: f32,
    threads: usize,
) {
    let (kp, tiles, panels) = (pairs(k), m.div_ceil(MR), n.div_ceil(NR));
    debug_assert!(a.len() >= m * lda && lda >= kp && b.len() >= panels * kp * NV);
    debug_assert!(rowvec.is_none_or(|v| v.len() >= n));
    if m == 0 || n == 0 {
        return;
    }
    let rowvec = rowvec.map_or(std::ptr::null(), <[f32]>::as_ptr);
    let rowvec = RowVec(rowvec);
    // A block of tiles against a range of panels, one block of KC k-pairs at a time: each
    // panel's block is reused by the block's tiles; the output tiles accumulate over the k
    // blocks (scale and row vector applied after the last one).
    let block = |tiles_at: std::ops::Range<usize>, panels_at: std::ops::Range<usize>| {
        let rowvec = &rowvec;
        for k0 in (0..kp.max(1)).step_by(KC) {
            let kc = KC.min(kp - k0);
            for q in panels_at.clone() {
                let cols = NR.min(n - q * NR);
                let bq = b[(q * kp + k0) * NV..].as_ptr();
                for t in tiles_at.clone() {
                    let rows = MR.min(m - t * MR);
                    // SAFETY: the rows t·MR.. of `a` hold kp u32 each, lda apart; panel q holds
                    // kp·NV lines; the output rows t·MR.. and columns q·NR..q·NR+cols lie inside
                    // `dst` (caller); `rowvec` is null or holds n values.
                    unsafe {
                        let tile = Tile {
                            kp: kc,
                            a: a[t * MR * lda + k0..].as_ptr(),
                            lda,
                            b: bq.cast(),
                            c: dst.at(t * MR, q * NR),
                            ldc: dst.ldc,
                            cols,
                            rowvec: if rowvec.0.is_null() {
                                rowvec.0
                            } else {
                                rowvec.0.add(q * NR)
                            },
                            scale,
                            accumulate: k0 > 0,
                            finish: k0 + KC >= kp,
                        };
                        imp::tile(rows, &tile)
                    }
                }
            }
        }
    };
    if threads <= 1 {
        block(0..tiles, 0..panels);
        return;
    }
    let row_blocks = tiles.div_ceil(TILES_PER_TASK);
    let per = panels.div_ceil((4 * threads).div_ceil(row_blocks).clamp(1, panels));
    let panel_blocks = panels.div_ceil(per);
    (0..row_blocks * panel_blocks)
        .into_par_iter()
        .for_each(|task| {
            let (rb, pb) = (task / panel_blocks, task % panel_blocks);
            block(
                rb * TILES_PER_TASK..tiles.min((rb + 1) * TILES_PER_TASK),
                pb * per..panels.min((pb + 1) * per),
            )
        });
}

/// A row vector shared by the tasks of one product (read only).
struct RowVec(*const f32);
// SAFETY: the pointed-to values are only read while the product runs.
unsafe impl Sync for RowVec {}

/// One output tile over a block of `kp` k-pairs: `c[r][j] = sum_p a[r][p] · b[p][j]` for
/// `r < rows`, `j < cols`, plus `c`'s values when `accumulate`, then `scale` times that plus
/// `rowvec[j]` when `finish`.
struct Tile {
    /// k-pairs.
    pub kp: usize,
    /// The first row of A (k-pairs, u32); rows `lda` apart.
    pub a: *const u32,
    pub lda: usize,
    /// The B panel, `[k_pair][NR]` u32, 64-byte aligned.
    pub b: *const u32,
    /// The output tile's first element; rows `ldc` apart.
    pub c: *mut f32,
    pub ldc: usize,
    /// Valid columns (at most NR).
    pub cols: usize,
    /// Null, or the `cols` values added to every row.
    pub rowvec: *const f32,
    pub scale: f32,
    /// Start from the tile's values in `c` (the sums of earlier k blocks), not from zero.
    pub accumulate: bool,
    /// Apply `scale` and `rowvec` (the last k block), else store the raw sums.
    pub finish: bool,
}

#[cfg(target_arch = "x86_64")]
mod imp {
    //! The AVX-512 BF16 code: conversions, packing and the micro-kernel.

    use super::{pairs, Line, Strided, Tile, MR, NR, NV};
    use std::arch::x86_64::*;
    use std::mem::transmute;

    /// Mask of the first `n` (clamped to 16) of 16 lanes.
    #[inline(always)]
    fn mask16(n: usize) -> __mmask16 {
        if n >= 16 {
            0xffff
        } else {
            ((1u32 << n) - 1) as __mmask16
        }
    }

    /// The `len` (clamped to 32) f32 at `p`, zero-extended to 32, as 32 bf16 in memory order
    /// (16 k-pairs).
    ///
    /// # Safety
    /// The `min(len, 32)` values at `p` must be readable; AVX-512 BF16 must be available.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    unsafe fn load_pairs(p: *const f32, len: usize) -> __m512i {
        let (lo, hi) = if len >= 32 {
            (_mm512_loadu_ps(p), _mm512_loadu_ps(p.add(16)))
        } else {
            (
                _mm512_maskz_loadu_ps(mask16(len), p),
                _mm512_maskz_loadu_ps(mask16(len.saturating_sub(16)), p.add(16.min(len))),
            )
        };
        transmute::<__m512bh, __m512i>(_mm512_cvtne2ps_pbh(hi, lo))
    }

    /// Converts `src` to bf16 bits with the vector instruction (the test of its rounding).
    #[cfg(test)]
    pub(super) fn convert(src: &[f32]) -> Vec<u16> {
        assert!(super::cpu_supported(), "no AVX-512 BF16");
        let mut out = vec![0u16; src.len().next_multiple_of(32)];
        for (i, chunk) in src.chunks(32).enumerate() {
            // SAFETY: the chunk's values are readable; `out` has 32 u16 from 32·i; the CPU
            // supports the instructions (asserted above).
            unsafe {
                let v = load_pairs(chunk.as_ptr(), chunk.len());
                _mm512_storeu_si512(out.as_mut_ptr().add(32 * i).cast(), v);
            }
        }
        out.truncate(src.len());
        out
    }

    /// The k-pair `p` of row `r` of `src`, converted one value at a time.
    #[inline(always)]
    fn pair_at(src: &Strided, r: usize, p: usize, k: usize) -> u32 {
        let lo = super::bf16_bits(src.at(r, 2 * p));
        let hi = if 2 * p + 1 < k {
            super::bf16_bits(src.at(r, 2 * p + 1))
        } else {
            0
        };
        u32::from(lo) | (u32::from(hi) << 16)
    }

    /// Writes rows `r0..r0 + rows` of `A` (via `src`, [.., k]) at `dst`, `lda` apart: pairs(k)
    /// k-pairs, then zeros up to `lda`.
    ///
    /// # Safety
    /// `dst` must be valid for rows·lda writes, `lda >= pairs(k)`, `src` must hold the rows,
    /// and AVX-512 BF16 must be available.
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    pub(super) unsafe fn convert_rows(
        src: &Strided,
        r0: usize,
        rows: usize,
        k: usize,
        dst: *mut u32,
        lda: usize,
    ) {
        let kp = pairs(k);
        for r in 0..rows {
            let out = dst.add(r * lda);
            if src.cs == 1 {
                let row = src.data.as_ptr().add(src.offset + (r0 + r) * src.rs);
                for p0 in (0..kp).step_by(16) {
                    let v = load_pairs(row.add(2 * p0), k - 2 * p0);
                    if kp - p0 >= 16 {
                        _mm512_storeu_si512(out.add(p0).cast(), v);
                    } else {
                        _mm512_mask_storeu_epi32(out.add(p0).cast(), mask16(kp - p0), v);
                    }
                }
            } else {
                for p in 0..kp {
                    *out.add(p) = pair_at(src, r0 + r, p, k);
                }
            }
            for p in kp..lda {
                *out.add(p) = 0;
            }
        }
    }

    /// Transposes 16 x 16 u32 in place (`r[i]` lane `l` becomes `r[l]` lane `i`): four stages
    /// that swap the off-diagonal blocks of 8, 4, 2 and 1 lanes.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn transpose16(r: &mut [__m512i; 16]) {
        for d in [8usize, 4, 2, 1] {
            let lo: [i32; 16] =
                std::array::from_fn(|l| (if l & d == 0 { l } else { 16 + l - d }) as i32);
            let hi: [i32; 16] =
                std::array::from_fn(|l| (if l & d == 0 { l + d } else { 16 + l }) as i32);
            let (lo, hi) = (
                _mm512_loadu_si512(lo.as_ptr().cast()),
                _mm512_loadu_si512(hi.as_ptr().cast()),
            );
            for i in (0..16).filter(|i| i & d == 0) {
                let (a, b) = (r[i], r[i + d]);
                r[i] = _mm512_permutex2var_epi32(a, lo, b);
                r[i + d] = _mm512_permutex2var_epi32(a, hi, b);
            }
        }
    }

    /// Packs `B` [k, n] (via `src`) into `dst`: panel `q` at `q * kp * NV` lines, `[k_pair][NR]`.
    ///
    /// # Safety
    /// `dst` must hold ceil(n / NR)·pairs(k)·NV zeroed lines, `src` must hold [k, n], and
    /// AVX-512 BF16 must be available.
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    pub(super) unsafe fn pack_b(src: &Strided, k: usize, n: usize, dst: *mut Line) {
        let kp = pairs(k);
        let out = dst.cast::<u32>();
        let base = src.data.as_ptr().add(src.offset);
        if src.cs == 1 {
            // Rows of B contiguous (a weight stored as W^T, attention's V): two rows at a time,
            // converted together and interleaved into pairs.
            let mut order = [0u16; 32];
            for j in 0..16 {
                order[2 * j] = j as u16;
                order[2 * j + 1] = 16 + j as u16;
            }
            let order = _mm512_loadu_si512(order.as_ptr().cast());
            for q in 0..n.div_ceil(NR) {
                let cols = NR.min(n - q * NR);
                for p in 0..kp {
                    let row0 = base.add(2 * p * src.rs + q * NR);
                    let has_row1 = 2 * p + 1 < k;
                    for v in 0..NV {
                        let mask = mask16(cols.saturating_sub(16 * v));
                        let lo = _mm512_maskz_loadu_ps(mask, row0.add(16 * v));
                        let hi = if has_row1 {
                            _mm512_maskz_loadu_ps(mask, row0.add(src.rs + 16 * v))
                        } else {
                            _mm512_setzero_ps()
                        };
                        let bh = transmute::<__m512bh, __m512i>(_mm512_cvtne2ps_pbh(hi, lo));
                        let line = dst.add((q * kp + p) * NV + v);
                        _mm512_store_si512(line.cast(), _mm512_permutexvar_epi16(order, bh));
                    }
                }
            }
        } else if src.rs == 1 {
            // Columns of B contiguous (attention's K^T, a weight [out, in] row-major): 16
            // columns' pairs converted together, 16 k-pairs at a time, and transposed into
            // lines (columns past n are zeros).
            for j0 in (0..n).step_by(16) {
                let (q, v) = (j0 / NR, (j0 % NR) / 16);
                for p0 in (0..kp).step_by(16) {
                    let mut t = [_mm512_setzero_si512(); 16];
                    for (c, t) in t.iter_mut().enumerate().take(n - j0) {
                        *t = load_pairs(base.add((j0 + c) * src.cs + 2 * p0), k - 2 * p0);
                    }
                    transpose16(&mut t);
                    for (p, t) in t.iter().enumerate().take(kp - p0) {
                        let line = dst.add((q * kp + p0 + p) * NV + v);
                        _mm512_store_si512(line.cast(), *t);
                    }
                }
            }
            // The lines of the last panel's columns that no group of 16 reached.
            let groups = n.div_ceil(16);
            for g in groups..n.div_ceil(NR) * NV {
                let (q, v) = (g / NV, g % NV);
                for p in 0..kp {
                    _mm512_store_si512(
                        dst.add((q * kp + p) * NV + v).cast(),
                        _mm512_setzero_si512(),
                    );
                }
            }
        } else {
            for j in 0..n {
                let (q, jj) = (j / NR, j % NR);
                for p in 0..kp {
                    *out.add((q * kp + p) * NR + jj) = pair_down(src, p, j, k);
                }
            }
        }
    }

    /// The k-pair `p` of column `j` of `B` (via `src`), converted one value at a time.
    #[inline(always)]
    fn pair_down(src: &Strided, p: usize, j: usize, k: usize) -> u32 {
        let lo = super::bf16_bits(src.at(2 * p, j));
        let hi = if 2 * p + 1 < k {
            super::bf16_bits(src.at(2 * p + 1, j))
        } else {
            0
        };
        u32::from(lo) | (u32::from(hi) << 16)
    }

    /// The micro-kernel for a tile of `rows` (1..=MR) rows.
    ///
    /// # Safety
    /// The pointers of `t` must be valid as [`Tile`] describes them; AVX-512 BF16 available.
    pub(super) unsafe fn tile(rows: usize, t: &Tile) {
        macro_rules! dispatch {
            ($($r:literal)*) => {
                match rows {
                    $($r if $r <= MR => kernel::<$r>(t),)*
                    _ => unreachable!("tile of {rows} rows"),
                }
            };
        }
        const { assert!(MR <= 16) };
        dispatch!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
    }

    /// [`tile`] for `R` rows: R·NV accumulators, NV panel vectors and one broadcast per row and
    /// k-pair.
    ///
    /// # Safety
    /// As [`tile`].
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    unsafe fn kernel<const R: usize>(t: &Tile) {
        let mut acc = [[_mm512_setzero_ps(); NV]; R];
        let masks: [__mmask16; NV] = std::array::from_fn(|v| mask16(t.cols.saturating_sub(16 * v)));
        if t.accumulate {
            for (r, acc) in acc.iter_mut().enumerate() {
                for (v, acc) in acc.iter_mut().enumerate() {
                    *acc = _mm512_maskz_loadu_ps(masks[v], t.c.add(r * t.ldc + 16 * v));
                }
            }
        }
        let rows: [*const u32; R] = std::array::from_fn(|r| t.a.add(r * t.lda));
        let mut b = t.b;
        for p in 0..t.kp {
            let mut bv = [transmute::<__m512i, __m512bh>(_mm512_setzero_si512()); NV];
            for (v, bv) in bv.iter_mut().enumerate() {
                *bv = transmute::<__m512i, __m512bh>(_mm512_load_si512(b.add(16 * v).cast()));
            }
            for (r, acc) in acc.iter_mut().enumerate() {
                let av = transmute::<__m512i, __m512bh>(_mm512_set1_epi32(*rows[r].add(p) as i32));
                for (acc, &bv) in acc.iter_mut().zip(&bv) {
                    *acc = _mm512_dpbf16_ps(*acc, av, bv);
                }
            }
            b = b.add(NR);
        }
        let scale = _mm512_set1_ps(t.scale);
        let mut add = [_mm512_setzero_ps(); NV];
        if t.finish && !t.rowvec.is_null() {
            for (v, add) in add.iter_mut().enumerate() {
                *add = _mm512_maskz_loadu_ps(masks[v], t.rowvec.add(16 * v));
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            let row = t.c.add(r * t.ldc);
            for v in 0..NV {
                let y = if t.finish {
                    _mm512_fmadd_ps(acc[v], scale, add[v])
                } else {
                    acc[v]
                };
                if t.cols >= 16 * (v + 1) {
                    _mm512_storeu_ps(row.add(16 * v), y);
                } else if t.cols > 16 * v {
                    _mm512_mask_storeu_ps(row.add(16 * v), masks[v], y);
                }
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod imp {
    //! Off x86-64 the bf16 products are never [`super::available`], so nothing here is called.

    use super::{Line, Strided, Tile};

    pub(super) unsafe fn convert_rows(
        _: &Strided,
        _: usize,
        _: usize,
        _: usize,
        _: *mut u32,
        _: usize,
    ) {
        unreachable!("bf16 products are x86-64 only")
    }

    pub(super) unsafe fn pack_b(_: &Strided, _: usize, _: usize, _: *mut Line) {
        unreachable!("bf16 products are x86-64 only")
    }

    pub(super) unsafe fn tile(_: usize, _: &Tile) {
        unreachable!("bf16 products are x86-64 only")
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::kernels::{
        batched_matmul_add_bf16 as batched_matmul_add, batched_matmul_bf16 as batched_matmul,
    };
    use candle_core::{DType, Device, IndexOp};
    use rand::{Rng, SeedableRng};

    /// False (after saying so) when this CPU cannot run the bf16 kernels.
    fn runs_here() -> bool {
        if !cpu_supported() {
            eprintln!("SKIPPED: this CPU has no AVX-512 BF16");
        }
        cpu_supported()
    }

    fn values(n: usize, scale: f32, seed: u64) -> Vec<f32> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        (0..n)
            .map(|_| (rng.random::<f32>() * 2.0 - 1.0) * scale)
            .collect()
    }

    fn tensor(v: Vec<f32>, shape: &[usize]) -> Tensor {
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    /// The product `a b (+ bias)` in f64, of bf16-rounded inputs when `round`.
    fn reference(a: &Tensor, b: &Tensor, bias: Option<&[f32]>, round: bool) -> Vec<f64> {
        let r = |x: f32| f64::from(if round { round_to_bf16(x) } else { x });
        let a: Vec<Vec<f32>> = a.to_vec2().unwrap();
        let b: Vec<Vec<f32>> = b.to_vec2().unwrap();
        let n = b.first().map_or(0, Vec::len);
        let mut out = Vec::with_capacity(a.len() * n);
        for row in &a {
            for j in 0..n {
                let s: f64 = row.iter().zip(&b).map(|(&x, bk)| r(x) * r(bk[j])).sum();
                out.push(s + bias.map_or(0.0, |b| f64::from(b[j])));
            }
        }
        out
    }

    /// max |ours - want| / max(1e-30, max |want|)
    fn rel(ours: &[f32], want: &[f64]) -> f64 {
        assert_eq!(ours.len(), want.len());
        let d = ours
            .iter()
            .zip(want)
            .map(|(&o, &w)| (f64::from(o) - w).abs())
            .fold(0.0, f64::max);
        d / want.iter().map(|w| w.abs()).fold(1e-30, f64::max)
    }

    /// (m, k, n): every size of {1, 3, 17, 33, 100, 129, 770} in each place, odd k and k < 32,
    /// n never a multiple of NR.
    const SHAPES: &[(usize, usize, usize)] = &[
        (1, 1, 1),
        (3, 17, 33),
        (17, 3, 100),
        (33, 129, 17),
        (100, 33, 770),
        (129, 770, 3),
        (770, 100, 129),
        (1, 770, 33),
        (33, 1, 129),
        (129, 17, 1),
        (770, 3, 17),
    ];

    #[test]
    fn rounding_to_bf16_matches_the_half_crate_with_ties_to_even_and_nan_and_inf_kept() {
        if !runs_here() {
            return;
        }
        let mut xs = values(4096, 3.0, 1);
        xs.extend(values(1024, 1e30, 2));
        xs.extend(values(1024, 1e-30, 3));
        // Exact ties between two bf16 (low 16 bits 0x8000), with even and odd upper halves, and
        // values one ulp either side of a tie.
        for hi in [
            0x3f80u32, 0x3f81, 0xbf80, 0xbf81, 0x4049, 0x7f7f, 0xff7f, 0x0080,
        ] {
            for lo in [0x7fffu32, 0x8000, 0x8001, 0x0000, 0xffff] {
                xs.push(f32::from_bits((hi << 16) | lo));
            }
        }
        xs.extend([
            0.0,
            -0.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            f32::MIN,
            f32::MIN_POSITIVE,
            f32::NAN,
            -f32::NAN,
            f32::from_bits(0x7f80_0001), // signalling NaN with a low payload
            f32::from_bits(0xffc1_2345),
        ]);
        let vector = imp::convert(&xs);
        for (i, (&x, &v)) in xs.iter().zip(&vector).enumerate() {
            let want = half::bf16::from_f32(x);
            let scalar = bf16_bits(x);
            if x.is_nan() {
                let (vf, sf) = (half::bf16::from_bits(v), half::bf16::from_bits(scalar));
                assert!(
                    vf.is_nan() && sf.is_nan(),
                    "#{i}: NaN {x:?} became {v:#06x}"
                );
                assert_eq!(v >> 15, want.to_bits() >> 15, "#{i}: NaN sign");
            } else {
                assert_eq!(v, want.to_bits(), "#{i}: {x:e} ({:#010x})", x.to_bits());
                assert_eq!(scalar, want.to_bits(), "#{i}: scalar {x:e}");
            }
        }
        // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: even mantissa (1.0) wins; 1 + 3·2^-8
        // lies halfway between 1 + 2^-7 and 1 + 2^-6: even (1 + 2^-6) wins.
        assert_eq!(round_to_bf16(1.0 + 2f32.powi(-8)), 1.0);
        assert_eq!(
            round_to_bf16(1.0 + 3.0 * 2f32.powi(-8)),
            1.0 + 2f32.powi(-6)
        );
    }

    #[test]
    fn subnormal_inputs_are_flushed_to_signed_zero_by_both_conversions() {
        if !runs_here() {
            return;
        }
        // The packing of B uses the vector instruction or, for strided operands, the scalar
        // rounding: both must agree on every input, subnormals included.
        let xs: Vec<f32> = [
            1u32,
            0x7fff,
            0x8000,
            0x18000,
            0x7f_ffff,
            0x807f_0000,
            0x8000_8000,
        ]
        .iter()
        .map(|&b| f32::from_bits(b))
        .collect();
        let vector = imp::convert(&xs);
        let scalar: Vec<u16> = xs.iter().map(|&x| bf16_bits(x)).collect();
        assert_eq!(vector, scalar, "subnormals: {xs:?}");
        assert_eq!(vector, [0, 0, 0, 0, 0, 0x8000, 0x8000]);
    }

    #[test]
    fn dense_products_equal_the_product_of_the_rounded_inputs_on_odd_shapes() {
        if !runs_here() {
            return;
        }
        for (i, &(m, k, n)) in SHAPES.iter().enumerate() {
            let seed = 10 * i as u64;
            let x = tensor(values(m * k, 2.0, seed), &[m, k]);
            let w = tensor(values(n * k, 1.0, seed + 1), &[n, k]);
            let bias = values(n, 1.0, seed + 2);
            let want = reference(&x, &w.t().unwrap(), Some(&bias), true);
            let exact = reference(&x, &w.t().unwrap(), Some(&bias), false);
            let magnitude = reference(
                &x.abs().unwrap(),
                &w.t().unwrap().abs().unwrap(),
                None,
                false,
            )
            .into_iter()
            .fold(1e-30, f64::max);
            // W row-major (columns of B contiguous), W stored transposed as frozen weights are
            // (rows of B contiguous), and W with no unit stride (the scalar packing).
            let w3 = tensor(values(n * k * 2, 1.0, seed + 1), &[n, k, 2]);
            let odd = w3.i((.., .., 0)).unwrap();
            let odd_want = reference(&x, &odd.t().unwrap(), Some(&bias), true);
            for (layout, w, want) in [
                ("row-major", w.clone(), &want),
                (
                    "transposed",
                    super::super::to_column_major(&w).unwrap(),
                    &want,
                ),
                ("strided", odd, &odd_want),
            ] {
                let packed = PackedBf16::from_weight(&w)
                    .unwrap()
                    .expect("bf16 available");
                let xs: Vec<f32> = x.flatten_all().unwrap().to_vec1().unwrap();
                let y = packed.matmul(&xs, m, Some(&bias)).unwrap();
                let e = rel(&y, want);
                assert!(
                    e < 1e-5,
                    "{m}x{k}x{n} {layout}: {e:e} from the rounded product"
                );
                if layout != "strided" {
                    // bf16 error: each term x·w off by at most ~2^-8 of |x·w|.
                    let e = rel(&y, &exact) * exact.iter().fold(1e-30, |a, b| b.abs().max(a))
                        / magnitude;
                    assert!(e < 1e-2, "{m}x{k}x{n} {layout}: {e:e} from the f32 product");
                }
            }
        }
    }

    #[test]
    fn linear_through_a_packed_weight_matches_the_f32_layer_within_bf16_error() {
        if !runs_here() {
            return;
        }
        let x = tensor(values(2 * 5 * 70, 1.0, 1), &[2, 5, 70]);
        let w = tensor(values(40 * 70, 0.2, 2), &[40, 70]);
        let b = tensor(values(40, 1.0, 3), &[40]);
        let packed = Arc::new(
            PackedBf16::from_weight(&w)
                .unwrap()
                .expect("bf16 available"),
        );
        let ours = linear(&x, &packed, &b).unwrap();
        let theirs = super::super::linear(&x, &w, &b).unwrap();
        assert_eq!(ours.dims(), [2, 5, 40]);
        let e = super::super::testing::rel_diff(&ours, &theirs).unwrap();
        assert!(e > 0.0 && e < 1e-2, "{e:e}");
        let tracked = candle_core::Var::from_tensor(&x).unwrap();
        let err = linear(tracked.as_tensor(), &packed, &b).unwrap_err();
        assert!(err.to_string().contains("gradient"), "{err}");
    }

    #[test]
    fn batched_products_on_strided_heads_equal_the_rounded_product_plus_the_mask() {
        if !runs_here() {
            return;
        }
        // Attention's operands: heads split off [batch, seq, hidden] as views, K^T as a view,
        // P V with V a view, and a [batch, 1, 1, seq] mask; odd sizes and a size over NR.
        let (b, s, heads, d) = (2, 37, 3, 9);
        let h = heads * d;
        let x = tensor(values(b * s * h, 1.0, 5), &[b, s, h]);
        let y = tensor(values(b * s * h, 1.0, 6), &[b, s, h]);
        let split = |t: &Tensor| {
            t.reshape((b, s, heads, d))
                .unwrap()
                .transpose(1, 2)
                .unwrap()
        };
        let (q, k) = (split(&x), split(&y));
        let kt = k.t().unwrap();
        let mask = tensor(values(b * s, 5.0, 7), &[b, 1, 1, s]);
        let scores = batched_matmul_add(&q, &kt, 0.5, &mask).unwrap();
        assert_eq!(scores.dims(), [b, heads, s, s]);
        let p = tensor(values(b * heads * s * s, 1.0, 8), &[b, heads, s, s]);
        let context = batched_matmul(&p, &k, 1.0).unwrap();
        // A transposed left operand (the scalar packing) and a full addend.
        let full = tensor(values(b * heads * d * d, 1.0, 9), &[b, heads, d, d]);
        let gram = batched_matmul_add(&q.t().unwrap(), &k, 1.0, &full).unwrap();
        for bi in 0..b {
            for hi in 0..heads {
                let at = |t: &Tensor| t.i((bi, hi)).unwrap().contiguous().unwrap();
                let row: Vec<f32> = mask.i((bi, 0, 0)).unwrap().to_vec1().unwrap();
                let want: Vec<f64> = reference(&at(&q), &at(&kt), None, true)
                    .iter()
                    .enumerate()
                    .map(|(i, v)| 0.5 * v + f64::from(row[i % s]))
                    .collect();
                let got: Vec<f32> = at(&scores).flatten_all().unwrap().to_vec1().unwrap();
                assert!(rel(&got, &want) < 1e-5, "scores {bi},{hi}");
                let want = reference(&at(&p), &at(&k), None, true);
                let got: Vec<f32> = at(&context).flatten_all().unwrap().to_vec1().unwrap();
                assert!(rel(&got, &want) < 1e-5, "context {bi},{hi}");
                let add: Vec<f32> = at(&full).flatten_all().unwrap().to_vec1().unwrap();
                let want: Vec<f64> = reference(&at(&q.t().unwrap()), &at(&k), None, true)
                    .iter()
                    .zip(&add)
                    .map(|(v, &c)| v + f64::from(c))
                    .collect();
                let got: Vec<f32> = at(&gram).flatten_all().unwrap().to_vec1().unwrap();
                assert!(rel(&got, &want) < 1e-5, "gram {bi},{hi}");
            }
        }
        // One batch item (split over the threads inside the product) equals the batched run.
        let one = batched_matmul(&p.i(0..1).unwrap(), &k.i(0..1).unwrap(), 1.0).unwrap();
        let diff = (one - context.i(0..1).unwrap())
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_dtype(DType::F32)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert_eq!(diff, 0.0);
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod parts {
    //! Timing of the parts (packing, kernel) on one thread, best of many runs:
    //! `cargo test -p tinybert-model --lib bf16::parts -- --ignored --nocapture` (opt-level 3).
    use super::*;

    /// The best of `iters` timings (the least disturbed on a shared machine).
    fn secs(iters: usize, mut f: impl FnMut()) -> f64 {
        f();
        (0..iters)
            .map(|_| {
                let t0 = std::time::Instant::now();
                f();
                t0.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    }

    #[test]
    #[ignore]
    fn time_the_parts() {
        if !cpu_supported() {
            return;
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        pool.install(|| {
            for (m, k, n) in [
                (4096, 768, 768),
                (4096, 768, 3072),
                (4096, 3072, 768),
                (4096, 384, 384),
                (4096, 1536, 384),
                (128, 64, 128),
                (128, 128, 64),
            ] {
                let x: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
                let w: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.1).collect();
                let xs = Strided {
                    data: &x,
                    offset: 0,
                    rs: k,
                    cs: 1,
                };
                let ws = Strided {
                    data: &w,
                    offset: 0,
                    rs: n,
                    cs: 1,
                };
                let wt = Strided {
                    data: &w,
                    offset: 0,
                    rs: 1,
                    cs: k,
                };
                let (mut a, mut b) = (Vec::new(), Vec::new());
                let iters = (40_000_000_000usize / (m * k * n)).clamp(20, 2000);
                let mut lda = 0;
                let ta = secs(iters, || lda = pack_a(&xs, m, k, &mut a, 1));
                let tb = secs(iters, || pack_b(&ws, k, n, &mut b));
                let tbt = secs(iters, || pack_b(&wt, k, n, &mut b));
                let mut out = vec![0f32; m * n];
                let dst = Dst {
                    ptr: out.as_mut_ptr(),
                    ldc: n,
                };
                // SAFETY: `out` holds m·n f32; `a` and `b` are the packings of [m, k], [k, n].
                let tk = secs(iters, || unsafe {
                    product((&a, lda), m, k, &b, n, dst, None, 1.0, 1)
                });
                let flop = 2.0 * (m * k * n) as f64;
                eprintln!(
                    "{m}x{k}x{n}: pack A {:.2} ns/value, pack B by rows {:.3} ms, by columns \
                     {:.3} ms, kernel {:.3} ms = {:.0} GFLOP/s",
                    ta * 1e9 / (m * k) as f64,
                    tb * 1e3,
                    tbt * 1e3,
                    tk * 1e3,
                    flop / tk / 1e9
                );
            }
        });
    }
}
