//! Resumable checkpoints: `<output>/checkpoint/` holds the student as a HF folder,
//! `optimizer.safetensors` and `trainer_state.json`; it is replaced atomically.

use crate::error::{Error, Result};
use crate::optim::BertAdam;
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
    /// Optimizer steps done.
    pub step: usize,
    /// 0-based epoch in progress.
    pub epoch: usize,
    /// Examples of this epoch's order already consumed.
    pub position: usize,
    pub t_total: usize,
    /// Best dev score so far and its step.
    pub best: Option<(f64, usize)>,
    /// The run's config, to refuse resuming with another one.
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

/// Writes model, optimizer and state to `dir` atomically.
pub fn save(
    dir: &Path,
    model: &Model,
    opt: &BertAdam,
    state: &TrainerState,
    tokenizer_from: Option<&Path>,
) -> Result<()> {
    tinybert_model::io::replace_dir(dir, |tmp| {
        model.write_files(tmp, tokenizer_from)?;
        opt.save(&tmp.join(OPTIMIZER_FILE))
            .map_err(|e| tinybert_model::Error::Invalid(e.to_string()))?;
        let json = serde_json::to_string_pretty(state).expect("state serialises");
        tinybert_model::io::write_atomic(&tmp.join(STATE_FILE), json.as_bytes())
    })?;
    Ok(())
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

/// Keys whose values differ between two configs (dotted paths), for a clear resume error.
pub fn config_diff(a: &serde_json::Value, b: &serde_json::Value) -> Vec<String> {
    fn walk(prefix: &str, a: &serde_json::Value, b: &serde_json::Value, out: &mut Vec<String>) {
        match (a, b) {
            (serde_json::Value::Object(x), serde_json::Value::Object(y)) => {
                let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
                keys.sort();
                keys.dedup();
                for k in keys {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    let null = serde_json::Value::Null;
                    walk(
                        &p,
                        x.get(k).unwrap_or(&null),
                        y.get(k).unwrap_or(&null),
                        out,
                    );
                }
            }
            _ if a != b => out.push(prefix.to_string()),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk("", a, b, &mut out);
    out
}
