//! Matrix operands for gemm as candle lays them out (any strides, any batch dimensions), and the
//! one gemm call the dense layers and the batched products share.

use candle_core::{bail, CpuStorage, Layout, Result};
use gemm::{gemm, Parallelism};

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
