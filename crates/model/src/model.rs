//! `Model`: the encoder plus whichever heads a stage needs, built from a HF folder or freshly
//! initialised, and saved back as a HF folder.

use crate::bert::{BertModel, BertOutput};
use crate::config::BertConfig;
use crate::error::{Error, Result};
use crate::heads::{FitDense, FitDenseKind, MlmHead, SequenceClassifier};
use crate::store::{LoadReport, Param, ParamBackend};
use crate::weights::{read_weights, write_safetensors, FIT_DENSE_FILE};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Whether a head is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Want<T> {
    /// Built when the checkpoint has it, with the checkpoint's shape.
    #[default]
    IfPresent,
    /// Always built: loaded when present (shapes must agree), else freshly initialised.
    Always(T),
    /// Not built even if the checkpoint has it (its tensors are reported as unused).
    Never,
}

/// Which heads to build.
#[derive(Debug, Clone, Copy, Default)]
pub struct Heads {
    /// Sequence classification with this many labels (1 = regression).
    pub classifier: Want<usize>,
    /// The masked-LM head.
    pub mlm: Want<()>,
    /// The student's projection to the teacher width: kind and teacher hidden size.
    pub fit_dense: Want<(FitDenseKind, usize)>,
}

/// Which parameters are trained.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Trainable {
    /// None: a frozen model builds no autograd graph.
    #[default]
    None,
    /// Every parameter.
    All,
    /// Parameters whose HF name starts with one of these prefixes (e.g. `cls.` to fit an MLM
    /// head on a frozen encoder).
    Prefixes(Vec<String>),
}

impl Trainable {
    /// Whether the parameter `name` is trained.
    pub fn includes(&self, name: &str) -> bool {
        match self {
            Trainable::None => false,
            Trainable::All => true,
            Trainable::Prefixes(p) => p.iter().any(|p| name.starts_with(p.as_str())),
        }
    }
}

/// How to build a model.
#[derive(Debug, Clone)]
pub struct ModelOptions {
    pub device: Device,
    pub dtype: DType,
    /// Which parameters become `Var`s (students); the rest are plain tensors (a frozen teacher).
    pub trainable: Trainable,
    /// Seed of fresh initialisations (deterministic).
    pub seed: u64,
    pub heads: Heads,
}

impl Default for ModelOptions {
    fn default() -> Self {
        Self {
            device: Device::Cpu,
            dtype: DType::F32,
            trainable: Trainable::None,
            seed: 42,
            heads: Heads::default(),
        }
    }
}

/// The encoder, its heads, and every parameter by HF name.
#[derive(Debug, Clone)]
pub struct Model {
    pub config: BertConfig,
    pub bert: BertModel,
    pub classifier: Option<SequenceClassifier>,
    pub mlm_head: Option<MlmHead>,
    pub fit_dense: Option<FitDense>,
    /// In construction order.
    pub params: Vec<Param>,
    /// What loading found (empty for a fresh model).
    pub report: LoadReport,
    /// The folder the model was loaded from.
    pub source: Option<PathBuf>,
}

impl Model {
    /// Loads the HF folder `dir` (`config.json` + weights).
    pub fn load(dir: &Path, opts: &ModelOptions) -> Result<Self> {
        let config = BertConfig::from_file(&dir.join("config.json"))?;
        let weights = read_weights(dir)?;
        let mut model = build(config, Some(weights.path.clone()), weights.tensors, opts)?;
        model.source = Some(dir.to_path_buf());
        for name in &model.report.unexpected {
            tracing::warn!("{}: unused tensor `{name}`", weights.path.display());
        }
        for name in &model.report.initialized {
            tracing::info!(
                "{}: `{name}` not in the checkpoint, freshly initialised",
                weights.path.display()
            );
        }
        Ok(model)
    }

    /// A freshly initialised model: N(0, initializer_range) weights, zero biases, LayerNorm 1/0.
    pub fn init(config: &BertConfig, opts: &ModelOptions) -> Result<Self> {
        config
            .validate()
            .map_err(|msg| Error::Invalid(format!("config: {msg}")))?;
        build(config.clone(), None, HashMap::new(), opts)
    }

    /// Runs the encoder (see [`BertModel::forward_t`]).
    pub fn forward_t(
        &self,
        input_ids: &Tensor,
        token_type_ids: &Tensor,
        attention_mask: &Tensor,
        train: bool,
    ) -> candle_core::Result<BertOutput> {
        self.bert
            .forward_t(input_ids, token_type_ids, attention_mask, train)
    }

