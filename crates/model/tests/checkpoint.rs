//! Checkpoint I/O: round trips, and one clear error per kind of bad input.

mod common;

use candle_core::{DType, Device, Tensor};
use common::*;
use std::collections::HashMap;
use tinybert_model::weights::write_safetensors;
use tinybert_model::{BertConfig, FitDenseKind, Heads, Model, ModelOptions, Trainable, Want};

fn tiny_config() -> BertConfig {
    BertConfig::from_file(&fixtures().join("tiny/config.json")).unwrap()
}

fn copy_tiny(dst: &std::path::Path) -> HashMap<String, Tensor> {
    std::fs::create_dir_all(dst).unwrap();
    for f in ["config.json", "vocab.txt"] {
        std::fs::copy(fixtures().join("tiny").join(f), dst.join(f)).unwrap();
    }
    load(&fixtures().join("tiny/model.safetensors"))
}

fn batch() -> (Tensor, Tensor, Tensor) {
    let dev = Device::Cpu;
    let ids = Tensor::new(&[[2u32, 9, 17, 3, 0]], &dev).unwrap();
    let types = Tensor::new(&[[0u32, 0, 0, 0, 0]], &dev).unwrap();
    let mask = Tensor::new(&[[1u32, 1, 1, 1, 0]], &dev).unwrap();
    (ids, types, mask)
}

#[test]
fn a_saved_student_reloads_with_identical_outputs_and_keeps_fit_dense_apart() {
    let root = tempfile::tempdir().unwrap();
    let opts = ModelOptions {
        trainable: Trainable::All,
        seed: 3,
        heads: Heads {
            classifier: Want::Always(2),
            fit_dense: Want::Always((FitDenseKind::Shared, 64)),
            ..Default::default()
        },
        ..Default::default()
    };
    let model = Model::init(&tiny_config(), &opts).unwrap();
    let dir = root.path().join("student");
    model.save(&dir, Some(&fixtures().join("tiny"))).unwrap();
    let main = load(&dir.join("model.safetensors"));
    assert!(main.keys().all(|k| !k.starts_with("fit_dense")));
    assert!(dir.join("fit_dense.safetensors").exists() && dir.join("vocab.txt").exists());
    let cfg = BertConfig::from_file(&dir.join("config.json")).unwrap();
    assert_eq!(cfg.fit_size, Some(64));

    let back = Model::load(&dir, &ModelOptions::default()).unwrap();
    assert!(back.report.unexpected.is_empty() && back.report.initialized.is_empty());
    assert_eq!(back.fit_dense.as_ref().unwrap().kind, FitDenseKind::Shared);
    let (ids, types, mask) = batch();
    let a = model.forward_t(&ids, &types, &mask, false).unwrap();
    let b = back.forward_t(&ids, &types, &mask, false).unwrap();
    assert_eq!(rel_err(&a.pooled_output, &b.pooled_output), 0.0);
    assert_eq!(
        rel_err(&model.logits(&a).unwrap(), &back.logits(&b).unwrap()),
        0.0
    );
}

#[test]
fn fresh_initialisation_is_deterministic_for_a_seed_and_follows_bert_init() {
    let opts = |seed| ModelOptions {
        seed,
        ..Default::default()
    };
    let a = Model::init(&tiny_config(), &opts(1))
        .unwrap()
        .named_tensors()
        .unwrap();
    let b = Model::init(&tiny_config(), &opts(1))
        .unwrap()
        .named_tensors()
        .unwrap();
    let c = Model::init(&tiny_config(), &opts(2))
        .unwrap()
        .named_tensors()
        .unwrap();
    let w = "encoder.layer.0.attention.self.query.weight";
    assert_eq!(rel_err(&a[w], &b[w]), 0.0);
    assert!(rel_err(&a[w], &c[w]) > 0.1);
    let v: Vec<f32> = a["embeddings.word_embeddings.weight"]
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let std = (v.iter().map(|x| x * x).sum::<f32>() / v.len() as f32).sqrt();
    assert!((std - 0.02).abs() < 0.002, "std {std}");
    let bias: Vec<f32> = a["encoder.layer.1.output.dense.bias"].to_vec1().unwrap();
    assert!(bias.iter().all(|x| *x == 0.0));
    let ln: Vec<f32> = a["embeddings.LayerNorm.weight"].to_vec1().unwrap();
    assert!(ln.iter().all(|x| *x == 1.0));
}

#[test]
fn a_missing_encoder_tensor_is_an_error_naming_file_and_tensor() {
    let root = tempfile::tempdir().unwrap();
    let mut t = copy_tiny(root.path());
    t.remove("encoder.layer.1.attention.self.key.weight");
    write_safetensors(&t, &root.path().join("model.safetensors")).unwrap();
    let err = Model::load(root.path(), &ModelOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("model.safetensors")
            && err.contains("encoder.layer.1.attention.self.key.weight"),
        "{err}"
    );
}

