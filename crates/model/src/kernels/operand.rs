//! Matrix operands for gemm as candle lays them out (any strides, any batch dimensions), the one
//! gemm call the dense layers and the batched products share, and the checked operands and the
//! loop over batch items that the f32 and bf16 batched products share.

use candle_core::{bail, CpuStorage, Layout, Result};
use gemm::{gemm, Parallelism};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// A matrix operand: its storage, each batch item's offset, and its row and column strides.
pub(super) struct Operand<'a> {
    pub data: &'a [f32],
    pub offsets: Vec<usize>,
    pub rows: isize,
    pub cols: isize,
}

impl<'a> Operand<'a> {
    /// The operand a layout of rank >= 2 describes: items over its leading dimensions.
    pub fn new(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<Self> {
        let CpuStorage::F32(v) = s else {
            bail!("{op}: expects f32 data")
        };
        let (dims, st) = (l.dims(), l.stride());
        let r = dims.len();
        let mut offsets = vec![l.start_offset()];
        for (&d, &stride) in dims[..r - 2].iter().zip(&st[..r - 2]) {
            offsets = offsets
                .iter()
                .flat_map(|&o| (0..d).map(move |j| o + j * stride))
                .collect();
        }
        Ok(Self {
            data: v,
            offsets,
            rows: st[r - 2] as isize,
            cols: st[r - 1] as isize,
        })
    }

    /// One row-major matrix with rows of `cols` elements.
    pub fn row_major(data: &'a [f32], cols: usize) -> Self {
        Self {
            data,
            offsets: vec![0],
            rows: cols as isize,
            cols: 1,
        }
    }

    /// The first element of item `i`.
    fn item(&self, i: usize) -> *const f32 {
        self.data[self.offsets[i]..].as_ptr()
    }
}

/// The operands of a batched product `A B (+ C)`, checked against each other: `a` [..., m, k],
/// `b` [..., k, n] with the same batch dimensions, and the addend `c` of the output's shape
/// `dims` [..., m, n].
pub(super) struct Batched<'a> {
    pub a: Operand<'a>,
    pub b: Operand<'a>,
    pub c: Option<Operand<'a>>,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub dims: Vec<usize>,
}

impl<'a> Batched<'a> {
    /// The operands of the op `op` (named in errors) from its inputs' storages and layouts.
    pub fn new(
        op: &str,
        (sa, la): (&'a CpuStorage, &Layout),
        (sb, lb): (&'a CpuStorage, &Layout),
        c: Option<(&'a CpuStorage, &Layout)>,
    ) -> Result<Self> {
        let (da, db) = (la.dims(), lb.dims());
        let r = da.len();
        if r < 2 || db.len() != r || da[..r - 2] != db[..r - 2] || da[r - 1] != db[r - 2] {
            bail!("{op}: cannot multiply {da:?} by {db:?}")
        }
        let (m, k, n) = (da[r - 2], da[r - 1], db[r - 1]);
        let mut dims = da[..r - 2].to_vec();
        dims.extend([m, n]);
        let (a, b) = (Operand::new(sa, la, op)?, Operand::new(sb, lb, op)?);
        let c = match c {
            Some((s, l)) if l.dims() == dims => Some(Operand::new(s, l, op)?),
            Some((_, l)) => bail!("{op}: addend {:?} is not {dims:?}", l.dims()),
            None => None,
        };
        Ok(Self {
            a,
            b,
            c,
            m,
            k,
            n,
            dims,
        })
    }

    /// The number of batch items.
    pub fn items(&self) -> usize {
        self.a.offsets.len()
    }
}

/// A new vector of `items` outputs of `size` f32 each, item `i` written by
/// `item(i, dst, scratch, threads)`. With at least two items per rayon thread the items are
/// split over the threads (`threads` = 1, one `scratch` from `init` per task); otherwise they
/// run one after another, each given every thread (`threads` = the pool's size).
///
/// # Safety
/// `item` must write every element of its `dst`.
pub(super) unsafe fn per_item<S>(
    items: usize,
    size: usize,
    init: impl Fn() -> S + Sync + Send,
    item: impl Fn(usize, &mut [MaybeUninit<f32>], &mut S, usize) + Sync + Send,
) -> Vec<f32> {
    let len = items * size;
    let mut out = Vec::with_capacity(len);
    if len == 0 {
        return out;
    }
    let threads = rayon::current_num_threads();
    let chunks = &mut out.spare_capacity_mut()[..len];
    if items >= 2 * threads {
        chunks
            .par_chunks_mut(size)
            .enumerate()
            .for_each_init(init, |scratch, (i, dst)| item(i, dst, scratch, 1));
    } else {
        let mut scratch = init();
        for (i, dst) in chunks.chunks_mut(size).enumerate() {
            item(i, dst, &mut scratch, threads);
        }
    }
    // SAFETY: every item's `size` elements were written by `item` (the caller's promise).
    unsafe { out.set_len(len) };
    out
}

/// `dst [m, n] = scale · a_i b_j`, plus `dst`'s own values when `accumulate`; `dst` row-major.
///
/// # Safety
/// `dst` must be valid for m·n writes (and reads when `accumulate`); items `i` of `a` ([m, k])
/// and `j` of `b` ([k, n]) must lie inside their storage as their strides describe them.
pub(super) unsafe fn product(
    (m, n, k): (usize, usize, usize),
    dst: *mut f32,
    (a, i): (&Operand, usize),
    (b, j): (&Operand, usize),
    scale: f32,
    accumulate: bool,
    par: Parallelism,
) {
    gemm(
        m,
        n,
        k,
        dst,
        1,
        n as isize,
        accumulate,
        a.item(i),
        a.cols,
        a.rows,
        b.item(j),
        b.cols,
        b.rows,
        if accumulate { 1.0 } else { 0.0 },
        scale,
        false,
        false,
        false,
        par,
    )
}
