//! Crash-safe file and folder writes, the workspace's one implementation: a reader never sees a
//! half-written file or checkpoint, and a write that returned `Ok` survives a power cut.
//!
//! Every file is written under a temporary name in the same folder (`.<name>.tmp-<pid>-<n>`),
//! flushed and `fsync`ed, renamed over the target, and then the folder itself is `fsync`ed so
//! that the rename is durable. Use:
//! - [`write_atomic`] for bytes in memory;
//! - [`write_atomic_with`] when a library writes the file by path (a zip or Parquet writer);
//! - [`AtomicFile`] for a file written as a stream ([`std::io::Write`]) and committed at the end;
//! - [`replace_dir`] for a whole folder (a checkpoint or a model).
//!
//! An interrupted write leaves at most a temporary file behind ([`is_temporary`] recognises
//! its name); the target is either the old content or the new one.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The marker every temporary name carries after the target's name.
const TMP_MARK: &str = ".tmp-";

/// A fresh temporary name beside `path` (unique within the process).
fn sibling(path: &Path, tag: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{tag}-{}-{n}", std::process::id()))
}

/// True for a file name made by this module for a temporary file or folder (a leftover of an
/// interrupted write, safe to delete when no write is running).
pub fn is_temporary(name: &str) -> bool {
    name.starts_with('.') && (name.contains(TMP_MARK) || name.contains(".old-"))
}

/// The folder holding `path` (`.` for a bare file name).
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Flushes a folder's entries (a rename into it) to disk.
pub fn sync_dir(dir: &Path) -> Result<()> {
    // Opening a folder read-only and calling fsync on it is how POSIX persists its entries.
    let d = File::open(dir).map_err(|e| Error::io(dir, e))?;
    d.sync_all().map_err(|e| Error::io(dir, e))
}

/// A file written under a temporary name and renamed over its target by [`AtomicFile::commit`].
/// Dropped without a commit, the temporary file is removed and the target left as it was.
#[derive(Debug)]
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    file: Option<File>,
}

impl AtomicFile {
    /// Creates the temporary file beside `path` (whose folder must exist).
    pub fn create(path: &Path) -> Result<Self> {
        let tmp = sibling(path, "tmp");
        let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            tmp,
            file: Some(file),
        })
    }

    /// The target.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The temporary file being written.
    pub fn tmp_path(&self) -> &Path {
        &self.tmp
    }

    /// Flushes and `fsync`s the temporary file, renames it over the target and `fsync`s the
    /// folder.
    pub fn commit(mut self) -> Result<()> {
        let file = self
            .file
            .take()
            .ok_or_else(|| Error::Invalid(format!("{}: committed twice", self.path.display())))?;
        file.sync_all().map_err(|e| Error::io(&self.tmp, e))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path).map_err(|e| Error::io(&self.path, e))?;
        sync_dir(parent_of(&self.path))
    }

    fn file(&mut self) -> std::io::Result<&mut File> {
        self.file
            .as_mut()
            .ok_or_else(|| std::io::Error::other("the file was already committed"))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file()?.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file()?.flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            // Not committed: the partial file must not stay behind (best effort).
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to `path`: temporary file in the same folder, `fsync`, rename, `fsync` of
/// the folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = AtomicFile::create(path)?;
    f.write_all(bytes).map_err(|e| Error::io(f.tmp_path(), e))?;
    f.commit()
}

/// Lets `fill` write the temporary path (for libraries that create the file themselves), then
/// `fsync`s it, renames it over `path` and `fsync`s the folder. When `fill` fails the temporary
/// file is removed and `path` is left as it was.
pub fn write_atomic_with<E: From<Error>>(
    path: &Path,
    fill: impl FnOnce(&Path) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let tmp = sibling(path, "tmp");
    let result = fill(&tmp).and_then(|()| {
        let file = File::open(&tmp).map_err(|e| Error::io(&tmp, e))?;
        file.sync_all().map_err(|e| Error::io(&tmp, e))?;
        drop(file);
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
        Ok(sync_dir(parent_of(path))?)
    });
    if result.is_err() {
        // Best effort: the original error is what the caller needs to see.
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `fsync`s every file under `dir` and the folders themselves.
fn sync_tree(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.is_dir() {
            sync_tree(&path)?;
        } else {
            let f = File::open(&path).map_err(|e| Error::io(&path, e))?;
            f.sync_all().map_err(|e| Error::io(&path, e))?;
        }
    }
    sync_dir(dir)
}

/// Fills a fresh temporary folder beside `dir` with `fill`, `fsync`s its files, then swaps it
/// into place (the old folder, if any, is moved aside first and deleted last) and `fsync`s the
/// parent. On error `dir` is untouched and the temporary folder removed.
pub fn replace_dir<E: From<Error>>(
    dir: &Path,
    fill: impl FnOnce(&Path) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let parent = parent_of(dir);
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let tmp = sibling(dir, "tmp");
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    if let Err(e) = fill(&tmp).and_then(|()| Ok(sync_tree(&tmp)?)) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    let old = sibling(dir, "old");
    if dir.exists() {
        std::fs::rename(dir, &old).map_err(|e| Error::io(dir, e))?;
    }
    std::fs::rename(&tmp, dir).map_err(|e| Error::io(dir, e))?;
    sync_dir(parent)?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_failed_fill_leaves_the_existing_folder_as_it_was() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("ckpt");
        replace_dir(&dir, |t| write_atomic(&t.join("a"), b"1")).unwrap();
        let err = replace_dir(&dir, |t| {
            write_atomic(&t.join("a"), b"2")?;
            Err(Error::Invalid("boom".into()))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read(dir.join("a")).unwrap(), b"1");
        assert_eq!(names(root.path()), ["ckpt"], "temporary folders cleaned up");
    }

    #[test]
    fn write_atomic_replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.json");
        write_atomic(&path, b"old").unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(names(dir.path()), ["metrics.json"]);
    }

    #[test]
    fn a_failed_fill_by_path_keeps_the_old_file_and_removes_the_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.tsv");
        write_atomic(&path, b"old").unwrap();
        let err = write_atomic_with(&path, |tmp| {
            std::fs::write(tmp, b"partial").unwrap();
            Err(Error::Invalid("failed on purpose".into()))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["out.tsv"]);
        write_atomic_with(&path, |tmp| {
            std::fs::write(tmp, b"new").map_err(|e| Error::io(tmp, e))
        })
        .unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
    }

    #[test]
    fn a_stream_is_visible_only_after_commit_and_vanishes_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part-00000.parquet");
        let mut f = AtomicFile::create(&path).unwrap();
        f.write_all(b"rows").unwrap();
        assert!(!path.exists());
        let tmp_name = f
            .tmp_path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        assert!(is_temporary(&tmp_name), "{tmp_name}");
        assert!(!is_temporary("part-00000.parquet"));
        f.commit().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"rows");
        let mut g = AtomicFile::create(&path).unwrap();
        g.write_all(b"half").unwrap();
        drop(g);
        assert_eq!(std::fs::read(&path).unwrap(), b"rows");
        assert_eq!(names(dir.path()), ["part-00000.parquet"]);
    }
}
