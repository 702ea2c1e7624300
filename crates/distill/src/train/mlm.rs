//! Fitting a masked-LM head on a frozen encoder (SPEC §10: the MiniLM teacher has none, and
//! augmentation needs one): 15% of the tokens masked (80% `[MASK]`, 10% random, 10% kept),
//! cross-entropy at the masked positions only, only `cls.predictions.*` trained (or the whole
//! model, to pre-train one from scratch).

use super::common::{batch, check_tokenizer, lengths, pass_batch, training_summary, write_summary};
use super::engine::{train, Loss, Objective, Pass, RunOptions, RunResult};
use crate::config::MlmHeadConfig;
use crate::error::{Error, Result};
use candle_core::{DType, Device, Tensor, D};
use rand::{Rng, SeedableRng};
use std::path::Path;
use tinybert_data::{BatchTensors, Instance, InstanceShards};
use tinybert_model::{load_tokenizer, Heads, Model, ModelOptions, Trainable, Want};
use tinybert_run::{DevEval, Scores};

/// Token ids of the special tokens that are never masked, and `[MASK]`.
#[derive(Clone)]
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
    /// Whether token `t` may be masked (not padding, `[CLS]` or `[SEP]`).
    fn is_maskable(&self, t: u32) -> bool {
        t != self.pad_id && !self.vocab.special.contains(&t)
    }

    /// How many of the tokens `ids` may be masked.
    fn maskable(&self, ids: &[u32]) -> usize {
        ids.iter().filter(|&&t| self.is_maskable(t)).count()
    }

    /// How many tokens of an example with `maskable` candidates are masked.
    fn n_masked(&self, maskable: usize) -> usize {
        ((maskable as f64 * self.mask_prob).round() as usize).clamp(1.min(maskable), maskable)
    }

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
                .filter(|&i| self.is_maskable(ids[i]))
                .collect();
            let n = self.n_masked(cands.len());
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

    /// The MLM logits at the masked positions of the examples at `indices` (padded as `b`,
    /// masks of `step`) and the original ids there: `([masked, vocab], [masked])`.
    fn masked_logits(
        &self,
        b: BatchTensors,
        indices: &[usize],
        step: usize,
        train: bool,
    ) -> Result<(Tensor, Tensor)> {
        let (n, seq) = b.input_ids.dims2()?;
        let ids: Vec<u32> = b.input_ids.flatten_all()?.to_vec1()?;
        let (masked, pos, gold) = self.mask(&ids, seq, step, indices);
        let input = Tensor::from_vec(masked, (n, seq), &self.device)?;
        let out = self
            .model
            .forward_t(&input, &b.token_type_ids, &b.attention_mask, train)?;
        let hidden = out.sequence_output.reshape((n * seq, ()))?;
        let pos = Tensor::from_vec(pos, gold.len(), &self.device)?;
        let gold = Tensor::from_vec(gold, pos.dims1()?, &self.device)?;
        let head = self.model.mlm_head.as_ref().ok_or_else(|| {
            Error::Config("the model has no MLM head (load it with `mlm: Want::Always`)".into())
        })?;
        Ok((head.forward(&hidden.index_select(&pos, 0)?)?, gold))
    }
}

/// Correct predictions among the masked positions, as an f32 scalar tensor.
fn correct(logits: &Tensor, gold: &Tensor) -> Result<Tensor> {
    Ok(logits
        .argmax(D::Minus1)?
        .eq(gold)?
        .to_dtype(DType::F32)?
        .sum_all()?)
}

impl Objective for MlmObjective<'_> {
    /// Means over the masked tokens, weighted by the pass's share of the batch's masked tokens.
    fn loss(&mut self, pass: &Pass) -> Result<Loss> {
        let b = pass_batch(self.data, pass, self.pad_id, &self.device)?;
        let indices = pass.indices();
        let (logits, gold) = self.masked_logits(b, indices, pass.step, self.train_encoder)?;
        let masked = |ix: &[usize]| -> f64 {
            ix.iter()
                .map(|&i| self.n_masked(self.maskable(&self.data[i].input_ids)) as f64)
                .sum()
        };
        let share = masked(indices) / masked(pass.batch).max(1.0);
        let total = (candle_nn::loss::cross_entropy(&logits, &gold)? * share)?;
        let acc = (correct(&logits, &gold)? * (share / gold.dims1()?.max(1) as f64))?;
        Ok(Loss {
            terms: vec![total.clone(), acc],
            total,
        })
    }

    fn terms(&self) -> &'static [&'static str] {
        &["mlm_loss", "mlm_accuracy"]
    }

    fn lengths(&self) -> Vec<usize> {
        lengths(self.data)
    }
}

