//! Writing `summary.json` files (atomically, through [`tinybert_model::io::write_atomic`]).

use crate::error::{Error, Result};
use std::path::Path;

/// Writes `value` as pretty JSON to `path`.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::Json {
        path: path.to_path_buf(),
        source: e,
    })?;
    tinybert_model::io::write_atomic(path, (text + "\n").as_bytes())?;
    Ok(())
}
