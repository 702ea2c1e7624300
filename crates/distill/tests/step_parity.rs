//! One full training step (losses, backward, BertAdam) against the PyTorch fixture made by
//! `scripts/fixtures/make_distill_fixtures.py`: general distillation then prediction distillation.

use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;
use std::path::PathBuf;
use tinybert_distill::losses::{intermediate_loss, soft_cross_entropy};
use tinybert_distill::{BertAdam, BertAdamConfig, Compat, LayerMapping, LossWeights};
use tinybert_model::{Heads, Model, ModelOptions, Trainable, Want};
use tinybert_testkit::{assert_close, Tol};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Scalars (losses, learning rates): within 1e-5 relative, 1e-8 absolute near 0.
fn close(got: f32, want: f32, what: &str) {
    assert_close(
        what,
        &got,
        &want,
        Tol {
            abs: 1e-8,
            rel: 1e-5,
        },
    );
}

#[test]
fn general_then_prediction_distillation_steps_match_pytorch() {
    let exp: HashMap<String, Tensor> =
        candle_core::safetensors::load(fixtures().join("steps_expected.safetensors"), &Device::Cpu)
            .unwrap();
    let u32s = |k: &str| exp[k].to_dtype(DType::U32).unwrap();
    let (ids, types, mask) = (
        u32s("input_ids"),
        u32s("token_type_ids"),
        u32s("attention_mask"),
    );
    let teacher = Model::load(&fixtures().join("teacher"), &ModelOptions::default()).unwrap();
    let opts = ModelOptions {
        trainable: Trainable::All,
        heads: Heads {
            classifier: Want::Always(3),
            ..Default::default()
        },
        ..Default::default()
    };
    let student = Model::load(&fixtures().join("student"), &opts).unwrap();
    let fit = student
        .fit_dense
        .as_ref()
        .expect("fit_dense loaded from the checkpoint");
    let vars = || {
        student
            .vars()
            .into_iter()
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect::<Vec<_>>()
    };
    let mapping = LayerMapping::Uniform;
    let att_pairs = mapping.attention_pairs(4, 2).unwrap();
    let hid_pairs = mapping.hidden_pairs(4, 2).unwrap();
    let t_out = teacher.forward_t(&ids, &types, &mask, false).unwrap();

    let cfg = BertAdamConfig {
        lr: 1e-3,
        warmup: 0.25,
        ..Default::default()
    };
    let mut opt = BertAdam::new(vars(), cfg, 4).unwrap();
    for step in 0..3 {
        let s_out = student.forward_t(&ids, &types, &mask, false).unwrap();
        let l = intermediate_loss(
            &s_out,
            &t_out,
            fit,
            &att_pairs,
            &hid_pairs,
            &LossWeights::default(),
            None,
        )
        .unwrap();
        let want: Vec<f32> = exp[&format!("general.loss.{step}")].to_vec1().unwrap();
        close(
            l.total.to_scalar().unwrap(),
            want[0],
            &format!("general step {step} loss"),
        );
        close(
            l.att.to_scalar().unwrap(),
            want[1],
            &format!("general step {step} att_loss"),
        );
        close(
            l.rep.to_scalar().unwrap(),
            want[2],
            &format!("general step {step} rep_loss"),
        );
        let lr = opt.step(&l.total.backward().unwrap()).unwrap();
        close(lr as f32, want[3], &format!("general step {step} lr"));
    }
    for (name, t) in student.named_tensors().unwrap() {
        let what = format!("after general steps, {name}");
        assert_close(&what, &t, &exp[&format!("general.{name}")], Tol::rel(1e-5));
    }

    let cfg = BertAdamConfig {
        lr: 1e-3,
        warmup: 0.1,
        ..Default::default()
    };
    let mut opt = BertAdam::new(vars(), cfg, 2).unwrap();
    let t_logits = teacher.logits(&t_out).unwrap();
    for step in 0..2 {
        let s_out = student.forward_t(&ids, &types, &mask, false).unwrap();
        let loss = soft_cross_entropy(
            &student.logits(&s_out).unwrap(),
            &t_logits,
            1.0,
            Compat::Paper,
        )
        .unwrap();
        let want: Vec<f32> = exp[&format!("pred.loss.{step}")].to_vec1().unwrap();
        close(
            loss.to_scalar().unwrap(),
            want[0],
            &format!("pred step {step} loss"),
        );
        let lr = opt.step(&loss.backward().unwrap()).unwrap();
        close(lr as f32, want[1], &format!("pred step {step} lr"));
    }
    for (name, t) in student.named_tensors().unwrap() {
        let what = format!("after prediction steps, {name}");
        assert_close(&what, &t, &exp[&format!("pred.{name}")], Tol::rel(1e-5));
    }
}
