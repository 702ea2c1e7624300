//! Pieces every trainer uses: loading the frozen teacher, checking data against models,
//! batching, summaries.

use super::engine::{Pass, RunResult};
use crate::error::{Error, Result};
use candle_core::Device;
use std::path::Path;
use tinybert_data::{collate, BatchTensors, DatasetMeta, Padding, Sequence};
use tinybert_model::nn::DropoutRng;
use tinybert_model::{load_tokenizer, tokenizer_hash, BertOutput, Model, Precision};
use tinybert_run::Summary;

/// Loads a frozen model (plain tensors: no autograd graph), with its classifier if `classifier`.
pub fn load_frozen(
    dir: &Path,
    classifier: bool,
    compute: Precision,
    device: &Device,
) -> Result<Model> {
    let model = Model::load_frozen(dir, classifier, compute, device)?;
    if classifier && model.classifier.is_none() {
        return Err(Error::Config(format!(
            "{}: the teacher has no classifier (`classifier.*`): fine-tune it on the task first",
            dir.display()
        )));
    }
    Ok(model)
}

/// The teacher's dropout generator when the teacher runs in training mode (`dropout`), for the
/// engine to reseed with the student's every step; none otherwise.
pub fn teacher_rngs(teacher: &Model, dropout: bool) -> Vec<&DropoutRng> {
    if dropout {
        vec![teacher.bert.dropout_rng()]
    } else {
        Vec::new()
    }
}

/// Refuses a dataset made with another tokenizer than the model folder's.
pub fn check_tokenizer(model_dir: &Path, meta: &DatasetMeta, data: &Path) -> Result<()> {
    let hash = tokenizer_hash(&load_tokenizer(model_dir)?)?;
    meta.require_tokenizer(&hash).map_err(|e| Error::File {
        path: data.to_path_buf(),
        msg: format!("{e} (the model is {})", model_dir.display()),
    })
}

/// The teacher and student must agree on vocabulary, and on heads when attention is distilled.
pub fn check_pair(teacher: &Model, student: &Model, attention: bool) -> Result<()> {
    let (t, s) = (&teacher.config, &student.config);
    if t.vocab_size != s.vocab_size {
        return Err(Error::Config(format!(
            "teacher vocab_size {} differs from the student's {}",
            t.vocab_size, s.vocab_size
        )));
    }
    if attention && t.num_attention_heads != s.num_attention_heads {
        return Err(Error::Config(format!(
            "the attention loss needs equal head counts: teacher num_attention_heads {}, student {} (set the student's heads to the teacher's, or the attention weight to 0)",
            t.num_attention_heads, s.num_attention_heads
        )));
    }
    Ok(())
}

/// Pads the items at `indices` into tensors on `device`.
pub fn batch<S: Sequence>(
    items: &[S],
    indices: &[usize],
    pad_id: u32,
    device: &Device,
) -> Result<BatchTensors> {
    let picked: Vec<&S> = indices
        .iter()
        .map(|&i| {
            items
                .get(i)
                .ok_or_else(|| Error::Config(format!("example index {i} out of range")))
        })
        .collect::<Result<_>>()?;
    Ok(collate(&picked, Padding::Longest, pad_id)?.to_tensors(device)?)
}

/// Pads the examples of a training pass into tensors on `device`, to the longest sequence of
/// the pass's whole batch: a pass's tensors (and so its dropout masks and its share of a
/// per-entry mean) are then the same whichever rank or micro-batch computes it.
pub fn pass_batch<S: Sequence>(
    items: &[S],
    pass: &Pass,
    pad_id: u32,
    device: &Device,
) -> Result<BatchTensors> {
    let item = |i: usize| {
        items
            .get(i)
            .ok_or_else(|| Error::Config(format!("example index {i} out of range")))
    };
    let mut longest = 0;
    for &i in pass.batch {
        longest = longest.max(item(i)?.input_ids().len());
    }
    let picked: Vec<&S> = pass
        .indices()
        .iter()
        .map(|&i| item(i))
        .collect::<Result<_>>()?;
    Ok(collate(&picked, Padding::Fixed(longest), pad_id)?.to_tensors(device)?)
}

/// The token count of each sequence of `data` ([`super::engine::Objective::lengths`]).
pub fn lengths<S: Sequence>(data: &[S]) -> Vec<usize> {
    data.iter().map(|s| s.input_ids().len()).collect()
}

/// Runs `model` on the padded batch `b`, with dropout when `train`.
pub fn forward(model: &Model, b: &BatchTensors, train: bool) -> Result<BertOutput> {
    Ok(model.forward_t(&b.input_ids, &b.token_type_ids, &b.attention_mask, train)?)
}

/// Writes the run's `summary.json` (the run crate's one writer; rank 0 only).
pub fn write_summary(dir: &Path, summary: &Summary) -> Result<()> {
    if crate::parallel::is_root() {
        summary.save(dir)?;
    }
    Ok(())
}

/// The fields every training run's summary has: the training numbers and the trained model's
/// size.
pub fn training_summary(
    stage: &str,
    model: &Model,
    result: &RunResult,
    examples: usize,
) -> Summary {
    let mut s = Summary::new(stage);
    s.params = Some(model.num_params() as u64);
    s.steps = Some(result.steps as u64);
    s.examples = Some(examples as u64);
    s.loss = result.last_loss.is_finite().then_some(result.last_loss);
    s.examples_per_s = Some(result.examples_per_s);
    if result.skipped_steps > 0 {
        s.insert("skipped_steps", result.skipped_steps);
    }
    if let Some((ms, bytes)) = result.allreduce {
        let world = crate::parallel::world();
        s.insert(
            "data_parallel",
            serde_json::json!({ "ranks": world.size(), "engine": world.describe(),
                "allreduce_ms_per_step": ms, "allreduce_bytes_per_step": bytes }),
        );
    }
    s
}
