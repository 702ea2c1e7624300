//! `tinybert model ...`: inspect a model folder, run one forward pass, create a fresh student.

use crate::GlobalArgs;
use anyhow::{Context, Result};
use candle_core::{DType, Device, Tensor};
use clap::{Args, Subcommand};
use std::collections::HashMap;
use std::path::PathBuf;
use tinybert_model::{
    load_tokenizer, resolve_model, BertConfig, FitDenseKind, Heads, Model, ModelOptions, Want,
};

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Print the config, parameter counts and FLOPs per token of a model.
    Inspect(InspectArgs),
    /// Tokenise a text (pair) and write every hidden state, attention score and the pooled output.
    Forward(ForwardArgs),
    /// Write a freshly initialised model (e.g. a student before general distillation).
    Init(InitArgs),
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Model folder (HF layout) or hub id.
    #[arg(long)]
    pub model: String,
    /// Sequence length for the FLOPs count.
    #[arg(long, default_value_t = 128)]
    pub seq: usize,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ForwardArgs {
    #[arg(long)]
    pub model: String,
    #[arg(long)]
    pub text: String,
    #[arg(long)]
    pub text_pair: Option<String>,
    /// Truncate (longest first) and pad to this length.
    #[arg(long)]
    pub max_seq_len: Option<usize>,
    /// Output `.safetensors` file.
    #[arg(long)]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Preset (`bert-base`, `tinybert-4`, `tinybert-6`) or a `config.json` path.
    #[arg(long)]
    pub config: String,
    /// Folder whose tokenizer files (vocab.txt, ...) are copied into the new model.
    #[arg(long)]
    pub tokenizer_from: Option<PathBuf>,
    /// Add a shared `fit_dense` projecting to this teacher hidden size.
    #[arg(long)]
    pub fit_size: Option<usize>,
    /// Add a classifier with this many labels.
    #[arg(long)]
    pub num_labels: Option<usize>,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[arg(long)]
    pub output: PathBuf,
}

pub fn run(cmd: ModelCommand, g: &GlobalArgs) -> Result<()> {
    match cmd {
        ModelCommand::Inspect(a) => inspect(a),
        ModelCommand::Forward(a) => forward(a, g),
        ModelCommand::Init(a) => init(a),
    }
}

/// Parameter counts of a loaded model, by group.
#[derive(Debug, serde::Serialize)]
pub struct Counts {
    pub total: usize,
    pub embedding: usize,
    pub encoder: usize,
    pub pooler: usize,
    pub heads: usize,
}

pub fn count_params(model: &Model) -> Counts {
    let mut c = Counts {
        total: 0,
        embedding: 0,
        encoder: 0,
        pooler: 0,
        heads: 0,
    };
    for p in &model.params {
        let n = p.tensor.elem_count();
        c.total += n;
        match p.name.split('.').next() {
            Some("embeddings") => c.embedding += n,
            Some("encoder") => c.encoder += n,
            Some("pooler") => c.pooler += n,
            _ => c.heads += n,
        }
    }
    c
}

