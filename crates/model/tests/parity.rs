//! Numeric parity with PyTorch `transformers` (fixtures made by
//! `scripts/fixtures/make_model_fixtures.py`).

mod common;

use candle_core::{DType, Tensor, D};
use common::*;
use tinybert_model::{load_tokenizer, FitDenseKind, Heads, Model, ModelOptions, Trainable, Want};

fn frozen() -> ModelOptions {
    ModelOptions::default()
}

#[test]
fn minilm_forward_matches_transformers_for_single_pair_padded_and_batched_inputs() {
    let Some(dir) = minilm_dir() else { return };
    let model = Model::load(&dir, &frozen()).unwrap();
    let tok = load_tokenizer(&dir).unwrap();
    for case in ["single", "pair", "padded", "batch"] {
        let exp = load(&fixtures().join(format!("minilm_{case}.safetensors")));
        if case == "single" {
            let enc = tok
                .encode("The quick brown fox jumps over the lazy dog.", true)
                .unwrap();
            let want: Vec<u32> = ids(&exp["input_ids"])
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            assert_eq!(
                enc.get_ids(),
                want.as_slice(),
                "tokenisation differs from BertTokenizerFast"
            );
        }
        let out = model
            .forward_t(
                &ids(&exp["input_ids"]),
                &ids(&exp["token_type_ids"]),
                &ids(&exp["attention_mask"]),
                false,
            )
            .unwrap();
        assert_eq!(out.hidden_states.len(), 7);
        assert_eq!(out.attention_scores.len(), 6);
        for (i, h) in out.hidden_states.iter().enumerate() {
            let e = rel_err(h, &exp[&format!("hidden_states.{i}")]);
            assert!(e <= 1e-4, "{case}: hidden_states.{i} rel err {e}");
        }
        for (i, s) in out.attention_scores.iter().enumerate() {
            let want = &exp[&format!("attention_scores.{}", i + 1)];
            let e = rel_err(s, want);
            assert!(e <= 1e-4, "{case}: attention_scores.{} rel err {e}", i + 1);
            // The unmasked entries alone, so the -10000 entries cannot hide an error.
            let keep = want.ge(-100f32).unwrap();
            let z = want.zeros_like().unwrap();
            let e = rel_err(
                &keep.where_cond(s, &z).unwrap(),
                &keep.where_cond(want, &z).unwrap(),
            );
            assert!(
                e <= 1e-4,
                "{case}: unmasked attention_scores.{} rel err {e}",
                i + 1
            );
        }
        let e = rel_err(&out.pooled_output, &exp["pooled_output"]);
        assert!(e <= 1e-4, "{case}: pooled_output rel err {e}");
    }
}

fn mean_prod(a: &Tensor, b: &Tensor) -> Tensor {
    (a * b).unwrap().mean_all().unwrap()
}

#[test]
fn tiny_model_loss_and_every_parameter_gradient_match_pytorch() {
    let exp = load(&fixtures().join("tiny_expected.safetensors"));
    let opts = ModelOptions {
        trainable: Trainable::All,
        heads: Heads {
            classifier: Want::Always(3),
            mlm: Want::Always(()),
            fit_dense: Want::Always((FitDenseKind::Shared, 48)),
        },
        ..Default::default()
    };
    let model = Model::load(&fixtures().join("tiny"), &opts).unwrap();
    assert!(
        model.report.initialized.is_empty(),
        "{:?}",
        model.report.initialized
    );
    assert!(
        model.report.unexpected.is_empty(),
        "{:?}",
        model.report.unexpected
    );
    let out = model
        .forward_t(
            &ids(&exp["input_ids"]),
            &ids(&exp["token_type_ids"]),
            &ids(&exp["attention_mask"]),
            false,
        )
        .unwrap();
    let fit = model.fit_dense.as_ref().unwrap();
    let mut loss = Tensor::zeros((), DType::F32, &candle_core::Device::Cpu).unwrap();
    for (j, h) in out.hidden_states.iter().enumerate() {
        loss = (loss + mean_prod(h, &exp[&format!("R.{j}")])).unwrap();
        let f = fit.forward(j, h).unwrap();
        loss = (loss + mean_prod(&f, &exp[&format!("F.{j}")])).unwrap();
    }
    for (i, s) in out.attention_scores.iter().enumerate() {
        let zeroed = s
            .le(-100f32)
            .unwrap()
            .where_cond(&s.zeros_like().unwrap(), s)
            .unwrap();
        loss = (loss + mean_prod(&zeroed, &exp[&format!("Q.{i}")])).unwrap();
    }
    loss = (loss + mean_prod(&out.pooled_output, &exp["P"])).unwrap();
    let logits = model.logits(&out).unwrap();
    let labels = ids(&exp["labels"]);
    loss = (loss + candle_nn::loss::cross_entropy(&logits, &labels).unwrap()).unwrap();
    let (b, s, h) = out.sequence_output.dims3().unwrap();
    let mlm = model.mlm_head.as_ref().unwrap();
    let mlm_logits = mlm
        .forward(&out.sequence_output.reshape((b * s, h)).unwrap())
        .unwrap()
        .reshape((b, s, ()))
        .unwrap();
    loss = (loss + mean_prod(&mlm_logits, &exp["M"])).unwrap();

    let want_loss: Vec<f32> = exp["loss"].to_vec1().unwrap();
    let got_loss = loss.to_scalar::<f32>().unwrap();
    assert!(
        (got_loss - want_loss[0]).abs() <= 1e-5 * want_loss[0].abs().max(1.0),
        "loss {got_loss} vs {}",
        want_loss[0]
    );

    let grads = loss.backward().unwrap();
    let vars = model.vars();
    assert_eq!(vars.len(), 48, "every parameter is a Var");
    for (name, var) in vars {
        let g = grads
            .get(var.as_tensor())
            .unwrap_or_else(|| panic!("no gradient for {name}"));
        let want = &exp[&format!("grad.{name}")];
        let e = rel_err(g, want);
        assert!(e <= 1e-4, "grad of {name}: rel err {e}");
    }
    let _ = D::Minus1;
}

#[test]
fn a_pytorch_bin_with_bert_prefix_and_gamma_beta_names_loads_like_the_safetensors() {
    let opts = ModelOptions::default();
    let a = Model::load(&fixtures().join("tiny"), &opts).unwrap();
    let b = Model::load(&fixtures().join("tiny_bin"), &opts).unwrap();
    assert!(b.report.unexpected.is_empty(), "{:?}", b.report.unexpected);
    assert!(b.classifier.is_some() && b.mlm_head.is_some() && b.fit_dense.is_some());
    let ta = a.named_tensors().unwrap();
    let tb = b.named_tensors().unwrap();
    assert_eq!(ta.len(), tb.len());
    for (name, t) in &ta {
        assert_eq!(rel_err(&tb[name], t), 0.0, "{name}");
    }
}
