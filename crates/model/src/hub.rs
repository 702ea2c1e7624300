//! Resolving a model argument: a local HF folder, or a Hugging Face hub id such as
//! `bert-base-uncased` (the local hub cache first, then a download).

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Files fetched for a hub model; the first weight file that exists is enough.
const REQUIRED: &[&str] = &["config.json", "vocab.txt"];
const WEIGHTS: &[&str] = &["model.safetensors", "pytorch_model.bin"];
const OPTIONAL: &[&str] = &[
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
];

/// A local folder as is; otherwise a hub id resolved to its snapshot folder.
pub fn resolve_model(spec: &str) -> Result<PathBuf> {
    let path = Path::new(spec);
    if path.is_dir() {
        return Ok(path.to_path_buf());
    }
    if path.exists() {
        return Err(Error::Invalid(format!(
            "{spec}: expected a model folder (config.json + weights), found a file"
        )));
    }
    if spec.starts_with('.') || spec.starts_with('/') || spec.matches('/').count() > 1 {
        return Err(Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such model folder"),
        ));
    }
    from_cache(spec).map_or_else(|| download(spec), Ok)
}

fn from_cache(id: &str) -> Option<PathBuf> {
    let repo = hf_hub::Cache::from_env().model(id.to_string());
    let config = repo.get("config.json")?;
    WEIGHTS.iter().find_map(|w| repo.get(w))?;
    repo.get("vocab.txt")?;
    config.parent().map(Path::to_path_buf)
}

fn download(id: &str) -> Result<PathBuf> {
    let hub_err = |msg: String| Error::Hub {
        id: id.to_string(),
        msg,
    };
    let api = hf_hub::api::sync::ApiBuilder::from_env()
        .with_progress(true)
        .build()
        .map_err(|e| hub_err(e.to_string()))?;
    let repo = api.model(id.to_string());
    let mut dir = None;
    for f in REQUIRED {
        let p = repo.get(f).map_err(|e| hub_err(format!("{f}: {e}")))?;
        dir = p.parent().map(Path::to_path_buf);
    }
    if !WEIGHTS.iter().any(|w| repo.get(w).is_ok()) {
        return Err(hub_err(format!("none of {WEIGHTS:?} could be fetched")));
    }
    for f in OPTIONAL {
        let _ = repo.get(f);
    }
    dir.ok_or_else(|| hub_err("empty download".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_folder_resolves_to_itself() {
        let dir = tempfile::tempdir().unwrap();
        let s = dir.path().to_string_lossy().to_string();
        assert_eq!(resolve_model(&s).unwrap(), dir.path());
    }

    #[test]
    fn a_missing_relative_path_is_not_sent_to_the_hub() {
        let err = resolve_model("./no/such/model").unwrap_err().to_string();
        assert!(err.contains("./no/such/model"), "{err}");
    }
}