#[test]
fn a_missing_classifier_is_freshly_initialised_and_reported() {
    let root = tempfile::tempdir().unwrap();
    let mut t = copy_tiny(root.path());
    t.retain(|k, _| !k.starts_with("classifier") && !k.starts_with("fit_dense"));
    t.insert(
        "cls.seq_relationship.weight".into(),
        Tensor::zeros((2, 32), DType::F32, &Device::Cpu).unwrap(),
    );
    write_safetensors(&t, &root.path().join("model.safetensors")).unwrap();
    let opts = ModelOptions {
        heads: Heads {
            classifier: Want::Always(2),
            ..Default::default()
        },
        ..Default::default()
    };
    let m = Model::load(root.path(), &opts).unwrap();
    assert_eq!(
        m.report.initialized,
        ["classifier.weight", "classifier.bias"]
    );
    assert_eq!(m.report.unexpected, ["cls.seq_relationship.weight"]);
}

#[test]
fn a_config_that_does_not_match_the_weights_is_an_error_naming_the_tensor_and_shapes() {
    let root = tempfile::tempdir().unwrap();
    copy_tiny(root.path());
    std::fs::copy(
        fixtures().join("tiny/model.safetensors"),
        root.path().join("model.safetensors"),
    )
    .unwrap();
    let mut cfg = tiny_config();
    cfg.intermediate_size = 40;
    std::fs::write(root.path().join("config.json"), cfg.to_json_string()).unwrap();
    let err = Model::load(root.path(), &ModelOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("model.safetensors")
            && err.contains("encoder.layer.0.intermediate.dense.weight"),
        "{err}"
    );
    assert!(
        err.contains("[37, 32]") && err.contains("[40, 32]"),
        "{err}"
    );
}

#[test]
fn a_classifier_with_another_label_count_is_a_shape_error() {
    let opts = ModelOptions {
        heads: Heads {
            classifier: Want::Always(5),
            ..Default::default()
        },
        ..Default::default()
    };
    let err = Model::load(&fixtures().join("tiny"), &opts)
        .unwrap_err()
        .to_string();
    assert!(err.contains("classifier.weight"), "{err}");
}

#[test]
fn heads_not_dividing_hidden_in_config_json_is_an_error_naming_the_file() {
    let root = tempfile::tempdir().unwrap();
    copy_tiny(root.path());
    let mut cfg = tiny_config();
    cfg.num_attention_heads = 5;
    std::fs::write(root.path().join("config.json"), cfg.to_json_string()).unwrap();
    let err = Model::load(root.path(), &ModelOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("config.json") && err.contains("num_attention_heads"),
        "{err}"
    );
}

#[test]
fn gradients_reach_every_parameter_in_training_mode_with_dropout() {
    let opts = ModelOptions {
        trainable: Trainable::All,
        heads: Heads {
            classifier: Want::Always(2),
            fit_dense: Want::Always((FitDenseKind::Shared, 64)),
            ..Default::default()
        },
        ..Default::default()
    };
    let model = Model::init(&tiny_config(), &opts).unwrap();
    let (ids, types, mask) = batch();
    let out = model.forward_t(&ids, &types, &mask, true).unwrap();
    let fit = model.fit_dense.as_ref().unwrap();
    let mut loss = model
        .logits(&out)
        .unwrap()
        .sqr()
        .unwrap()
        .sum_all()
        .unwrap();
    for (j, h) in out.hidden_states.iter().enumerate() {
        loss = (loss
            + fit
                .forward(j, h)
                .unwrap()
                .sqr()
                .unwrap()
                .mean_all()
                .unwrap())
        .unwrap();
    }
    for s in &out.attention_scores {
        loss = (loss + s.sqr().unwrap().mean_all().unwrap()).unwrap();
    }
    let grads = loss.backward().unwrap();
    for (name, var) in model.vars() {
        let g = grads
            .get(var.as_tensor())
            .unwrap_or_else(|| panic!("no gradient for {name}"));
        let norm = g
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(
            norm > 0.0 || name.contains("token_type") || name.contains("position"),
            "zero gradient for {name}"
        );
    }
}

#[test]
fn frozen_dense_weights_load_transposed_in_memory_and_embedding_tables_row_major() {
    let frozen = Model::load(&fixtures().join("tiny"), &ModelOptions::default()).unwrap();
    let trainable = Model::load(
        &fixtures().join("tiny"),
        &ModelOptions {
            trainable: Trainable::All,
            ..Default::default()
        },
    )
    .unwrap();
    let query = |m: &Model| m.bert.layers[0].attention.query.weight.clone();
    let (q, out) = (query(&frozen), query(&trainable).dims()[0]);
    assert_eq!(q.dims(), query(&trainable).dims(), "same [out, in] shape");
    assert_eq!(q.stride(), &[1, out], "frozen: stored as W^T");
    assert!(query(&trainable).is_contiguous(), "trainable: row-major");
    assert_eq!(
        q.to_vec2::<f32>().unwrap(),
        query(&trainable).to_vec2::<f32>().unwrap()
    );
    let table = frozen.bert.embeddings.word_embeddings.embeddings();
    assert!(table.is_contiguous(), "lookups need row-major tables");
}
