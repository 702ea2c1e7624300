//! Runner state that is not committed: the hash cache and the fingerprints of interrupted
//! attempts of resumable stages, in `.tinybert/<pipeline>.state.json` next to the pipeline file.
//! Losing it only costs rehashing (and a resumable stage starting over).

use super::fsutil::write_atomic;
use super::hash::HashCache;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The state file's content.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct State {
    /// File hashes by absolute path, valid for the recorded size and mtime.
    #[serde(default)]
    pub hashes: HashCache,
    /// Stage name -> fingerprint of an attempt that started and has not finished.
    #[serde(default)]
    pub attempts: BTreeMap<String, String>,
}

impl State {
    /// `dir/.tinybert/name.state.json` for pipeline file `dir/name.toml`.
    pub fn path_for(pipeline_file: &Path) -> PathBuf {
        let stem = pipeline_file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "pipeline".into());
        let dir = pipeline_file.parent().unwrap_or(Path::new(""));
        dir.join(".tinybert").join(format!("{stem}.state.json"))
    }

    /// Reads the state; a missing or unreadable file is an empty state (with a warning).
    pub fn load(path: &Path) -> State {
        let Ok(text) = std::fs::read_to_string(path) else {
            return State::default();
        };
        serde_json::from_str(&text).unwrap_or_else(|e| {
            tracing::warn!("{}: {e}; starting with an empty hash cache", path.display());
            State::default()
        })
    }

    /// Writes the state atomically, dropping cache entries of files that no longer exist.
    pub fn save(&mut self, path: &Path) -> Result<()> {
        self.hashes.retain(|p, _| Path::new(p).exists());
        write_atomic(path, &serde_json::to_vec_pretty(self)?)
    }
}
