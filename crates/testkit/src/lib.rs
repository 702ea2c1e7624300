//! Helpers for the workspace's tests (a dev-dependency only, never published):
//!
//! - [`assert_close`]: the one numeric comparison of tensors or slices. It fails on any NaN or
//!   infinity in either input (a comparison that skips NaN would pass a broken result), on a
//!   shape mismatch, and when the worst element is out of tolerance, naming that element, its
//!   index and both values.
//! - [`shared`]: the one lookup of `../shared` (the real models and data beside the
//!   workspace). When a path is absent it prints `SKIPPED (../shared/<what> absent)` and
//!   returns `None`, so the test can return early; with `TINYBERT_REQUIRE_SHARED=1` (set by CI,
//!   where `../shared` is present) it panics instead, so a test cannot pass by skipping there.
//! - [`assert_mentions`]: the one check that an error message names what it should (the file,
//!   the line, the key), showing the whole message when it does not.

use candle_core::{DType, Tensor};
use std::path::{Path, PathBuf};

/// Set to `1` to make a missing `../shared` path a test failure.
pub const REQUIRE_SHARED_ENV: &str = "TINYBERT_REQUIRE_SHARED";

/// How close two values must be: `|got - want| <= abs + rel * max|want|`, the maximum taken
/// over all elements of `want`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tol {
    pub abs: f64,
    pub rel: f64,
}

impl Tol {
    /// An absolute tolerance.
    pub fn abs(abs: f64) -> Self {
        Tol { abs, rel: 0.0 }
    }

    /// A tolerance relative to the largest magnitude of the expected values.
    pub fn rel(rel: f64) -> Self {
        Tol { abs: 0.0, rel }
    }

    /// Equality.
    pub fn exact() -> Self {
        Tol { abs: 0.0, rel: 0.0 }
    }
}

/// Something with numbers to compare: candle tensors (any float or integer dtype), slices and
/// vectors of `f32`/`f64`, scalars.
pub trait Values {
    /// The shape (a slice is one-dimensional, a scalar has none).
    fn shape(&self) -> Vec<usize>;
    /// The elements in row-major order.
    fn values(&self) -> Vec<f64>;
}

impl Values for Tensor {
    fn shape(&self) -> Vec<usize> {
        self.dims().to_vec()
    }
    fn values(&self) -> Vec<f64> {
        self.to_dtype(DType::F64)
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1::<f64>())
            .unwrap_or_else(|e| panic!("cannot read the tensor's values: {e}"))
    }
}

macro_rules! slice_values {
    ($($t:ty),*) => {$(
        impl Values for [$t] {
            fn shape(&self) -> Vec<usize> {
                vec![self.len()]
            }
            fn values(&self) -> Vec<f64> {
                self.iter().map(|&x| x as f64).collect()
            }
        }
        impl Values for Vec<$t> {
            fn shape(&self) -> Vec<usize> {
                vec![self.len()]
            }
            fn values(&self) -> Vec<f64> {
                self.iter().map(|&x| x as f64).collect()
            }
        }
        impl Values for $t {
            fn shape(&self) -> Vec<usize> {
                Vec::new()
            }
            fn values(&self) -> Vec<f64> {
                vec![*self as f64]
            }
        }
    )*};
}
slice_values!(f32, f64);

/// The multi-dimensional index of flat position `i` in `shape`.
fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for (d, &n) in shape.iter().enumerate().rev() {
        if n > 0 {
            idx[d] = i % n;
            i /= n;
        }
    }
    idx
}

/// The outcome of a comparison: `Ok` or the message [`assert_close`] panics with.
pub fn check_close<A: Values + ?Sized, B: Values + ?Sized>(
    what: &str,
    got: &A,
    want: &B,
    tol: Tol,
) -> Result<(), String> {
    let (gs, ws) = (got.shape(), want.shape());
    if gs != ws {
        return Err(format!("{what}: shape {gs:?}, expected {ws:?}"));
    }
    let (g, w) = (got.values(), want.values());
    for (side, v) in [("result", &g), ("expected value", &w)] {
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(format!(
                "{what}: {side} at {:?} is {} (NaN or infinity)",
                unravel(i, &gs),
                v[i]
            ));
        }
    }
    let scale = w.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let limit = tol.abs + tol.rel * scale;
    let worst = g
        .iter()
        .zip(&w)
        .map(|(a, b)| (a - b).abs())
        .enumerate()
        .fold(None, |best: Option<(usize, f64)>, (i, d)| match best {
            Some((_, bd)) if bd >= d => best,
            _ => Some((i, d)),
        });
    match worst {
        Some((i, d)) if d > limit => Err(format!(
            "{what}: worst element at {:?}: {} vs expected {} (|diff| {d:e} > {limit:e} = \
             abs {:e} + rel {:e} x max|expected| {scale:e})",
            unravel(i, &gs),
            g[i],
            w[i],
            tol.abs,
            tol.rel
        )),
        _ => Ok(()),
    }
}

