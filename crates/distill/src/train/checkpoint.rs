//! Resumable checkpoints: `<output>/checkpoint/` holds the student as a HF folder,
//! `optimizer.safetensors` and `trainer_state.json`; it is replaced atomically, and only ever
//! with finite weights ([`first_non_finite`] is checked before every save).

use crate::error::{Error, Result};
use crate::optim::{all_finite, BertAdam};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tinybert_model::Model;

pub const CHECKPOINT_DIR: &str = "checkpoint";
pub const STATE_FILE: &str = "trainer_state.json";
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";

/// Where the loop stands; with the seed this determines the data order and dropout masks of
/// every later step, so a resumed run continues exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// Optimizer steps done (skipped non-finite steps included).
    pub step: usize,
    /// 0-based epoch in progress.
    pub epoch: usize,
    /// Examples of this epoch's order already consumed.
    pub position: usize,
    /// Steps of the whole run (the learning-rate schedule's length).
    pub t_total: usize,
    /// Best dev score so far and its step.
    pub best: Option<(f64, usize)>,
    /// Steps skipped as non-finite (`nonfinite = "skip"`), in all and in a row up to now.
    #[serde(default)]
    pub skipped_steps: usize,
    #[serde(default)]
    pub skipped_in_a_row: usize,
    /// The run's `train_config.json` echo, to check what a resumed run changes.
    pub config: serde_json::Value,
}

/// The checkpoint folder of a run folder (or the folder itself if it is one).
pub fn checkpoint_dir(path: &Path) -> PathBuf {
    if path.join(STATE_FILE).exists() {
        path.to_path_buf()
    } else {
        path.join(CHECKPOINT_DIR)
    }
}

/// The name of the first trainable parameter of `model` holding a NaN or infinity.
pub fn first_non_finite(model: &Model) -> Result<Option<String>> {
    for (name, var) in model.vars() {
        if !all_finite(var.as_tensor())? {
            return Ok(Some(name.to_string()));
        }
    }
    Ok(None)
}

/// Writes model, optimizer and state to `dir` atomically.
pub fn save(
    dir: &Path,
    model: &Model,
    opt: &BertAdam,
    state: &TrainerState,
    tokenizer_from: Option<&Path>,
) -> Result<()> {
    tinybert_model::io::replace_dir(dir, |tmp| -> Result<()> {
        model.write_files(tmp, tokenizer_from)?;
        opt.save(&tmp.join(OPTIMIZER_FILE))?;
        let json = serde_json::to_string_pretty(state).map_err(|e| Error::File {
            path: tmp.join(STATE_FILE),
            msg: format!("cannot serialise the trainer state: {e}"),
        })?;
        tinybert_model::io::write_atomic(&tmp.join(STATE_FILE), json.as_bytes())?;
        Ok(())
    })
}

/// Reads the state of a checkpoint folder.
pub fn read_state(dir: &Path) -> Result<TrainerState> {
    let path = dir.join(STATE_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::File {
        path,
        msg: format!("invalid trainer state: {e}"),
    })
}

/// Overwrites the trainable parameters of `model` with the checkpoint's values.
pub fn restore_weights(dir: &Path, model: &Model) -> Result<()> {
    let weights = tinybert_model::weights::read_weights(dir)?;
    for p in &model.params {
        let Some(var) = &p.var else { continue };
        let t = weights.tensors.get(&p.name).ok_or_else(|| Error::File {
            path: weights.path.clone(),
            msg: format!("checkpoint has no `{}`", p.name),
        })?;
        if t.dims() != var.dims() {
            return Err(Error::File {
                path: weights.path.clone(),
                msg: format!(
                    "`{}` has shape {:?}, the model {:?}",
                    p.name,
                    t.dims(),
                    var.dims()
                ),
            });
        }
        var.set(&t.to_device(var.device())?.to_dtype(var.dtype())?)?;
    }
    Ok(())
}
