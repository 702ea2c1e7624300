//! `train_config.json`: what a training run was asked to do, echoed before it starts.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::TRAIN_CONFIG_FILE;

/// Checks `echo` ([`check_train_config`]) and writes it to `dir/train_config.json`
/// (pretty-printed, atomically); returns its path.
pub fn write_train_config(dir: &Path, echo: &serde_json::Value) -> Result<PathBuf> {
    let path = dir.join(TRAIN_CONFIG_FILE);
    check_train_config(&path, echo)?;
    let mut text = serde_json::to_string_pretty(echo).map_err(|e| Error::json(&path, None, e))?;
    text.push('\n');
    tinybert_model::io::write_atomic(&path, text.as_bytes())?;
    Ok(path)
}

/// Reads `dir/train_config.json`; it must be a JSON object with a `stage` string and a
/// `config.train` object.
pub fn read_train_config(dir: &Path) -> Result<serde_json::Value> {
    let path = dir.join(TRAIN_CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Error::json(&path, None, e))?;
    check_train_config(&path, &v)?;
    Ok(v)
}

/// The shape rules of the echo (errors name `path` and the key).
pub fn check_train_config(path: &Path, echo: &serde_json::Value) -> Result<()> {
    if !echo["stage"].is_string() {
        return Err(Error::invalid(path, "stage", "missing or not a string"));
    }
    if !echo["config"]["train"].is_object() {
        return Err(Error::invalid(
            path,
            "config.train",
            "missing or not an object",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_echo_round_trips_and_a_malformed_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let echo = serde_json::json!({"stage": "finetune", "config": {"train": {"epochs": 3}}});
        write_train_config(dir.path(), &echo).unwrap();
        assert_eq!(read_train_config(dir.path()).unwrap(), echo);
        let err = write_train_config(dir.path(), &serde_json::json!({"stage": "x"}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("train_config.json: config.train"), "{err}");
        std::fs::write(
            dir.path().join(TRAIN_CONFIG_FILE),
            r#"{"config": {"train": {}}}"#,
        )
        .unwrap();
        let err = read_train_config(dir.path()).unwrap_err().to_string();
        assert!(err.contains("train_config.json: stage"), "{err}");
    }
}
