//! Helpers shared by the model crate's integration tests.
#![allow(dead_code)]

use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;
use std::path::PathBuf;

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// `../shared/models/all-MiniLM-L6-v2` beside the checkout (see [`tinybert_testkit::shared`]).
pub fn minilm_dir() -> Option<PathBuf> {
    tinybert_testkit::shared("models/all-MiniLM-L6-v2")
}

pub fn load(path: &std::path::Path) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(path, &Device::Cpu).unwrap()
}

/// max |a - b| / max |b|; panics on a shape mismatch or any NaN or infinity in either tensor
/// ([`tinybert_testkit::check_close`]), so a broken result never measures as small.
pub fn rel_err(a: &Tensor, b: &Tensor) -> f32 {
    let finite = tinybert_testkit::Tol::abs(f64::INFINITY);
    if let Err(msg) = tinybert_testkit::check_close("rel_err", a, b, finite) {
        panic!("{msg}");
    }
    let a = a.to_dtype(DType::F32).unwrap();
    let b = b.to_dtype(DType::F32).unwrap();
    let diff = (&a - &b)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    let scale = b
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
        .max(1e-12);
    diff / scale
}

pub fn ids(t: &Tensor) -> Tensor {
    t.to_dtype(DType::U32).unwrap()
}