/// Masked-token accuracy on instances held out from the fit: the dev score of an MLM head.
/// The masks are the same at every evaluation (drawn for step 0), dropout is off.
struct MlmDev<'a> {
    held_out: MlmObjective<'a>,
    batch_size: usize,
}

impl MlmDev<'_> {
    fn accuracy(&self) -> Result<f64> {
        let n = self.held_out.data.len();
        let (mut right, mut total) = (0.0, 0usize);
        for start in (0..n).step_by(self.batch_size.max(1)) {
            let indices: Vec<usize> = (start..(start + self.batch_size).min(n)).collect();
            let h = &self.held_out;
            let b = batch(h.data, &indices, h.pad_id, &h.device)?;
            let (logits, gold) = h.masked_logits(b, &indices, 0, false)?;
            right += correct(&logits, &gold)?.to_scalar::<f32>()? as f64;
            total += gold.dims1()?;
        }
        Ok(right / total.max(1) as f64)
    }
}

impl DevEval for MlmDev<'_> {
    fn task(&self) -> &str {
        "masked-LM"
    }

    fn describe(&self) -> String {
        format!(
            "masked-token accuracy on {} held-out instances",
            self.held_out.data.len()
        )
    }

    fn examples(&self) -> usize {
        self.held_out.data.len()
    }

    fn evaluate(&mut self, _model: &Model) -> tinybert_run::Result<Scores> {
        let accuracy = self
            .accuracy()
            .map_err(|e| tinybert_run::Error::Evaluation(Box::new(e)))?;
        Ok(Scores {
            accuracy: Some(accuracy),
            score: accuracy,
            ..Scores::empty()
        })
    }

    /// Nothing to beat: no guardrail applies to an MLM head.
    fn baseline(&self) -> tinybert_run::Result<Scores> {
        Ok(Scores::empty())
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
    let mut instances = shards.read_all()?;
    if cfg.dev_instances >= instances.len() {
        return Err(Error::Config(format!(
            "{}: dev_instances {} leaves nothing to fit on ({} instances)",
            data.display(),
            cfg.dev_instances,
            instances.len()
        )));
    }
    let held_out = instances.split_off(instances.len() - cfg.dev_instances);
    let objective = |data| MlmObjective {
        model: &model,
        data,
        pad_id: shards.meta.pad_id,
        vocab: vocab.clone(),
        mask_prob: cfg.mask_prob,
        seed: cfg.train.seed,
        train_encoder: cfg.train_encoder,
        device: device.clone(),
    };
    let mut obj = objective(&instances);
    let mut dev = (!held_out.is_empty()).then(|| MlmDev {
        held_out: objective(&held_out),
        batch_size: cfg.train.batch_size,
    });
    let echo = serde_json::json!({ "stage": "mlm-head", "teacher": teacher_dir, "data": data, "config": cfg });
    let result = train(
        &model,
        instances.len(),
        &cfg.train,
        &echo,
        &mut obj,
        dev.as_mut().map(|d| d as &mut dyn DevEval),
        &[],
        &run.tokenizer_defaulting_to(teacher_dir),
    )?;
    let mut summary = training_summary("mlm-head", &model, &result, instances.len());
    summary.insert("teacher", teacher_dir.display().to_string());
    if let Some((scores, step)) = &result.best {
        // Masked-token accuracy on the held-out instances, at the kept checkpoint.
        summary.set_dev(scores.clone());
        summary.step = Some(*step as u64);
    }
    write_summary(&run.output, &summary)?;
    Ok(result)
}
