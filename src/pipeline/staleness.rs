//! Why a stage must run: comparing a stage with its lock entry and the files on disk.

use super::hash::{hash_path, HashCache};
use super::lock::LockEntry;
use super::stage::ResolvedStage;
use anyhow::Result;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use toml::Value;

/// Current hash of each path (`None`: missing).
pub type Hashes = BTreeMap<String, Option<String>>;

/// The reason a stage is stale (the first one found, cheapest checks first).
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// `--force`.
    Forced,
    /// No lock entry.
    NeverRun,
    /// `kind` differs from the lock's.
    KindChanged { old: String, new: String },
    /// The code that computes the kind differs from the code that computed the stage.
    CodeChanged { old: String, new: String },
    /// A parameter was added, removed or changed.
    ParamChanged {
        key: String,
        old: Option<Value>,
        new: Option<Value>,
    },
    /// A path was added to `deps`.
    InputAdded(String),
    /// A path was dropped from `deps`.
    InputRemoved(String),
    /// An input does not exist.
    InputMissing(String),
    /// An input's content changed.
    InputChanged(String),
    /// A path was added to `outs`.
    OutputAdded(String),
    /// A path was dropped from `outs`.
    OutputRemoved(String),
    /// An output does not exist.
    OutputMissing(String),
    /// An output's content changed since the stage wrote it.
    OutputChanged(String),
    /// A stage this one reads from is stale (status, dry run).
    Upstream(String),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: &Option<Value>| v.as_ref().map_or("(unset)".to_string(), Value::to_string);
        match self {
            Reason::Forced => write!(f, "forced"),
            Reason::NeverRun => write!(f, "never run"),
            Reason::KindChanged { old, new } => write!(f, "kind changed: {old} -> {new}"),
            Reason::CodeChanged { old, new } => write!(
                f,
                "code changed (code id {} -> {new}; --ignore-code-changes keeps the results)",
                if old.is_empty() { "(none)" } else { old }
            ),
            Reason::ParamChanged { key, old, new } => {
                write!(
                    f,
                    "parameter `{key}` changed: {} -> {}",
                    show(old),
                    show(new)
                )
            }
            Reason::InputAdded(p) => write!(f, "new input `{p}`"),
            Reason::InputRemoved(p) => write!(f, "input `{p}` dropped"),
            Reason::InputMissing(p) => write!(f, "input `{p}` is missing"),
            Reason::InputChanged(p) => write!(f, "input `{p}` changed"),
            Reason::OutputAdded(p) => write!(f, "new output `{p}`"),
            Reason::OutputRemoved(p) => write!(f, "output `{p}` dropped"),
            Reason::OutputMissing(p) => write!(f, "output `{p}` is missing"),
            Reason::OutputChanged(p) => write!(f, "output `{p}` changed since it was written"),
            Reason::Upstream(s) => write!(f, "upstream stage `{s}` is stale"),
        }
    }
}

/// Hashes of `paths`, relative to `workdir` unless absolute.
pub fn hash_all(paths: &[String], workdir: &Path, cache: &mut HashCache) -> Result<Hashes> {
    paths
        .iter()
        .map(|p| Ok((p.clone(), hash_path(&workdir.join(p), cache)?)))
        .collect()
}

/// Why `stage` must run given its lock `entry`, the current `code` id of its kind (`None`:
/// code changes are ignored) and current input hashes `deps`, or `None` when it is up to date.
/// Outputs are hashed (by `outs`) only when everything else matches.
pub fn own_reason(
    stage: &ResolvedStage,
    entry: Option<&LockEntry>,
    code: Option<&str>,
    deps: &Hashes,
    outs: impl FnOnce() -> Result<Hashes>,
) -> Result<Option<Reason>> {
    let Some(e) = entry else {
        return Ok(Some(Reason::NeverRun));
    };
    if e.kind != stage.kind {
        return Ok(Some(Reason::KindChanged {
            old: e.kind.clone(),
            new: stage.kind.clone(),
        }));
    }
    if let Some(code) = code.filter(|c| *c != e.code) {
        return Ok(Some(Reason::CodeChanged {
            old: e.code.clone(),
            new: code.to_string(),
        }));
    }
    let keys: BTreeSet<&String> = e.params.keys().chain(stage.params.keys()).collect();
    for key in keys {
        let (old, new) = (e.params.get(key), stage.params.get(key));
        if old != new {
            return Ok(Some(Reason::ParamChanged {
                key: key.clone(),
                old: old.cloned(),
                new: new.cloned(),
            }));
        }
    }
    if let Some(r) = compare(&e.deps, deps, Reason::InputAdded, Reason::InputRemoved) {
        return Ok(Some(r));
    }
    for (path, hash) in deps {
        match hash {
            None => return Ok(Some(Reason::InputMissing(path.clone()))),
            Some(h) if Some(h) != e.deps.get(path) => {
                return Ok(Some(Reason::InputChanged(path.clone())))
            }
            Some(_) => {}
        }
    }
    let declared: Hashes = stage.outs.iter().map(|o| (o.clone(), None)).collect();
    if let Some(r) = compare(
        &e.outs,
        &declared,
        Reason::OutputAdded,
        Reason::OutputRemoved,
    ) {
        return Ok(Some(r));
    }
    for (path, hash) in outs()? {
        match hash {
            None => return Ok(Some(Reason::OutputMissing(path))),
            Some(h) if Some(&h) != e.outs.get(&path) => {
                return Ok(Some(Reason::OutputChanged(path)))
            }
            Some(_) => {}
        }
    }
    Ok(None)
}

/// A path in `now` but not in `locked` (added), or the reverse (removed).
fn compare(
    locked: &BTreeMap<String, String>,
    now: &Hashes,
    added: fn(String) -> Reason,
    removed: fn(String) -> Reason,
) -> Option<Reason> {
    if let Some(p) = now.keys().find(|p| !locked.contains_key(*p)) {
        return Some(added(p.clone()));
    }
    locked
        .keys()
        .find(|p| !now.contains_key(*p))
        .map(|p| removed(p.clone()))
}
