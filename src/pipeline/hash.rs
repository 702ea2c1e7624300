//! BLAKE3 content hashes of stage inputs and outputs, with a cache keyed by (size, mtime).
//!
//! A file's hash is BLAKE3 of its bytes. A folder's hash is BLAKE3 of its manifest: one line
//! `<file hash>  <relative path>` per file (like `b3sum`), sorted by `/`-separated path; empty
//! folders and metadata do not count. Symbolic links are followed.
//!
//! Cache: hashing ~100 MB on every `run`/`status` would cost about a second per pass on
//! these machines, and far more for real corpora, so each file's hash is remembered with its
//! size and modification time (nanoseconds) and reused while both are unchanged. The cache
//! lives in the runner's state file, not in the lock file, so the committed lock holds content
//! hashes only and does not change with checkout times. A file whose mtime is less than two
//! seconds older than the moment it is hashed is not cached: a same-size rewrite within the
//! file system's timestamp granularity would otherwise go unnoticed (git's "racy" case).

use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Cached file hashes by absolute path.
pub type HashCache = BTreeMap<String, CachedHash>;

/// A file's hash and the metadata it is valid for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedHash {
    /// Length in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: u64,
    /// BLAKE3, hex.
    pub blake3: String,
}

/// How recent an mtime may be and still be cached.
const RACY_NS: u64 = 2_000_000_000;

/// Hash of the file or folder at `path`; `None` when it does not exist.
pub fn hash_path(path: &Path, cache: &mut HashCache) -> Result<Option<String>> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    if !meta.is_dir() {
        let mut h = hash_files(&[path.to_path_buf()], cache)?;
        return Ok(h.pop());
    }
    let mut files = Vec::new();
    walk(path, "", &mut files, 0)?;
    files.sort();
    let abs: Vec<PathBuf> = files.iter().map(|(_, p)| p.clone()).collect();
    let hashes = hash_files(&abs, cache)?;
    let mut manifest = String::new();
    for ((rel, _), h) in files.iter().zip(&hashes) {
        let _ = writeln!(manifest, "{h}  {rel}");
    }
    Ok(Some(blake3::hash(manifest.as_bytes()).to_hex().to_string()))
}

/// Every file below `dir`, as (`/`-separated path relative to the walk's root, path).
fn walk(dir: &Path, rel: &str, out: &mut Vec<(String, PathBuf)>, depth: usize) -> Result<()> {
    if depth > 64 {
        bail!(
            "{}: folders nested too deeply (a symbolic-link loop?)",
            dir.display()
        );
    }
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let path = entry.path();
        let meta =
            std::fs::metadata(&path).with_context(|| format!("cannot read {}", path.display()))?;
        if meta.is_dir() {
            walk(&path, &rel, out, depth + 1)?;
        } else {
            out.push((rel, path));
        }
    }
    Ok(())
}

/// Hashes of `files` (in parallel), through the cache.
fn hash_files(files: &[PathBuf], cache: &mut HashCache) -> Result<Vec<String>> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let cache_ref = &*cache;
    let results: Vec<Result<(String, Option<CachedHash>)>> = files
        .par_iter()
        .map(|f| {
            let meta =
                std::fs::metadata(f).with_context(|| format!("cannot read {}", f.display()))?;
            let mtime_ns = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos() as u64);
            let key = f.to_string_lossy();
            if let Some(c) = cache_ref.get(key.as_ref()) {
                if c.size == meta.len() && c.mtime_ns == mtime_ns && mtime_ns != 0 {
                    return Ok((c.blake3.clone(), None));
                }
            }
            let hash = hash_file(f)?;
            let fresh = (mtime_ns != 0 && mtime_ns + RACY_NS < now).then(|| CachedHash {
                size: meta.len(),
                mtime_ns,
                blake3: hash.clone(),
            });
            Ok((hash, fresh))
        })
        .collect();
    let mut hashes = Vec::with_capacity(files.len());
    for (f, r) in files.iter().zip(results) {
        let (hash, fresh) = r?;
        let key = f.to_string_lossy().into_owned();
        match fresh {
            Some(entry) => {
                cache.insert(key, entry);
            }
            // A cache hit, or a file too recent to cache: drop an entry that no longer holds.
            None if cache.get(&key).is_some_and(|c| c.blake3 != hash) => {
                cache.remove(&key);
            }
            None => {}
        }
        hashes.push(hash);
    }
    Ok(hashes)
}

fn hash_file(path: &Path) -> Result<String> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = blake3::Hasher::new();
    hasher
        .update_reader(file)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(hasher.finalize().to_hex().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn a_folder_hash_depends_on_file_names_and_contents_only() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        for d in [a.path(), b.path()] {
            fs::create_dir_all(d.join("sub/empty")).unwrap();
            fs::write(d.join("sub/x.txt"), "x").unwrap();
            fs::write(d.join("y.txt"), "y").unwrap();
        }
        let mut cache = HashCache::new();
        let ha = hash_path(a.path(), &mut cache).unwrap().unwrap();
        assert_eq!(Some(ha.clone()), hash_path(b.path(), &mut cache).unwrap());
        fs::rename(b.path().join("y.txt"), b.path().join("z.txt")).unwrap();
        assert_ne!(Some(ha.clone()), hash_path(b.path(), &mut cache).unwrap());
        fs::write(a.path().join("y.txt"), "Y").unwrap();
        assert_ne!(Some(ha), hash_path(a.path(), &mut cache).unwrap());
        assert_eq!(
            hash_path(&a.path().join("missing"), &mut cache).unwrap(),
            None
        );
    }

    #[test]
    fn the_cache_is_used_only_while_size_and_mtime_match() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("x");
        fs::write(&f, "content").unwrap();
        let old = SystemTime::now() - std::time::Duration::from_secs(60);
        fs::File::options()
            .write(true)
            .open(&f)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let mut cache = HashCache::new();
        let real = hash_path(&f, &mut cache).unwrap().unwrap();
        assert_eq!(cache.len(), 1, "an old file is cached");
        // A planted cache entry proves the cache is consulted...
        cache.values_mut().for_each(|c| c.blake3 = "planted".into());
        assert_eq!(hash_path(&f, &mut cache).unwrap().unwrap(), "planted");
        // ...and a new mtime bypasses it; a fresh mtime is not cached.
        fs::write(&f, "content").unwrap();
        assert_eq!(hash_path(&f, &mut cache).unwrap().unwrap(), real);
        assert!(cache.is_empty(), "a file modified just now is not cached");
    }
}
