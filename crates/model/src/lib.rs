//! BERT teacher and TinyBERT student models (Jiao et al., 2020, §3 and SPEC §1) on candle, with
//! Hugging Face checkpoint I/O.
//!
//! Entry points: [`BertConfig`] (HF `config.json`, presets `bert-base`, `tinybert-4`,
//! `tinybert-6`), [`Model::load`] / [`Model::init`] / [`Model::save`] (HF folders, safetensors or
//! `pytorch_model.bin`, heads by [`Heads`]), [`BertModel::forward_t`] returning a [`BertOutput`]
//! with every hidden state and every layer's pre-softmax attention scores, the heads
//! ([`SequenceClassifier`], [`MlmHead`], [`FitDense`]), [`resolve_model`] (local folder or hub id)
//! and [`load_tokenizer`]. Frozen models may compute their products in bf16
//! ([`ModelOptions::compute`], [`Precision`]; `kernels::bf16`).

pub mod bert;
pub mod config;
pub mod error;
pub mod heads;
pub mod hub;
pub mod io;
pub mod kernels;
pub mod model;
pub mod nn;
pub mod store;
pub mod tokenizer;
pub mod weights;

pub use bert::{BertModel, BertOutput, MASK_VALUE};
pub use config::{BertConfig, ParamCounts, PRESETS};
pub use error::{Error, FileError, Result};
pub use heads::{FitDense, FitDenseKind, MlmHead, SequenceClassifier};
pub use hub::resolve_model;
pub use model::{Heads, Model, ModelOptions, Precision, Want};
pub use store::Trainable;
pub use store::{LoadReport, Param};
pub use tokenizer::{load_tokenizer, tokenizer_hash};
