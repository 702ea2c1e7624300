//! `Model`: the encoder plus whichever heads a stage needs, built from a HF folder or freshly
//! initialised, and saved back as a HF folder.

use crate::bert::{BertModel, BertOutput};
use crate::config::BertConfig;
use crate::error::{Error, Result};
use crate::heads::{FitDense, FitDenseKind, MlmHead, SequenceClassifier};
use crate::store::{LoadReport, Param, ParamBackend, Trainable};
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

impl Heads {
    /// No head at all (the encoder alone); name the wanted ones with `..Heads::NONE`.
    pub const NONE: Heads = Heads {
        classifier: Want::Never,
        mlm: Want::Never,
        fit_dense: Want::Never,
    };
}

/// The precision of a frozen model's matrix products. Parameters are f32 tensors either way;
/// `Bf16` additionally packs every frozen dense weight for bf16 products with f32 accumulation
/// (AVX-512 BF16 CPUs; inference only). Trainable parameters always compute in f32.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// f32 products (the default).
    #[default]
    F32,
    /// bf16 inputs, f32 accumulation and outputs, for frozen dense layers and their attention
    /// products; f32 where the CPU lacks AVX-512 BF16, on other devices, or with
    /// `TINYBERT_NO_BF16=1` (see [`Precision::effective`]).
    Bf16,
}

impl Precision {
    /// The names `FromStr` accepts.
    pub const NAMES: [&'static str; 2] = ["f32", "bf16"];

    /// The lower-case name (`f32`, `bf16`).
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
        }
    }

    /// The precision a model asking for `self` computes in on `device`: `Bf16` only on a CPU
    /// with AVX-512 BF16 and without `TINYBERT_NO_BF16` set, else `F32`. The first time each
    /// outcome of a bf16 request is met, one line says which (`tracing::info!`).
    pub fn effective(self, device: &Device) -> Precision {
        if self == Precision::F32 {
            return Precision::F32;
        }
        use crate::kernels::bf16;
        let (effective, line) = if !device.is_cpu() {
            (
                Precision::F32,
                "bf16 requested but bf16 products run on the CPU only: computing in f32",
            )
        } else if !bf16::cpu_supported() {
            (
                Precision::F32,
                "bf16 requested but this CPU has no AVX-512 BF16: computing in f32",
            )
        } else if bf16::disabled_by_env() {
            (
                Precision::F32,
                "bf16 requested but TINYBERT_NO_BF16 is set: computing in f32",
            )
        } else {
            (Precision::Bf16, "bf16 products: AVX-512 BF16")
        };
        static SAID: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
        let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
        if !said.contains(&line) {
            said.push(line);
            tracing::info!("{line}");
        }
        effective
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Precision {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "f32" => Ok(Precision::F32),
            "bf16" => Ok(Precision::Bf16),
            other => Err(Error::Invalid(format!(
                "unknown precision `{other}` (expected one of: {})",
                Precision::NAMES.join(", ")
            ))),
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
    /// The precision of the frozen layers' products (default f32; see [`Precision`]).
    pub compute: Precision,
}

impl Default for ModelOptions {
    fn default() -> Self {
        Self {
            device: Device::Cpu,
            dtype: DType::F32,
            trainable: Trainable::None,
            seed: 42,
            heads: Heads::default(),
            compute: Precision::F32,
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
    /// The precision the frozen layers compute in ([`Precision::effective`] of the requested
    /// one): `Bf16` when at least one frozen dense layer was packed for the bf16 products.
    pub compute: Precision,
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

    /// Loads the model folder `dir` frozen (plain tensors: no autograd graph) on `device`,
    /// computing in `compute`, with its classifier when `classifier` and it has one, and no
    /// other head.
    pub fn load_frozen(
        dir: &Path,
        classifier: bool,
        compute: Precision,
        device: &Device,
    ) -> Result<Self> {
        let opts = ModelOptions {
            device: device.clone(),
            compute,
            heads: Heads {
                classifier: if classifier {
                    Want::IfPresent
                } else {
                    Want::Never
                },
                ..Heads::NONE
            },
            ..ModelOptions::default()
        };
        Self::load(dir, &opts)
    }

    /// A freshly initialised model: N(0, initializer_range) weights, zero biases, LayerNorm 1/0.
    pub fn init(config: &BertConfig, opts: &ModelOptions) -> Result<Self> {
        config
            .validate()
            .map_err(|msg| Error::Invalid(format!("config: {msg}")))?;
        build(config.clone(), None, HashMap::new(), opts)
    }

    /// Packs every frozen dense layer (encoder, pooler, heads; not `Var`s) for the bf16
    /// products; returns the precision the model now computes in (`Bf16` when any was packed).
    /// Trainable layers keep computing in f32.
    pub fn pack_bf16(&mut self) -> Result<Precision> {
        let mut packed = self.bert.pack_bf16()?;
        if let Some(c) = &mut self.classifier {
            packed += c.pack_bf16()?;
        }
        if let Some(h) = &mut self.mlm_head {
            packed += h.pack_bf16()?;
        }
        self.compute = if packed > 0 {
            Precision::Bf16
        } else {
            Precision::F32
        };
        Ok(self.compute)
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
    let mut model = Model {
        config,
        bert,
        classifier,
        mlm_head,
        fit_dense,
        params: std::mem::take(&mut st.params),
        report,
        source,
        compute: Precision::F32,
    };
    if opts.compute.effective(&opts.device) == Precision::Bf16 {
        model.pack_bf16()?;
    }
    Ok(model)
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