    /// Classification logits [batch, num_labels] from an encoder output.
    pub fn logits(&self, out: &BertOutput) -> candle_core::Result<Tensor> {
        match &self.classifier {
            Some(c) => c.forward(&out.pooled_output),
            None => candle_core::bail!("this model has no classifier head"),
        }
    }

    /// The trainable variables with their names (empty for a frozen model).
    pub fn vars(&self) -> Vec<(&str, &candle_core::Var)> {
        self.params
            .iter()
            .filter_map(|p| p.var.as_ref().map(|v| (p.name.as_str(), v)))
            .collect()
    }

    /// Number of parameters of the model as deployed: encoder and task heads, without the
    /// training-only `fit_dense` projections of a distillation student.
    pub fn num_params(&self) -> usize {
        self.params
            .iter()
            .filter(|p| !p.name.starts_with("fit_dense"))
            .map(|p| p.tensor.elem_count())
            .sum()
    }

    /// Current parameter values by HF name, on the CPU in f32.
    pub fn named_tensors(&self) -> Result<HashMap<String, Tensor>> {
        self.params
            .iter()
            .map(|p| {
                let t = p.tensor.to_device(&Device::Cpu)?.to_dtype(DType::F32)?;
                Ok((p.name.clone(), t))
            })
            .collect()
    }

    /// The config to save: `fit_size`, labels count and `architectures` filled in.
    pub fn saved_config(&self) -> BertConfig {
        let mut cfg = self.config.clone();
        let arch = if let Some(c) = &self.classifier {
            let n = c.classifier.bias.dims1().unwrap_or(0);
            if cfg.labels().map(|l| l.len()) != Some(n) {
                let labels: Vec<String> = (0..n).map(|i| format!("LABEL_{i}")).collect();
                cfg.set_labels(&labels);
            }
            "BertForSequenceClassification"
        } else if self.mlm_head.is_some() {
            "BertForMaskedLM"
        } else {
            "BertModel"
        };
        cfg.extra
            .insert("architectures".into(), serde_json::json!([arch]));
        if let Some(fd) = &self.fit_dense {
            cfg.fit_size = fd.dense[0].weight.dims().first().copied();
        }
        cfg
    }

    /// Writes the model as a HF folder into `dir` (which must exist): `config.json`,
    /// `model.safetensors` (encoder and heads, HF names, no prefix), `fit_dense.safetensors`
    /// (student projections, if any) and the tokenizer files of `tokenizer_from` (default: the
    /// folder the model was loaded from). Each file is written to a temporary name and renamed.
    pub fn write_files(&self, dir: &Path, tokenizer_from: Option<&Path>) -> Result<()> {
        let mut main = HashMap::new();
        let mut fit = HashMap::new();
        for (name, t) in self.named_tensors()? {
            if name.starts_with("fit_dense") {
                fit.insert(name, t);
            } else {
                main.insert(name, t);
            }
        }
        write_safetensors(&main, &dir.join("model.safetensors"))?;
        let fit_path = dir.join(FIT_DENSE_FILE);
        if fit.is_empty() {
            if fit_path.exists() {
                std::fs::remove_file(&fit_path).map_err(|e| Error::io(&fit_path, e))?;
            }
        } else {
            write_safetensors(&fit, &fit_path)?;
        }
        crate::io::write_atomic(
            &dir.join("config.json"),
            self.saved_config().to_json_string().as_bytes(),
        )?;
        if let Some(src) = tokenizer_from.or(self.source.as_deref()) {
            copy_tokenizer_files(src, dir)?;
        }
        Ok(())
    }

    /// Saves the model as a complete HF folder at `dir`, replacing it atomically: the folder is
    /// written beside it under a temporary name and renamed into place.
    pub fn save(&self, dir: &Path, tokenizer_from: Option<&Path>) -> Result<()> {
        crate::io::replace_dir(dir, |tmp| self.write_files(tmp, tokenizer_from))
    }
}

/// The tokenizer files of a HF folder.
pub const TOKENIZER_FILES: &[&str] = &[
    "vocab.txt",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
];

/// Copies the tokenizer files present in `src` into `dst`.
pub fn copy_tokenizer_files(src: &Path, dst: &Path) -> Result<()> {
    if src == dst {
        return Ok(());
    }
    for f in TOKENIZER_FILES {
        let from = src.join(f);
        if from.exists() {
            std::fs::copy(&from, dst.join(f)).map_err(|e| Error::io(&from, e))?;
        }
    }
    Ok(())
}

