//! `BertConfig`: the Hugging Face `config.json` of a BERT model, with the student presets of the
//! paper (SPEC §1).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

fn default_layer_norm_eps() -> f64 {
    1e-12
}
fn default_hidden_act() -> String {
    "gelu".into()
}
fn default_dropout() -> f64 {
    0.1
}
fn default_type_vocab_size() -> usize {
    2
}
fn default_max_position_embeddings() -> usize {
    512
}
fn default_initializer_range() -> f64 {
    0.02
}
fn default_model_type() -> String {
    "bert".into()
}

/// A BERT configuration; field names are the keys of Hugging Face `config.json`. Keys this
/// struct does not know (`id2label`, `architectures`, ...) are kept in `extra` and written back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    #[serde(default = "default_hidden_act")]
    pub hidden_act: String,
    #[serde(default = "default_dropout")]
    pub hidden_dropout_prob: f64,
    #[serde(default = "default_dropout")]
    pub attention_probs_dropout_prob: f64,
    #[serde(default = "default_max_position_embeddings")]
    pub max_position_embeddings: usize,
    #[serde(default = "default_type_vocab_size")]
    pub type_vocab_size: usize,
    #[serde(default = "default_initializer_range")]
    pub initializer_range: f64,
    #[serde(default = "default_layer_norm_eps")]
    pub layer_norm_eps: f64,
    #[serde(default)]
    pub pad_token_id: u32,
    #[serde(default = "default_model_type")]
    pub model_type: String,
    /// TinyBERT students: the teacher hidden size that `fit_dense` projects to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fit_size: Option<usize>,
    /// Every other key of `config.json`, preserved on save.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// The named architectures of the paper (SPEC §1, §8).
pub const PRESETS: &[&str] = &["bert-base", "tinybert-4", "tinybert-6"];

impl BertConfig {
    fn shape(layers: usize, hidden: usize, ffn: usize, heads: usize) -> Self {
        Self {
            vocab_size: 30522,
            hidden_size: hidden,
            num_hidden_layers: layers,
            num_attention_heads: heads,
            intermediate_size: ffn,
            hidden_act: default_hidden_act(),
            hidden_dropout_prob: 0.1,
            attention_probs_dropout_prob: 0.1,
            max_position_embeddings: 512,
            type_vocab_size: 2,
            initializer_range: 0.02,
            layer_norm_eps: 1e-12,
            pad_token_id: 0,
            model_type: default_model_type(),
            fit_size: None,
            extra: Default::default(),
        }
    }

    /// BERT-base: 12 layers, hidden 768, FFN 3072, 12 heads (109M parameters).
    pub fn bert_base() -> Self {
        Self::shape(12, 768, 3072, 12)
    }

    /// TinyBERT-4: 4 layers, hidden 312, FFN 1200, 12 heads (14.5M parameters).
    pub fn tinybert_4() -> Self {
        Self::shape(4, 312, 1200, 12)
    }

    /// TinyBERT-6: 6 layers, hidden 768, FFN 3072, 12 heads (67M parameters).
    pub fn tinybert_6() -> Self {
        Self::shape(6, 768, 3072, 12)
    }

    /// Any student shape; vocabulary and positions default to bert-base-uncased's.
    pub fn student(layers: usize, hidden: usize, ffn: usize, heads: usize) -> Self {
        Self::shape(layers, hidden, ffn, heads)
    }

    /// A preset by name (`bert-base`, `tinybert-4`, `tinybert-6`; case-insensitive).
    pub fn preset(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().replace('_', "-").as_str() {
            "bert-base" => Some(Self::bert_base()),
            "tinybert-4" => Some(Self::tinybert_4()),
            "tinybert-6" => Some(Self::tinybert_6()),
            _ => None,
        }
    }