fn inspect(a: InspectArgs) -> Result<()> {
    let dir = resolve_model(&a.model)?;
    let model = Model::load(&dir, &ModelOptions::default())?;
    let counts = count_params(&model);
    let flops = model.config.flops_per_token(a.seq);
    if a.json {
        let v = serde_json::json!({
            "model": dir,
            "config": model.config,
            "params": counts,
            "flops_per_token": flops,
            "seq": a.seq,
            "heads": {
                "classifier": model.classifier.is_some(),
                "mlm": model.mlm_head.is_some(),
                "fit_dense": model.fit_dense.as_ref().map(|f| f.kind),
            },
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let c = &model.config;
    println!("model        {}", dir.display());
    println!(
        "shape        {} layers, hidden {}, FFN {}, {} heads, vocab {}, max positions {}",
        c.num_hidden_layers,
        c.hidden_size,
        c.intermediate_size,
        c.num_attention_heads,
        c.vocab_size,
        c.max_position_embeddings
    );
    println!(
        "params       {:.2}M total = {:.2}M embedding + {:.2}M encoder + {:.2}M pooler + {:.2}M heads",
        m(counts.total),
        m(counts.embedding),
        m(counts.encoder),
        m(counts.pooler),
        m(counts.heads)
    );
    println!(
        "FLOPs/token  {:.1} MFLOP at seq {} ({:.2} GFLOP per example)",
        flops as f64 / 1e6,
        a.seq,
        flops as f64 * a.seq as f64 / 1e9
    );
    let heads: Vec<&str> = [
        model.classifier.as_ref().map(|_| "classifier"),
        model.mlm_head.as_ref().map(|_| "mlm"),
        model.fit_dense.as_ref().map(|_| "fit_dense"),
    ]
    .into_iter()
    .flatten()
    .collect();
    println!(
        "heads        {}",
        if heads.is_empty() {
            "none".into()
        } else {
            heads.join(", ")
        }
    );
    Ok(())
}

fn m(n: usize) -> f64 {
    n as f64 / 1e6
}

fn forward(a: ForwardArgs, g: &GlobalArgs) -> Result<()> {
    let device = crate::device::parse_device(&g.device)?;
    let dir = resolve_model(&a.model)?;
    let opts = ModelOptions {
        device: device.clone(),
        heads: Heads::NONE,
        ..Default::default()
    };
    let model = Model::load(&dir, &opts)?;
    let tok = load_tokenizer(&dir)?;
    // Truncation and padding as `BertTokenizerFast(truncation="longest_first",
    // padding="max_length")`: the data crate's encoder, checked against it on real GLUE files.
    let (ids, types, mask_v) = match a.max_seq_len {
        Some(n) => {
            let raw = tinybert_data::RawExample {
                guid: "0".into(),
                text_a: a.text.clone(),
                text_b: a.text_pair.clone(),
                label: tinybert_data::Label::None,
                line: 0,
            };
            let (ex, _) = tinybert_data::Encoder::new(&tok, n)?.encode(&raw)?;
            let pad_id = tok
                .token_to_id("[PAD]")
                .unwrap_or(model.config.pad_token_id);
            let real = ex.input_ids.len();
            let mut ids = ex.input_ids;
            ids.resize(n, pad_id);
            let mut types: Vec<u32> = ex.token_type_ids.iter().map(|&t| u32::from(t)).collect();
            types.resize(n, 0);
            let mask: Vec<u32> = (0..n).map(|i| u32::from(i < real)).collect();
            (ids, types, mask)
        }
        None => {
            let enc = match &a.text_pair {
                Some(p) => tok.encode((a.text.as_str(), p.as_str()), true),
                None => tok.encode(a.text.as_str(), true),
            }
            .map_err(|e| anyhow::anyhow!("tokenising --text: {e}"))?;
            (
                enc.get_ids().to_vec(),
                enc.get_type_ids().to_vec(),
                enc.get_attention_mask().to_vec(),
            )
        }
    };
    let seq = ids.len();
    anyhow::ensure!(
        seq <= model.config.max_position_embeddings,
        "{seq} tokens exceed max_position_embeddings {} (use --max-seq-len)",
        model.config.max_position_embeddings
    );
    let input_ids = Tensor::from_vec(ids, (1, seq), &device)?;
    let type_ids = Tensor::from_vec(types, (1, seq), &device)?;
    let mask = Tensor::from_vec(mask_v, (1, seq), &device)?;
    let out = model.forward_t(&input_ids, &type_ids, &mask, false)?;
    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    let as_i64 = |t: &Tensor| t.to_device(&Device::Cpu)?.to_dtype(DType::I64);
    tensors.insert("input_ids".into(), as_i64(&input_ids)?);
    tensors.insert("token_type_ids".into(), as_i64(&type_ids)?);
    tensors.insert("attention_mask".into(), as_i64(&mask)?);
    let cpu = |t: &Tensor| t.to_device(&Device::Cpu)?.to_dtype(DType::F32);
    for (i, h) in out.hidden_states.iter().enumerate() {
        tensors.insert(format!("hidden_states.{i}"), cpu(h)?);
    }
    for (i, s) in out.attention_scores.iter().enumerate() {
        tensors.insert(format!("attention_scores.{}", i + 1), cpu(s)?);
    }
    tensors.insert("pooled_output".into(), cpu(&out.pooled_output)?);
    if let Some(parent) = a.output.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| parent.display().to_string())?;
    }
    tinybert_model::weights::write_safetensors(&tensors, &a.output)?;
    tracing::info!(
        "{} tokens, {} hidden states, {} score tensors -> {}",
        seq,
        out.hidden_states.len(),
        out.attention_scores.len(),
        a.output.display()
    );
    Ok(())
}

fn init(a: InitArgs) -> Result<()> {
    let mut config = BertConfig::from_preset_or_file(&a.config)?;
    if let Some(dir) = &a.tokenizer_from {
        let tok = load_tokenizer(dir)?;
        config.vocab_size = tok.get_vocab_size(true);
    }
    let opts = ModelOptions {
        seed: a.seed,
        heads: Heads {
            classifier: a.num_labels.map_or(Want::Never, Want::Always),
            fit_dense: a
                .fit_size
                .map_or(Want::Never, |s| Want::Always((FitDenseKind::Shared, s))),
            ..Heads::NONE
        },
        ..Default::default()
    };
    let model = Model::init(&config, &opts)?;
    model.save(&a.output, a.tokenizer_from.as_deref())?;
    println!(
        "wrote {} ({:.2}M parameters)",
        a.output.display(),
        model.num_params() as f64 / 1e6
    );
    Ok(())
}