fn has_prefix(tensors: &HashMap<String, Tensor>, prefix: &str) -> bool {
    tensors.keys().any(|k| k.starts_with(prefix))
}

fn build(
    mut config: BertConfig,
    source: Option<PathBuf>,
    tensors: HashMap<String, Tensor>,
    opts: &ModelOptions,
) -> Result<Model> {
    let present: Vec<String> = tensors.keys().cloned().collect();
    let classifier_labels = match opts.heads.classifier {
        Want::Always(n) => Some(n),
        Want::Never => None,
        Want::IfPresent => tensors.get("classifier.bias").and_then(|b| b.dims1().ok()),
    };
    let want_mlm = match opts.heads.mlm {
        Want::Always(()) => true,
        Want::Never => false,
        Want::IfPresent => has_prefix(&tensors, "cls.predictions."),
    };
    let fit = match opts.heads.fit_dense {
        Want::Never => None,
        want => {
            let stored = detect_fit_dense(&tensors);
            match (stored, want) {
                (Some(kind_size), _) => Some(kind_size),
                (None, Want::Always(ks)) => Some(ks),
                _ => None,
            }
        }
    };
    if let (Some((_, size)), true) = (fit, config.fit_size.is_none()) {
        config.fit_size = Some(size);
    }
    let (backend, state) =
        ParamBackend::new(source.clone(), tensors, opts.trainable.clone(), opts.seed);
    let vb = VarBuilder::from_backend(Box::new(backend), opts.dtype, opts.device.clone());
    let built = (|| -> candle_core::Result<_> {
        let bert = BertModel::load(vb.clone(), &config)?;
        let classifier = classifier_labels
            .map(|n| SequenceClassifier::load(vb.clone(), &config, n))
            .transpose()?;
        let mlm_head = if want_mlm {
            Some(MlmHead::load(
                vb.clone(),
                &config,
                bert.embeddings.word_embeddings.embeddings(),
            )?)
        } else {
            None
        };
        let fit_dense = fit
            .map(|(kind, size)| FitDense::load(vb.clone(), &config, kind, size))
            .transpose()?;
        Ok((bert, classifier, mlm_head, fit_dense))
    })();
    let mut st = state.lock().expect("param store poisoned");
    let (bert, classifier, mlm_head, fit_dense) = match built {
        Ok(parts) => parts,
        Err(e) => {
            return Err(match st.error.take() {
                Some(err) => err,
                None => match &source {
                    Some(path) => Error::Checkpoint {
                        path: path.clone(),
                        msg: e.to_string(),
                    },
                    None => Error::Candle(e),
                },
            })
        }
    };
    let used: std::collections::HashSet<&String> = st.used.iter().collect();
    // Tensors of heads the caller chose not to build are skipped on purpose, not unexpected.
    let skipped: Vec<&str> = [
        (opts.heads.classifier == Want::Never, "classifier."),
        (opts.heads.mlm == Want::Never, "cls.predictions."),
        (opts.heads.fit_dense == Want::Never, "fit_dense"),
    ]
    .into_iter()
    .filter_map(|(never, prefix)| never.then_some(prefix))
    .collect();
    let mut unexpected: Vec<String> = present
        .into_iter()
        .filter(|n| !used.contains(n) && !is_ignorable(n))
        .filter(|n| !skipped.iter().any(|p| n.starts_with(p)))
        .collect();
    unexpected.sort();
    let report = if source.is_some() {
        LoadReport {
            initialized: std::mem::take(&mut st.initialized),
            unexpected,
        }
    } else {
        LoadReport::default()
    };
    Ok(Model {
        config,
        bert,
        classifier,
        mlm_head,
        fit_dense,
        params: std::mem::take(&mut st.params),
        report,
        source,
    })
}

/// Buffers HF stores that are not parameters.
fn is_ignorable(name: &str) -> bool {
    name.ends_with("position_ids")
}

fn detect_fit_dense(tensors: &HashMap<String, Tensor>) -> Option<(FitDenseKind, usize)> {
    let size = |name: &str| tensors.get(name).and_then(|w| w.dims().first().copied());
    if let Some(s) = size("fit_denses.0.weight") {
        Some((FitDenseKind::PerLayer, s))
    } else if let Some(s) = size("fit_dense_embeddings.weight") {
        Some((FitDenseKind::SeparateEmbedding, s))
    } else {
        size("fit_dense.weight").map(|s| (FitDenseKind::Shared, s))
    }
}
