//! The `log_candidates` file: every candidate position's candidates as JSON lines, written as
//! chunks complete (like the reference's `--log-candidates`; used to compare candidate lists
//! with it by `scripts/data/check_augment_candidates.py`).

use super::chunk::CandidateRecord;
use crate::error::{Error, Result};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The open log file.
pub struct CandidateLog {
    path: PathBuf,
    w: BufWriter<std::fs::File>,
}

impl CandidateLog {
    /// Creates (truncates) the file.
    pub fn create(path: &Path) -> Result<Self> {
        let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            w: BufWriter::new(file),
        })
    }

    /// Appends `records`.
    pub fn write(&mut self, records: &[CandidateRecord]) -> Result<()> {
        for r in records {
            let line = serde_json::to_string(r).map_err(|e| Error::Json {
                path: self.path.clone(),
                source: e,
            })?;
            writeln!(self.w, "{line}").map_err(|e| Error::io(&self.path, e))?;
        }
        self.w.flush().map_err(|e| Error::io(&self.path, e))
    }
}
