//! The identity of the code behind each stage kind, computed at build time (`build.rs`) from
//! the sources: a BLAKE3 hash of the job's file (`src/jobs/<job>.rs`), the binary's modules it
//! reaches (`super::x`, `crate::x::y`, followed from file to file, plus `src/jobs/mod.rs`),
//! every source file of the workspace crates those files name (`tinybert_data`, ...) and of
//! the crates they depend on, and `Cargo.lock` (dependency versions change numbers too).
//! A pipeline's lock records it per stage: a stage computed by other code is stale.
//!
//! Shared by `build.rs` and, for its tests, the binary (`#[path]`); std only.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

/// `(kind, code id)` for every job file in `root/src/jobs` (a file declaring
/// `const KIND: &'static str = "...";`), sorted by kind.
pub fn kind_codes(root: &Path) -> io::Result<Vec<(String, String)>> {
    let crates = workspace_crates(root)?;
    let mut out = Vec::new();
    for job in rust_files(&root.join("src/jobs"))? {
        let text = std::fs::read_to_string(&job)?;
        let Some(kind) = declared_kind(&text) else {
            continue;
        };
        let files = sources_of(root, &job, &crates)?;
        out.push((kind, hash(root, &files)?));
    }
    out.sort();
    Ok(out)
}

/// The `KIND` a job file declares.
fn declared_kind(text: &str) -> Option<String> {
    let rest = &text[text.find("const KIND: &'static str = \"")? + 28..];
    Some(rest[..rest.find('"')?].to_string())
}

/// Workspace crates: Rust name (`tinybert_data`) -> (folder, names of the workspace crates it
/// depends on).
type Crates = BTreeMap<String, (PathBuf, BTreeSet<String>)>;

fn workspace_crates(root: &Path) -> io::Result<Crates> {
    let mut crates = Crates::new();
    let Ok(entries) = std::fs::read_dir(root.join("crates")) else {
        return Ok(crates);
    };
    for entry in entries {
        let dir = entry?.path();
        let Ok(manifest) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
            continue;
        };
        let Some(name) = manifest
            .lines()
            .find_map(|l| l.trim().strip_prefix("name = \""))
            .and_then(|r| r.split('"').next())
        else {
            continue;
        };
        // Only [dependencies]: dev-dependencies do not change what a kind computes.
        let deps_section = manifest
            .split("\n[")
            .find(|s| s.starts_with("dependencies]"))
            .unwrap_or_default();
        let deps = crate_names(deps_section, '-')
            .into_iter()
            .filter(|d| d != name)
            .map(|d| d.replace('-', "_"))
            .collect();
        crates.insert(name.replace('-', "_"), (dir, deps));
    }
    Ok(crates)
}

/// Every `tinybert<sep>name` word in `text`, as written.
fn crate_names(text: &str, sep: char) -> BTreeSet<String> {
    let prefix = format!("tinybert{sep}");
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find(&prefix) {
        let word: String = rest[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .collect();
        let preceded = rest[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        if !preceded && word.len() > prefix.len() {
            names.insert(word.clone());
        }
        rest = &rest[i + word.len().max(1)..];
    }
    names
}

/// The job file, the binary modules it reaches, and the sources of the crates they use.
fn sources_of(root: &Path, job: &Path, crates: &Crates) -> io::Result<BTreeSet<PathBuf>> {
    let src = root.join("src");
    let mut files = BTreeSet::new();
    let mut queue = vec![job.to_path_buf(), src.join("jobs/mod.rs")];
    let mut used = BTreeSet::new();
    while let Some(f) = queue.pop() {
        if !f.exists() || !files.insert(f.clone()) {
            continue;
        }
        let text = std::fs::read_to_string(&f)?;
        used.extend(crate_names(&text, '_'));
        let dir = f.parent().unwrap_or(&src).to_path_buf();
        for path in module_paths(&text, "super::") {
            queue.extend(module_file(&dir, &path));
        }
        for path in module_paths(&text, "crate::") {
            queue.extend(module_file(&src, &path));
        }
    }
    let mut pending: Vec<String> = used.into_iter().collect();
    let mut seen = BTreeSet::new();
    while let Some(c) = pending.pop() {
        if let Some((dir, deps)) = crates.get(&c).filter(|_| seen.insert(c.clone())) {
            files.extend(rust_files(&dir.join("src"))?);
            pending.extend(deps.iter().cloned());
        }
    }
    files.insert(root.join("Cargo.lock"));
    Ok(files)
}

/// The module paths after each `prefix` (`super::train::X` -> `[train, X]`; a brace group
/// `super::{a, b::c}` gives `[a]` and `[b, c]`).
fn module_paths(text: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices(prefix) {
        let rest = &text[i + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let body = &group[..group.find('}').unwrap_or(group.len())];
            out.extend(body.split(',').map(|p| idents(p.trim())));
        } else {
            out.push(idents(rest));
        }
    }
    out
}

/// `a::b::c...` at the start of `s`, as identifiers.
fn idents(s: &str) -> Vec<String> {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(s.len());
    s[..end]
        .split("::")
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// The files of module path `path` under `dir`: `dir/a.rs` or `dir/a/mod.rs`, and `dir/a/b.rs`
/// when `a` is a folder.
fn module_file(dir: &Path, path: &[String]) -> Vec<PathBuf> {
    let Some(first) = path.first() else {
        return Vec::new();
    };
    let mut files = vec![
        dir.join(format!("{first}.rs")),
        dir.join(first).join("mod.rs"),
    ];
    if let Some(second) = path.get(1) {
        files.push(dir.join(first).join(format!("{second}.rs")));
    }
    files.into_iter().filter(|f| f.exists()).collect()
}

/// The `.rs` files under `dir`, recursively, sorted.
fn rust_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// BLAKE3 of each file's path (relative to `root`) and content, first 16 hex digits.
fn hash(root: &Path, files: &BTreeSet<PathBuf>) -> io::Result<String> {
    let mut h = blake3::Hasher::new();
    for f in files {
        let rel = f.strip_prefix(root).unwrap_or(f);
        h.update(rel.to_string_lossy().as_bytes());
        h.update(&[0]);
        h.update(&std::fs::read(f)?);
        h.update(&[0]);
    }
    Ok(h.finalize().to_hex()[..16].to_string())
}
