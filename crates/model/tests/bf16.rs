//! bf16 compute for frozen models: which layers use it, and its numerics against f32 on the
//! real MiniLM teacher and real sentences (SST-2 dev).

mod common;

use candle_core::{DType, Device, IndexOp, Tensor};
use common::*;
use std::path::PathBuf;
use tinybert_model::kernels::bf16;
use tinybert_model::{load_tokenizer, BertConfig, Heads, Model, ModelOptions, Precision};
use tinybert_model::{Trainable, Want};

/// `../shared` beside the checkout when it holds the MiniLM teacher and SST-2 dev (see
/// [`tinybert_testkit::shared`]).
fn shared() -> Option<PathBuf> {
    tinybert_testkit::shared("models/all-MiniLM-L6-v2/model.safetensors")?;
    tinybert_testkit::shared("data/glue/SST-2/dev.tsv")?;
    Some(tinybert_testkit::shared_root())
}

fn bf16_opts() -> ModelOptions {
    ModelOptions {
        compute: Precision::Bf16,
        ..Default::default()
    }
}

/// The max relative error max |a - b| / max |b| and the mean relative error
/// mean |a - b| / mean |b|, over the entries where `keep` is 1.
fn errors(a: &Tensor, b: &Tensor, keep: &Tensor) -> (f32, f32) {
    let keep = keep
        .broadcast_as(a.shape())
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap();
    let d = ((a - b).unwrap().abs().unwrap() * &keep).unwrap();
    let m = (b.abs().unwrap() * &keep).unwrap();
    let max = |t: &Tensor| t.max_all().unwrap().to_scalar::<f32>().unwrap();
    let sum = |t: &Tensor| t.sum_all().unwrap().to_scalar::<f32>().unwrap();
    (max(&d) / max(&m), sum(&d) / sum(&m))
}

fn tiny() -> PathBuf {
    fixtures().join("tiny")
}

fn tiny_batch() -> (Tensor, Tensor, Tensor) {
    let dev = Device::Cpu;
    let ids = Tensor::new(&[[2u32, 9, 17, 3, 0], [2, 40, 41, 42, 3]], &dev).unwrap();
    let types = Tensor::new(&[[0u32, 0, 0, 0, 0], [0, 0, 1, 1, 1]], &dev).unwrap();
    let mask = Tensor::new(&[[1u32, 1, 1, 1, 0], [1, 1, 1, 1, 1]], &dev).unwrap();
    (ids, types, mask)
}

#[test]
fn precision_parses_from_lower_case_names_in_strings_and_serde() {
    assert_eq!("bf16".parse::<Precision>().unwrap(), Precision::Bf16);
    assert_eq!("f32".parse::<Precision>().unwrap(), Precision::F32);
    let err = "fp16".parse::<Precision>().unwrap_err().to_string();
    assert!(err.contains("fp16") && err.contains("bf16"), "{err}");
    assert_eq!(serde_json::to_string(&Precision::Bf16).unwrap(), "\"bf16\"");
    let p: Precision = serde_json::from_str("\"f32\"").unwrap();
    assert_eq!(
        (p, Precision::default(), p.to_string()),
        (Precision::F32, Precision::F32, "f32".into())
    );
}

#[test]
fn a_frozen_bf16_model_packs_its_dense_layers_and_stays_close_to_f32() {
    let opts = ModelOptions {
        heads: Heads {
            classifier: Want::Always(3),
            mlm: Want::Always(()),
            ..Default::default()
        },
        ..Default::default()
    };
    let f32_model = Model::load(&tiny(), &opts).unwrap();
    let bf16_model = Model::load(
        &tiny(),
        &ModelOptions {
            compute: Precision::Bf16,
            ..opts
        },
    )
    .unwrap();
    assert_eq!(f32_model.compute, Precision::F32);
    if !bf16::available() {
        eprintln!("bf16 products unavailable here: checking the f32 fallback only");
        assert_eq!(bf16_model.compute, Precision::F32);
        return;
    }
    assert_eq!(bf16_model.compute, Precision::Bf16);
    let layer = &bf16_model.bert.layers[0];
    assert!(layer.attention.query.is_bf16() && layer.intermediate.is_bf16());
    assert!(bf16_model.bert.pooler.is_bf16());
    assert!(bf16_model.classifier.as_ref().unwrap().classifier.is_bf16());
    let (ids, types, mask) = tiny_batch();
    let a = f32_model.forward_t(&ids, &types, &mask, false).unwrap();
    let b = bf16_model.forward_t(&ids, &types, &mask, false).unwrap();
    let e = rel_err(&b.sequence_output, &a.sequence_output);
    assert!(e > 0.0 && e < 3e-2, "sequence output rel err {e}");
    let e = rel_err(&b.attention_scores[1], &a.attention_scores[1]);
    assert!(e > 0.0 && e < 3e-2, "scores rel err {e}");
    let (fa, fb) = (
        f32_model.logits(&a).unwrap(),
        bf16_model.logits(&b).unwrap(),
    );
    assert!(rel_err(&fb, &fa) < 5e-2);
    let h = a.sequence_output.i((.., 1)).unwrap();
    let mlm = |m: &Model| m.mlm_head.as_ref().unwrap().forward(&h).unwrap();
    let e = rel_err(&mlm(&bf16_model), &mlm(&f32_model));
    assert!(e > 0.0 && e < 3e-2, "MLM logits rel err {e}");
}

