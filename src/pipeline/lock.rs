//! The lock file, `<pipeline>.lock` next to the pipeline file: for every stage that finished,
//! its kind, the identity of the code that computed it ([`super::code`]), its parameter values
//! and the BLAKE3 hash of each input and output. TOML with sorted keys, so diffs are stable;
//! written atomically after each success.

use super::fsutil::write_atomic;
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// Version of the lock-file layout (2: per-stage code ids instead of the tool version).
pub const FORMAT: u32 = 2;

const HEADER: &str =
    "# Written by `tinybert run` after each stage that finishes: its inputs' and outputs'\n\
# BLAKE3 hashes, parameters and the id of the code that computed it. Commit it with the\n\
# pipeline file.\n\n";

/// The whole lock file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// Layout version ([`FORMAT`]).
    pub format: u32,
    /// Entries by stage name.
    #[serde(default)]
    pub stages: BTreeMap<String, LockEntry>,
}

/// What a stage's last successful run saw and produced. Fields in alphabetical order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockEntry {
    /// The code id of the kind when it ran (empty in locks written before code ids).
    #[serde(default)]
    pub code: String,
    /// Input path -> BLAKE3 (hashed before the run).
    #[serde(default)]
    pub deps: BTreeMap<String, String>,
    /// The stage kind.
    pub kind: String,
    /// Output path -> BLAKE3 (hashed after the run).
    #[serde(default)]
    pub outs: BTreeMap<String, String>,
    /// Parameter values after `${...}` resolution.
    #[serde(default)]
    pub params: Table,
    /// The tool version of locks written before code ids (read, never written).
    #[serde(default, skip_serializing)]
    pub version: Option<String>,
}

impl Default for Lock {
    fn default() -> Self {
        Lock {
            format: FORMAT,
            stages: BTreeMap::new(),
        }
    }
}

impl Lock {
    /// `dir/name.lock` for pipeline file `dir/name.toml`.
    pub fn path_for(pipeline_file: &Path) -> PathBuf {
        pipeline_file.with_extension("lock")
    }

    /// Reads a lock file; a missing file is an empty lock.
    pub fn load(path: &Path) -> Result<Lock> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Lock::default()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let lock: Lock = toml::from_str(&text).map_err(|e| {
            anyhow!(
                "{}: {} (delete the lock file to rerun every stage)",
                path.display(),
                e.to_string().trim_end()
            )
        })?;
        if lock.format > FORMAT {
            bail!(
                "{}: lock format {} is newer than this binary understands ({FORMAT})",
                path.display(),
                lock.format
            );
        }
        Ok(lock)
    }

    /// Writes the lock file atomically, keys sorted.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut sorted = self.clone();
        for e in sorted.stages.values_mut() {
            e.params = sorted_table(&e.params);
        }
        let body = toml::to_string_pretty(&sorted)
            .with_context(|| format!("cannot serialise {}", path.display()))?;
        write_atomic(path, format!("{HEADER}{body}").as_bytes())
    }
}

/// `t` with keys (at every depth) in sorted order, whatever map the `toml` build uses.
fn sorted_table(t: &Table) -> Table {
    let mut keys: Vec<&String> = t.keys().collect();
    keys.sort();
    keys.into_iter()
        .map(|k| (k.clone(), sorted_value(&t[k])))
        .collect()
}

fn sorted_value(v: &Value) -> Value {
    match v {
        Value::Table(t) => Value::Table(sorted_table(t)),
        Value::Array(a) => Value::Array(a.iter().map(sorted_value).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_round_trips_with_sorted_keys_and_a_missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = Lock::path_for(&dir.path().join("quick.toml"));
        assert!(path.ends_with("quick.lock"));
        assert_eq!(Lock::load(&path).unwrap(), Lock::default());
        let mut lock = Lock::default();
        let params: Table =
            toml::from_str("z = 1\na = { y = [1, 2], b = \"s\" }\nlr = 2e-5").unwrap();
        lock.stages.insert(
            "finetune@RTE".into(),
            LockEntry {
                code: "0123456789abcdef".into(),
                deps: [("data/x".to_string(), "ab".to_string())].into(),
                kind: "finetune".into(),
                outs: [("runs/y".to_string(), "cd".to_string())].into(),
                params,
                version: None,
            },
        );
        lock.stages
            .insert("a".into(), lock.stages["finetune@RTE"].clone());
        lock.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# Written by"));
        assert!(
            text.find("[stages.a]").unwrap() < text.find("[stages.\"finetune@RTE\"]").unwrap(),
            "{text}"
        );
        assert_eq!(Lock::load(&path).unwrap(), lock);
        lock.save(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            text,
            "saving is deterministic"
        );
    }

    #[test]
    fn a_corrupt_lock_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.lock");
        std::fs::write(&path, "format = [").unwrap();
        let e = Lock::load(&path).unwrap_err().to_string();
        assert!(e.contains("p.lock"), "{e}");
    }
}
