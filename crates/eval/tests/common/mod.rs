//! Shared fixtures of the evaluation tests: tiny random classifiers saved as model folders,
//! and the GLUE fixture folders.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use tinybert_model::{BertConfig, Heads, Model, ModelOptions, Want};

/// The model crate's tiny fixture: config.json, vocab.txt (`w0`..`w93`), and weights with a
/// 3-class classifier and no `id2label`.
pub fn tiny_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../model/tests/fixtures/tiny")
}

/// This crate's GLUE fixtures (RTE dev and test).
pub fn eval_glue_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/glue")
}

/// The data crate's GLUE fixtures (CoLA, MNLI, QQP, STS-B), read only.
pub fn data_glue_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/tests/fixtures/glue")
}

/// Saves a randomly initialised tiny model into `dir` with a classifier of `outputs` outputs
/// and, when given, `labels` recorded as `id2label`. The initialisation range and seed are
/// chosen so that the predictions on the RTE fixtures depend on the input (both classes occur).
pub fn tiny_model(dir: &Path, outputs: Option<usize>, labels: Option<&[&str]>) -> PathBuf {
    let mut cfg = BertConfig::from_file(&tiny_fixture().join("config.json")).unwrap();
    cfg.initializer_range = 0.2;
    if let Some(labels) = labels {
        let labels: Vec<String> = labels.iter().map(|s| s.to_string()).collect();
        cfg.set_labels(&labels);
    }
    let opts = ModelOptions {
        seed: 5,
        heads: Heads {
            classifier: outputs.map_or(Want::Never, Want::Always),
            ..Heads::default()
        },
        ..ModelOptions::default()
    };
    let model = Model::init(&cfg, &opts).unwrap();
    let out = dir.join("model");
    model.save(&out, Some(&tiny_fixture())).unwrap();
    out
}