/// Panics unless `got` and `want` have the same shape, no NaN or infinity, and every element
/// within `tol` (see [`Tol`]); the message names `what`, the worst element and its index.
#[track_caller]
pub fn assert_close<A: Values + ?Sized, B: Values + ?Sized>(
    what: &str,
    got: &A,
    want: &B,
    tol: Tol,
) {
    if let Err(msg) = check_close(what, got, want, tol) {
        panic!("{msg}");
    }
}

/// The `../shared` folder beside the workspace (present or not).
pub fn shared_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

/// `../shared/<what>` if it exists. Otherwise prints `SKIPPED (../shared/<what> absent)` (with
/// the test's name) and returns `None`, or panics when `TINYBERT_REQUIRE_SHARED=1`.
#[track_caller]
pub fn shared(what: &str) -> Option<PathBuf> {
    let path = shared_root().join(what);
    if path.exists() {
        return Some(path);
    }
    let test = std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_string();
    if std::env::var(REQUIRE_SHARED_ENV).is_ok_and(|v| v == "1") {
        panic!(
            "../shared/{what} is absent ({}), and {REQUIRE_SHARED_ENV}=1 requires it for {test}",
            path.display()
        );
    }
    println!("SKIPPED (../shared/{what} absent): {test}");
    None
}

/// Panics unless `message` (an error's text) contains every one of `parts`; the panic shows the
/// message and the parts it lacks.
#[track_caller]
pub fn assert_mentions(message: impl std::fmt::Display, parts: &[&str]) {
    let message = message.to_string();
    let missing: Vec<&str> = parts
        .iter()
        .copied()
        .filter(|p| !message.contains(p))
        .collect();
    assert!(
        missing.is_empty(),
        "{message}\n(does not mention {missing:?})"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn close_values_pass_and_the_worst_element_is_reported_with_its_index() {
        let want = Tensor::new(&[[1.0f32, 2.0], [3.0, 4.0]], &Device::Cpu).unwrap();
        let got = Tensor::new(&[[1.0f32, 2.0], [3.5, 4.0001]], &Device::Cpu).unwrap();
        assert!(check_close("x", &want, &want, Tol::exact()).is_ok());
        assert!(check_close("x", &got, &want, Tol::abs(0.6)).is_ok());
        let err = check_close("x", &got, &want, Tol::rel(1e-3)).unwrap_err();
        assert!(
            err.contains("worst element at [1, 0]: 3.5 vs expected 3"),
            "{err}"
        );
    }

    #[test]
    fn nan_or_infinity_on_either_side_fails_even_with_a_huge_tolerance() {
        let loose = Tol::abs(1e30);
        let err = check_close("g", &[1.0f32, f32::NAN][..], &[1.0f32, 2.0][..], loose).unwrap_err();
        assert!(err.contains("result at [1] is NaN"), "{err}");
        let err = check_close("g", &vec![1.0f64], &vec![f64::INFINITY], loose).unwrap_err();
        assert!(err.contains("expected value at [0] is inf"), "{err}");
    }

    #[test]
    fn a_shape_mismatch_fails() {
        let err = check_close("s", &[1.0f32, 2.0][..], &[1.0f32][..], Tol::abs(1.0)).unwrap_err();
        assert!(err.contains("shape [2], expected [1]"), "{err}");
    }

    #[test]
    fn a_scalar_compares_like_a_one_element_slice() {
        assert!(check_close("l", &0.5f32, &0.5000001f32, Tol::rel(1e-5)).is_ok());
        assert!(check_close("l", &0.5f64, &0.6f64, Tol::rel(1e-5)).is_err());
    }

    #[test]
    #[should_panic(expected = "worst element")]
    fn assert_close_panics_with_the_message() {
        assert_close("p", &[0.0f32][..], &[1.0f32][..], Tol::abs(0.5));
    }

    #[test]
    fn a_message_mentioning_every_part_passes() {
        assert_mentions(
            "data.tsv:3: unknown label",
            &["data.tsv:3:", "unknown label"],
        );
    }

    #[test]
    #[should_panic(expected = "(does not mention [\"line 4\"])")]
    fn a_message_lacking_a_part_panics_naming_it() {
        assert_mentions("data.tsv:3: unknown label", &["data.tsv", "line 4"]);
    }

    #[test]
    fn the_shared_lookup_finds_present_paths_and_skips_absent_ones() {
        // An absent path: `None` here, a panic under TINYBERT_REQUIRE_SHARED=1.
        let absent = "no/such/path/in/shared";
        if std::env::var(REQUIRE_SHARED_ENV).is_ok_and(|v| v == "1") {
            assert!(std::panic::catch_unwind(|| shared(absent)).is_err());
        } else {
            assert_eq!(shared(absent), None);
        }
        if shared_root().join("SPEC.md").exists() {
            assert_eq!(shared("SPEC.md"), Some(shared_root().join("SPEC.md")));
        }
    }
}
