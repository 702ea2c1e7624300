//! Fitting a masked-LM head on a frozen encoder (SPEC §10: the MiniLM teacher has none, and
//! augmentation needs one): 15% of the tokens masked (80% `[MASK]`, 10% random, 10% kept),
//! cross-entropy at the masked positions only, only `cls.predictions.*` trained (or the whole
//! model, to pre-train one from scratch).

use super::common::{batch, check_tokenizer, training_summary, write_summary};
use super::engine::{train, Loss, Objective, RunOptions, RunResult};
use crate::config::MlmHeadConfig;
use crate::error::{Error, Result};
use candle_core::{DType, Device, Tensor, D};
use rand::{Rng, SeedableRng};
use std::path::Path;
use tinybert_data::{Instance, InstanceShards};
use tinybert_model::{load_tokenizer, Heads, Model, ModelOptions, Trainable, Want};

/// Token ids of the special tokens that are never masked, and `[MASK]`.
struct Vocab {
    mask_id: u32,
    special: Vec<u32>,
    size: u32,
}

struct MlmObjective<'a> {
    model: &'a Model,
    data: &'a [Instance],
    pad_id: u32,
    vocab: Vocab,
    mask_prob: f64,
    seed: u64,
    /// Dropout on when the encoder is trained.
    train_encoder: bool,
    device: Device,
}

impl MlmObjective<'_> {
    /// Masks the batch (deterministic in seed, step and example index): returns the corrupted
    /// ids, the flat positions of the masked tokens and their original ids.
    fn mask(
        &self,
        ids: &[u32],
        seq: usize,
        step: usize,
        indices: &[usize],
    ) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
        let mut out = ids.to_vec();
        let (mut pos, mut gold) = (Vec::new(), Vec::new());
        for (row, &example) in indices.iter().enumerate() {
            let key = self.seed ^ ((step as u64) << 32) ^ example as u64;
            let mut rng = rand::rngs::StdRng::seed_from_u64(key);
            let cands: Vec<usize> = (0..seq)
                .map(|p| row * seq + p)
                .filter(|&i| ids[i] != self.pad_id && !self.vocab.special.contains(&ids[i]))
                .collect();
            let n = ((cands.len() as f64 * self.mask_prob).round() as usize)
                .clamp(1.min(cands.len()), cands.len());
            let mut chosen = rand::seq::index::sample(&mut rng, cands.len(), n).into_vec();
            chosen.sort_unstable();
            for c in chosen {
                let i = cands[c];
                pos.push(i as u32);
                gold.push(ids[i]);
                let r: f64 = rng.random();
                if r < 0.8 {
                    out[i] = self.vocab.mask_id;
                } else if r < 0.9 {
                    out[i] = rng.random_range(0..self.vocab.size);
                }
            }
        }
        (out, pos, gold)
    }
}

impl Objective for MlmObjective<'_> {
    fn loss(&mut self, indices: &[usize], step: usize) -> Result<Loss> {
        let b = batch(self.data, indices, self.pad_id, &self.device)?;
        let (n, seq) = b.input_ids.dims2()?;
        let ids: Vec<u32> = b.input_ids.flatten_all()?.to_vec1()?;
        let (masked, pos, gold) = self.mask(&ids, seq, step, indices);
        let input = Tensor::from_vec(masked, (n, seq), &self.device)?;
        let out = self.model.forward_t(
            &input,
            &b.token_type_ids,
            &b.attention_mask,
            self.train_encoder,
        )?;
        let hidden = out.sequence_output.reshape((n * seq, ()))?;
        let pos = Tensor::from_vec(pos, gold.len(), &self.device)?;
        let gold = Tensor::from_vec(gold, pos.dims1()?, &self.device)?;
        let head = self.model.mlm_head.as_ref().ok_or_else(|| {
            Error::Config("the model has no MLM head (load it with `mlm: Want::Always`)".into())
        })?;
        let logits = head.forward(&hidden.index_select(&pos, 0)?)?;
        let total = candle_nn::loss::cross_entropy(&logits, &gold)?;
        let acc = logits
            .argmax(D::Minus1)?
            .eq(&gold)?
            .to_dtype(DType::F32)?
            .mean_all()?;
        Ok(Loss {
            terms: vec![("mlm_loss", total.clone()), ("mlm_accuracy", acc)],
            total,
        })
    }
}

/// Fits `cls.predictions.*` on the frozen encoder of `teacher_dir` with the corpus instances in
/// `data`, and writes the teacher folder with the head added to `run.output`.
pub fn fit_mlm_head(
    teacher_dir: &Path,
    data: &Path,
    cfg: &MlmHeadConfig,
    device: &Device,
    run: &RunOptions,
) -> Result<RunResult> {
    let shards = InstanceShards::open(data)?;
    check_tokenizer(teacher_dir, &shards.meta, data)?;
    let opts = ModelOptions {
        device: device.clone(),
        trainable: if cfg.train_encoder {
            Trainable::All
        } else {
            Trainable::Prefixes(vec!["cls.".into()])
        },
        seed: cfg.train.seed,
        heads: Heads {
            classifier: Want::IfPresent,
            mlm: Want::Always(()),
            ..Heads::NONE
        },
        ..Default::default()
    };
    let model = Model::load(teacher_dir, &opts)?;
    let tok = load_tokenizer(teacher_dir)?;
    let id = |t: &str| {
        tok.token_to_id(t).ok_or_else(|| {
            Error::Config(format!("{}: vocabulary has no {t}", teacher_dir.display()))
        })
    };
    let vocab = Vocab {
        mask_id: id("[MASK]")?,
        special: vec![id("[CLS]")?, id("[SEP]")?],
        size: model.config.vocab_size as u32,
    };
    let instances = shards.read_all()?;
    let mut obj = MlmObjective {
        model: &model,
        data: &instances,
        pad_id: shards.meta.pad_id,
        vocab,
        mask_prob: cfg.mask_prob,
        seed: cfg.train.seed,
        train_encoder: cfg.train_encoder,
        device: device.clone(),
    };
    let echo = serde_json::json!({ "stage": "mlm-head", "teacher": teacher_dir, "data": data, "config": cfg });
    let result = train(
        &model,
        instances.len(),
        &cfg.train,
        &echo,
        &mut obj,
        None,
        &[],
        &run.tokenizer_defaulting_to(teacher_dir),
    )?;
    let mut summary = training_summary("mlm-head", &model, &result, instances.len());
    summary.insert("teacher", teacher_dir.display().to_string());
    write_summary(&run.output, &summary)?;
    Ok(result)
}