#[test]
fn trainable_parameters_stay_f32_in_a_bf16_model() {
    let all = Model::load(
        &tiny(),
        &ModelOptions {
            trainable: Trainable::All,
            compute: Precision::Bf16,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(all.compute, Precision::F32);
    assert!(!all.bert.layers[0].attention.query.is_bf16());
    let f32_model = Model::load(&tiny(), &ModelOptions::default()).unwrap();
    let (ids, types, mask) = tiny_batch();
    let a = f32_model.forward_t(&ids, &types, &mask, false).unwrap();
    let b = all.forward_t(&ids, &types, &mask, false).unwrap();
    assert_eq!(rel_err(&b.sequence_output, &a.sequence_output), 0.0);
    // Fitting the MLM head on a frozen encoder: the encoder computes in bf16, the head in f32
    // and it gets its gradients.
    let head = Model::load(
        &tiny(),
        &ModelOptions {
            trainable: Trainable::Prefixes(vec!["cls.".into()]),
            compute: Precision::Bf16,
            heads: Heads {
                mlm: Want::Always(()),
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .unwrap();
    let mlm = head.mlm_head.as_ref().unwrap();
    assert!(!mlm.dense.is_bf16());
    assert_eq!(head.bert.layers[1].output.is_bf16(), bf16::available());
    let out = head.forward_t(&ids, &types, &mask, false).unwrap();
    let at = out.sequence_output.i((.., 1)).unwrap();
    let loss = mlm.forward(&at).unwrap().sqr().unwrap().mean_all().unwrap();
    let grads = loss.backward().unwrap();
    for (name, var) in head.vars() {
        assert!(grads.get(var).is_some(), "{name} has no gradient");
    }
}

#[test]
fn hidden_states_at_rows_equal_the_full_forward_in_bf16() {
    let mut cfg = BertConfig::from_file(&tiny().join("config.json")).unwrap();
    cfg.hidden_size = 64;
    cfg.num_attention_heads = 2;
    cfg.intermediate_size = 100;
    let model = Model::init(&cfg, &bf16_opts()).unwrap();
    assert_eq!(model.compute == Precision::Bf16, bf16::available());
    let (b, len) = (3, 7);
    let ids: Vec<u32> = (0..b * len).map(|i| (5 + (i * 7) % 40) as u32).collect();
    let types: Vec<u32> = (0..b * len).map(|i| u32::from(i % len >= 4)).collect();
    let ids = Tensor::from_vec(ids, (b, len), &Device::Cpu).unwrap();
    let types = Tensor::from_vec(types, (b, len), &Device::Cpu).unwrap();
    let rows = Tensor::new(&[2u32, len as u32 + 5, 2 * len as u32], &Device::Cpu).unwrap();
    let fast = model.bert.hidden_at_rows(&ids, &types, &rows).unwrap();
    let mask = Tensor::ones((b, len), DType::U32, &Device::Cpu).unwrap();
    let full = model.forward_t(&ids, &types, &mask, false).unwrap();
    let want = full
        .sequence_output
        .reshape((b * len, cfg.hidden_size))
        .unwrap()
        .index_select(&rows, 0)
        .unwrap();
    let e = rel_err(&fast, &want);
    assert!(e < 1e-5, "rel err {e}");
}

/// The first `n` sentences of SST-2 dev, tokenised and padded: (ids, types, mask).
fn sst2_batch(
    shared: &std::path::Path,
    model: &std::path::Path,
    n: usize,
) -> (Tensor, Tensor, Tensor) {
    let text = std::fs::read_to_string(shared.join("data/glue/SST-2/dev.tsv")).unwrap();
    let sentences: Vec<&str> = text
        .lines()
        .skip(1)
        .take(n)
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    let tok = load_tokenizer(model).unwrap();
    let enc: Vec<Vec<u32>> = sentences
        .iter()
        .map(|s| tok.encode(*s, true).unwrap().get_ids().to_vec())
        .collect();
    let len = enc.iter().map(Vec::len).max().unwrap();
    let (mut ids, mut mask) = (Vec::new(), Vec::new());
    for e in &enc {
        ids.extend(
            e.iter()
                .copied()
                .chain(std::iter::repeat_n(0, len - e.len())),
        );
        mask.extend((0..len).map(|i| u32::from(i < e.len())));
    }
    let dev = Device::Cpu;
    let ids = Tensor::from_vec(ids, (n, len), &dev).unwrap();
    let mask = Tensor::from_vec(mask, (n, len), &dev).unwrap();
    (ids.clone(), ids.zeros_like().unwrap(), mask)
}

#[test]
fn minilm_in_bf16_agrees_with_f32_on_sst2_sentences() {
    let Some(shared) = shared() else { return };
    let dir = shared.join("models/all-MiniLM-L6-v2");
    let f32_model = Model::load(&dir, &ModelOptions::default()).unwrap();
    let bf16_model = Model::load(&dir, &bf16_opts()).unwrap();
    if !bf16::available() {
        eprintln!("SKIPPED: bf16 products unavailable here (the model computes in f32)");
        assert_eq!(bf16_model.compute, Precision::F32);
        return;
    }
    assert_eq!(bf16_model.compute, Precision::Bf16);
    let (ids, types, mask) = sst2_batch(&shared, &dir, 64);
    let (n, len) = ids.dims2().unwrap();
    let t0 = std::time::Instant::now();
    let a = f32_model.forward_t(&ids, &types, &mask, false).unwrap();
    let t1 = std::time::Instant::now();
    let b = bf16_model.forward_t(&ids, &types, &mask, false).unwrap();
    let t2 = std::time::Instant::now();
    eprintln!(
        "MiniLM-L6, {n} SST-2 dev sentences padded to {len}: f32 {:.2} s, bf16 {:.2} s",
        (t1 - t0).as_secs_f64(),
        (t2 - t1).as_secs_f64()
    );
    // Real tokens only: rows of real tokens, scores of real queries against real keys.
    let m = mask.to_dtype(DType::F32).unwrap();
    let rows = m.reshape((n, len, 1)).unwrap();
    let pairs = m
        .reshape((n, 1, len, 1))
        .unwrap()
        .broadcast_mul(&m.reshape((n, 1, 1, len)).unwrap())
        .unwrap();
    let mut worst = (0f32, 0f32);
    for (i, (hb, ha)) in b.hidden_states.iter().zip(&a.hidden_states).enumerate() {
        let (max, mean) = errors(hb, ha, &rows);
        eprintln!("hidden_states.{i}: max rel err {max:.2e}, mean rel err {mean:.2e}");
        worst = (worst.0.max(max), worst.1.max(mean));
    }
    let hidden = worst;
    worst = (0.0, 0.0);
    for (i, (sb, sa)) in b
        .attention_scores
        .iter()
        .zip(&a.attention_scores)
        .enumerate()
    {
        let (max, mean) = errors(sb, sa, &pairs);
        eprintln!(
            "attention_scores.{}: max rel err {max:.2e}, mean rel err {mean:.2e}",
            i + 1
        );
        worst = (worst.0.max(max), worst.1.max(mean));
    }
    let scores = worst;
    let pooled = errors(
        &b.pooled_output,
        &a.pooled_output,
        &Tensor::new(1f32, &Device::Cpu).unwrap(),
    );
    eprintln!(
        "pooled_output: max rel err {:.2e}, mean rel err {:.2e}",
        pooled.0, pooled.1
    );
    // Cosine similarity of the mean-pooled sentence embeddings (the model's intended use).
    let emb = |h: &Tensor| {
        let s = h.broadcast_mul(&rows).unwrap().sum(1).unwrap();
        s.broadcast_div(&rows.sum(1).unwrap()).unwrap()
    };
    let (ea, eb) = (emb(&a.sequence_output), emb(&b.sequence_output));
    let dot = (&ea * &eb).unwrap().sum(1).unwrap();
    let norms = (ea.sqr().unwrap().sum(1).unwrap() * eb.sqr().unwrap().sum(1).unwrap())
        .unwrap()
        .sqrt()
        .unwrap();
    let cos: Vec<f32> = (dot / norms).unwrap().to_vec1().unwrap();
    let min_cos = cos.iter().copied().fold(1.0, f32::min);
    eprintln!("mean-pooled sentence embeddings: min cosine similarity {min_cos:.6}");
    // Measured on this teacher and batch (AMD Zen 4): hidden states up to 5.4e-3 (max) and
    // 5.9e-3 (mean), scores up to 7.2e-3 and 5.1e-3, cosine >= 0.99998; the bounds leave ~2x.
    assert!(
        hidden.0 < 1.5e-2 && hidden.1 < 1.2e-2,
        "hidden states {hidden:?}"
    );
    assert!(
        scores.0 < 1.5e-2 && scores.1 < 1.2e-2,
        "attention scores {scores:?}"
    );
    assert!(
        pooled.0 < 1.5e-2 && pooled.1 < 1.2e-2,
        "pooled output {pooled:?}"
    );
    assert!(min_cos > 0.9999, "cosine {min_cos}");
}
