//! `tinybert model forward` writes what PyTorch `transformers` computes (fixtures from
//! `scripts/fixtures/make_model_fixtures.py`), and `model init` / `model inspect` work together.

use std::path::PathBuf;
use std::process::Command;
use tinybert_testkit::{assert_close, Tol};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn minilm() -> Option<PathBuf> {
    tinybert_testkit::shared("models/all-MiniLM-L6-v2/model.safetensors")
        .and_then(|p| p.parent().map(PathBuf::from))
}

fn forward(model: &std::path::Path, args: &[&str], out: &std::path::Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_tinybert"))
        .args(["-q", "model", "forward", "--model"])
        .arg(model)
        .args(args)
        .arg("--output")
        .arg(out)
        .status()
        .unwrap();
    assert!(status.success());
}

fn compare(got: &std::path::Path, fixture: &str) {
    let dev = candle_core::Device::Cpu;
    let got = candle_core::safetensors::load(got, &dev).unwrap();
    let want = candle_core::safetensors::load(
        root().join("crates/model/tests/fixtures").join(fixture),
        &dev,
    )
    .unwrap();
    let mut names: Vec<&String> = want.keys().collect();
    names.sort();
    assert_eq!(got.len(), want.len(), "same tensors as the fixture");
    for name in names {
        let (a, b) = (&got[name], &want[name]);
        assert_eq!(a.dims(), b.dims(), "{name}");
        if name.ends_with("_ids") || name == "attention_mask" {
            assert_eq!(
                a.to_dtype(candle_core::DType::I64)
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<i64>()
                    .unwrap(),
                b.flatten_all().unwrap().to_vec1::<i64>().unwrap(),
                "{name}"
            );
            continue;
        }
        assert_close(name, a, b, Tol::rel(1e-4));
    }
}

#[test]
fn model_forward_matches_transformers_for_a_padded_sentence_and_a_pair() {
    let Some(model) = minilm() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("padded.safetensors");
    forward(
        &model,
        &["--text", "Hello world!", "--max-seq-len", "16"],
        &out,
    );
    compare(&out, "minilm_padded.safetensors");
    let out = tmp.path().join("pair.safetensors");
    forward(
        &model,
        &[
            "--text",
            "A man is playing a guitar.",
            "--text-pair",
            "Someone plays an instrument on stage.",
        ],
        &out,
    );
    compare(&out, "minilm_pair.safetensors");
}

#[test]
fn an_initialised_student_inspects_with_its_parameter_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let vocab = root().join("crates/model/tests/fixtures/tiny");
    let out = tmp.path().join("student");
    let ok = Command::new(env!("CARGO_BIN_EXE_tinybert"))
        .args(["-q", "model", "init", "--config"])
        .arg(vocab.join("config.json"))
        .arg("--tokenizer-from")
        .arg(&vocab)
        .args(["--fit-size", "48", "--output"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(ok.success());
    let inspect = Command::new(env!("CARGO_BIN_EXE_tinybert"))
        .args(["-q", "model", "inspect", "--json", "--model"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(inspect.status.success());
    let v: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    // vocab 99, hidden 32, 2 layers, FFN 37, 40 positions: embeddings (99+40+2)*32 + 64.
    assert_eq!(v["params"]["embedding"], 141 * 32 + 64);
    assert_eq!(v["heads"]["fit_dense"], "shared");
    assert_eq!(v["params"]["heads"], 32 * 48 + 48);
}
