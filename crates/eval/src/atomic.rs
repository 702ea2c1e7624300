//! Writing output files whole or not at all: each file is written under a temporary name beside
//! it and renamed into place, so an interrupted command never leaves a half-written result.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// `path` with `.tmp` appended to its file name.
fn temporary(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Writes `bytes` to `path` through a temporary file and a rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_with(path, |tmp| {
        std::fs::write(tmp, bytes).map_err(|e| Error::io(tmp, e))
    })
}

/// Lets `fill` write the temporary file, then renames it to `path`; the temporary file is
/// removed when `fill` fails.
pub(crate) fn write_with(path: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let tmp = temporary(path);
    if let Err(e) = fill(&tmp) {
        // Best effort: the original error is what the caller needs to see.
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_fill_leaves_no_file_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.tsv");
        let err = write_with(&path, |tmp| {
            std::fs::write(tmp, b"partial").unwrap();
            Err(Error::invalid(tmp, "fill", "failed on purpose"))
        });
        assert!(err.is_err());
        assert!(!path.exists());
        assert!(!dir.path().join("out.tsv.tmp").exists());
    }

    #[test]
    fn write_atomic_replaces_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.json");
        write_atomic(&path, b"old").unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
    }
}
