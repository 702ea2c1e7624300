//! `TINYBERT_NO_BF16=1` forces the f32 fallback of a model asking for bf16. Its own test binary
//! (one process): the variable is set before any model is built.

mod common;

use candle_core::{Device, Tensor};
use common::*;
use tinybert_model::kernels::bf16;
use tinybert_model::{Heads, Model, ModelOptions, Precision, Want};

#[test]
fn no_bf16_in_the_environment_computes_a_bf16_request_in_f32_with_f32_results() {
    std::env::set_var(bf16::NO_BF16_ENV, "1");
    assert!(bf16::disabled_by_env() && !bf16::available());
    assert_eq!(Precision::Bf16.effective(&Device::Cpu), Precision::F32);
    let opts = ModelOptions {
        heads: Heads {
            classifier: Want::Always(3),
            mlm: Want::Always(()),
            ..Default::default()
        },
        ..Default::default()
    };
    let dir = fixtures().join("tiny");
    let f32_model = Model::load(&dir, &opts).unwrap();
    let asked = Model::load(
        &dir,
        &ModelOptions {
            compute: Precision::Bf16,
            ..opts
        },
    )
    .unwrap();
    assert_eq!(asked.compute, Precision::F32);
    assert!(!asked.bert.layers[0].attention.query.is_bf16());
    assert!(!asked.bert.pooler.is_bf16());
    let dev = Device::Cpu;
    let ids = Tensor::new(&[[2u32, 9, 17, 3, 0]], &dev).unwrap();
    let types = ids.zeros_like().unwrap();
    let mask = Tensor::new(&[[1u32, 1, 1, 1, 0]], &dev).unwrap();
    let a = f32_model.forward_t(&ids, &types, &mask, false).unwrap();
    let b = asked.forward_t(&ids, &types, &mask, false).unwrap();
    assert_eq!(rel_err(&b.sequence_output, &a.sequence_output), 0.0);
    assert_eq!(rel_err(&b.attention_scores[1], &a.attention_scores[1]), 0.0);
    assert_eq!(
        rel_err(&asked.logits(&b).unwrap(), &f32_model.logits(&a).unwrap()),
        0.0
    );
    // Packing asked for explicitly is refused the same way.
    let mut again = asked.clone();
    assert_eq!(again.pack_bf16().unwrap(), Precision::F32);
}
