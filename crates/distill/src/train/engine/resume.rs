//! What a resumed run may change. A checkpoint records the run's `train_config.json` echo; the
//! resumed run's echo must equal it except for these keys of the train config
//! (`config.train.<key>` in the echo):
//!
//! | key | effect |
//! |---|---|
//! | `optimizer.lr` | the base learning rate from the next step on (the schedule's shape is kept) |
//! | `max_steps`, `epochs` | the run's total steps `t_total` = min(steps per epoch × epochs, max_steps) is recomputed, and the learning-rate schedule with it: step s uses the schedule of the new total at s (`warmup_linear` jumps to the new curve; `constant` is unaffected); a total below the checkpoint's step is refused |
//! | `save_every`, `log_every`, `eval_every`, `patience`, `snapshot_every` | from the next step on |
//! | `micro_batch_size` | none on the result (every pass is padded to its batch's longest sequence and weighted by its share), only on memory and speed: a run resumed on fewer ranks may need smaller passes |
//!
//! Any other difference (seed, batch size, data, loss, model...) is refused, naming the keys,
//! because the resumed run could not continue the interrupted one exactly.

use crate::error::{Error, Result};
use std::path::Path;

/// The train-config keys a resumed run may change.
pub const RESUMABLE_KEYS: [&str; 9] = [
    "optimizer.lr",
    "max_steps",
    "epochs",
    "save_every",
    "log_every",
    "eval_every",
    "patience",
    "micro_batch_size",
    "snapshot_every",
];

/// Where the train config sits in the echo.
const TRAIN_PREFIX: &str = "config.train.";

/// One allowed change.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The train-config key (`optimizer.lr`).
    pub key: String,
    pub old: serde_json::Value,
    pub new: serde_json::Value,
}

impl Change {
    /// `resuming with lr 1e-4 (was 3e-4)`; changes of the length add what happens to the
    /// schedule (`t_total` is the new total of steps).
    pub fn message(&self, t_total: usize) -> String {
        let name = if self.key == "optimizer.lr" {
            "lr"
        } else {
            &self.key
        };
        let mut m = format!(
            "resuming with {name} {} (was {})",
            show(&self.new),
            show(&self.old)
        );
        if matches!(self.key.as_str(), "max_steps" | "epochs") {
            m.push_str(&format!(
                ": {t_total} steps in all, the learning-rate schedule recomputed over them"
            ));
        }
        m
    }
}

/// A JSON value as a person reads it: `1e-4` for small floats, `none` for null.
fn show(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "none".into(),
        serde_json::Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            if x != 0.0 && x.abs() < 1e-2 {
                format!("{x:e}")
            } else {
                x.to_string()
            }
        }
        other => other.to_string(),
    }
}

/// The changes from the checkpoint's echo `old` to the resumed run's `new`; an error naming the
/// checkpoint `dir` and every refused key when anything outside [`RESUMABLE_KEYS`] differs.
pub fn check(dir: &Path, old: &serde_json::Value, new: &serde_json::Value) -> Result<Vec<Change>> {
    let mut allowed = Vec::new();
    let mut refused = Vec::new();
    for key in config_diff(old, new) {
        match key.strip_prefix(TRAIN_PREFIX) {
            Some(k) if RESUMABLE_KEYS.contains(&k) => allowed.push(Change {
                key: k.to_string(),
                old: lookup(old, &key),
                new: lookup(new, &key),
            }),
            _ => refused.push(key),
        }
    }
    if !refused.is_empty() {
        return Err(Error::Config(format!(
            "{}: cannot resume with a different config (changed: {}); a resumed run may change \
             only {}",
            dir.display(),
            refused.join(", "),
            RESUMABLE_KEYS.map(|k| format!("train.{k}")).join(", ")
        )));
    }
    Ok(allowed)
}

/// The value at a dotted path (`null` when absent).
fn lookup(v: &serde_json::Value, dotted: &str) -> serde_json::Value {
    dotted
        .split('.')
        .try_fold(v, |v, k| v.get(k))
        .cloned()
        .unwrap_or(serde_json::Value::Null)
}

/// Keys whose values differ between two configs (dotted paths, sorted).
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn echo(lr: f64, seed: u64, max_steps: Option<usize>) -> serde_json::Value {
        json!({"stage": "finetune", "train": "data/train",
               "config": {"train": {"seed": seed, "max_steps": max_steps, "epochs": 3,
                                    "optimizer": {"lr": lr, "warmup": 0.1}}}})
    }

    #[test]
    fn the_learning_rate_and_length_may_change_and_say_so() {
        let changes = check(
            Path::new("run/checkpoint"),
            &echo(3e-4, 1, None),
            &echo(1e-4, 1, Some(20)),
        )
        .unwrap();
        let msgs: Vec<String> = changes.iter().map(|c| c.message(20)).collect();
        assert_eq!(
            msgs,
            [
                "resuming with max_steps 20 (was none): 20 steps in all, the learning-rate \
                 schedule recomputed over them",
                "resuming with lr 1e-4 (was 3e-4)",
            ]
        );
        assert!(
            check(Path::new("c"), &echo(1e-4, 1, None), &echo(1e-4, 1, None))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn any_other_change_is_refused_naming_the_key_and_the_checkpoint() {
        let mut new = echo(1e-4, 7, None);
        new["config"]["train"]["optimizer"]["warmup"] = json!(0.2);
        new["train"] = json!("other/train");
        let err = check(Path::new("run/checkpoint"), &echo(3e-4, 1, None), &new)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("run/checkpoint: cannot resume")
                && err.contains("config.train.optimizer.warmup")
                && err.contains("config.train.seed")
                && err.contains("config.train.seed, train)")
                && !err.contains("config.train.optimizer.lr,"),
            "{err}"
        );
    }
}