    /// Reads and validates `config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let cfg: Self = serde_json::from_str(&text).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            source,
        })?;
        cfg.validate().map_err(|msg| Error::Config {
            path: path.to_path_buf(),
            msg,
        })?;
        Ok(cfg)
    }

    /// A preset name or a path to a `config.json` (or a folder holding one).
    pub fn from_preset_or_file(spec: &str) -> Result<Self> {
        if let Some(cfg) = Self::preset(spec) {
            return Ok(cfg);
        }
        let path = Path::new(spec);
        let file = if path.is_dir() {
            path.join("config.json")
        } else {
            path.to_path_buf()
        };
        if !file.exists() {
            return Err(Error::Invalid(format!(
                "`{spec}` is neither a preset ({}) nor an existing config.json",
                PRESETS.join(", ")
            )));
        }
        Self::from_file(&file)
    }

    /// Writes `config.json` (pretty, stable key order of the struct then `extra`).
    pub fn to_json_string(&self) -> String {
        serde_json::to_string_pretty(self).expect("a BertConfig always serialises")
    }

    /// Checks the shape constraints; the message names the offending key.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let positive = [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("intermediate_size", self.intermediate_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("type_vocab_size", self.type_vocab_size),
        ];
        for (key, v) in positive {
            if v == 0 {
                return Err(format!("`{key}` must be positive"));
            }
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(format!(
                "`hidden_size` {} is not divisible by `num_attention_heads` {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if !matches!(self.hidden_act.as_str(), "gelu" | "gelu_new" | "relu") {
            return Err(format!(
                "`hidden_act` `{}` is not supported (gelu, gelu_new, relu)",
                self.hidden_act
            ));
        }
        for (key, p) in [
            ("hidden_dropout_prob", self.hidden_dropout_prob),
            (
                "attention_probs_dropout_prob",
                self.attention_probs_dropout_prob,
            ),
        ] {
            if !(0.0..1.0).contains(&p) {
                return Err(format!("`{key}` must be in [0, 1), got {p}"));
            }
        }
        if self.pad_token_id as usize >= self.vocab_size {
            return Err(format!(
                "`pad_token_id` {} is outside the vocabulary ({})",
                self.pad_token_id, self.vocab_size
            ));
        }
        Ok(())
    }

    /// Size of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// The label names recorded in `id2label`, in id order, if any.
    pub fn labels(&self) -> Option<Vec<String>> {
        let map = self.extra.get("id2label")?.as_object()?;
        let mut pairs: Vec<(usize, String)> = map
            .iter()
            .filter_map(|(k, v)| Some((k.parse().ok()?, v.as_str()?.to_string())))
            .collect();
        pairs.sort();
        Some(pairs.into_iter().map(|(_, v)| v).collect())
    }

    /// Records the label names as `id2label`/`label2id` (HF convention).
    pub fn set_labels(&mut self, labels: &[String]) {
        let id2label: serde_json::Map<_, _> = labels
            .iter()
            .enumerate()
            .map(|(i, l)| (i.to_string(), serde_json::Value::from(l.clone())))
            .collect();
        let label2id: serde_json::Map<_, _> = labels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.clone(), serde_json::Value::from(i)))
            .collect();
        self.extra.insert("id2label".into(), id2label.into());
        self.extra.insert("label2id".into(), label2id.into());
    }

    /// Parameter counts of the encoder described by this config (no task heads, no fit_dense).
    pub fn param_counts(&self) -> ParamCounts {
        let h = self.hidden_size;
        let i = self.intermediate_size;
        let embedding =
            (self.vocab_size + self.max_position_embeddings + self.type_vocab_size) * h + 2 * h;
        let per_layer = 4 * (h * h + h) + 2 * h + (h * i + i) + (i * h + h) + 2 * h;
        let encoder = per_layer * self.num_hidden_layers;
        let pooler = h * h + h;
        ParamCounts {
            total: embedding + encoder + pooler,
            embedding,
            encoder,
            pooler,
        }
    }

    /// Forward FLOPs per token (multiply-add = 2 FLOPs) of the encoder at sequence length `seq`:
    /// the dense layers plus the attention score and context products.
    pub fn flops_per_token(&self, seq: usize) -> u64 {
        let h = self.hidden_size as u64;
        let i = self.intermediate_size as u64;
        let s = seq as u64;
        let per_layer = 2 * (4 * h * h + 2 * h * i) + 2 * 2 * s * h;
        per_layer * self.num_hidden_layers as u64
    }
}

/// Parameter counts, as in the paper's "Params" column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ParamCounts {
    pub total: usize,
    pub embedding: usize,
    pub encoder: usize,
    pub pooler: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_layer_norm_eps_and_pad_token_id_take_bert_defaults() {
        let cfg: BertConfig = serde_json::from_str(
            r#"{"vocab_size":100,"hidden_size":32,"num_hidden_layers":2,"num_attention_heads":4,"intermediate_size":64}"#,
        )
        .unwrap();
        assert_eq!(cfg.layer_norm_eps, 1e-12);
        assert_eq!(cfg.pad_token_id, 0);
        assert_eq!(cfg.hidden_act, "gelu");
    }

    #[test]
    fn unknown_keys_survive_a_round_trip() {
        let text = r#"{"vocab_size":100,"hidden_size":32,"num_hidden_layers":2,"num_attention_heads":4,"intermediate_size":64,"architectures":["BertModel"],"id2label":{"0":"neg","1":"pos"}}"#;
        let cfg: BertConfig = serde_json::from_str(text).unwrap();
        let back: serde_json::Value = serde_json::from_str(&cfg.to_json_string()).unwrap();
        assert_eq!(back["architectures"][0], "BertModel");
        assert_eq!(cfg.labels().unwrap(), vec!["neg", "pos"]);
    }

    #[test]
    fn presets_have_the_papers_parameter_counts() {
        let m = |c: BertConfig| c.param_counts().total as f64 / 1e6;
        assert!((m(BertConfig::bert_base()) - 109.5).abs() < 0.5);
        assert!((m(BertConfig::tinybert_4()) - 14.35).abs() < 0.3);
        assert!((m(BertConfig::tinybert_6()) - 67.0).abs() < 0.5);
    }

    #[test]
    fn heads_not_dividing_hidden_is_rejected_naming_the_keys() {
        let mut cfg = BertConfig::tinybert_4();
        cfg.num_attention_heads = 7;
        let err = cfg.validate().unwrap_err();
        assert!(
            err.contains("hidden_size") && err.contains("num_attention_heads"),
            "{err}"
        );
    }
}
