//! File-system helpers: atomic writes and removal of a stage's old outputs.

use anyhow::{Context, Result};
use std::path::Path;

/// Writes `bytes` to `path` atomically ([`tinybert_model::io::write_atomic`]: a temporary file
/// in the same folder, fsync, rename), creating the folder first.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    Ok(tinybert_model::io::write_atomic(path, bytes)?)
}

/// Removes a file or a folder tree; a missing path is fine.
pub fn remove_path(path: &Path) -> Result<()> {
    let result = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => Err(e),
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
    };
    result.with_context(|| format!("cannot remove old output {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_creates_the_folder_and_removal_handles_files_folders_and_missing_paths() {
        // Replacing atomically is `tinybert_model::io::write_atomic`'s (tested there).
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("sub/x.lock");
        write_atomic(&f, b"one").unwrap();
        remove_path(&f).unwrap();
        assert!(!f.exists());
        remove_path(&dir.path().join("sub")).unwrap();
        assert!(!dir.path().join("sub").exists());
        remove_path(&dir.path().join("missing")).unwrap();
    }
}
