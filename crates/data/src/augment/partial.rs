//! Resumable progress: each finished chunk of examples is written to `partial/` under the output
//! folder (atomically: temporary name, then rename), next to a manifest of the settings. A rerun
//! with the same settings skips the chunks found there; a rerun with other settings discards
//! them. The final outputs are assembled from the chunks, so an interrupted and resumed run
//! writes exactly what an uninterrupted one does.

use super::options::AugmentSettings;
use crate::error::{Error, Result};
use crate::json::write_json;
use crate::tsv::Lines;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use tinybert_model::io::AtomicFile;

/// Everything the augmented rows depend on; chunks are reused only under an identical key.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunKey {
    pub format: u32,
    pub task: String,
    /// BLAKE3 of the training file.
    pub source_hash: String,
    pub limit: Option<usize>,
    pub skip_bad_rows: bool,
    /// BLAKE3 of the teacher's config and files.
    pub teacher: String,
    pub tokenizer_hash: String,
    /// BLAKE3 of the GloVe file.
    pub glove_hash: String,
    pub glove_words: usize,
    #[serde(flatten)]
    pub settings: AugmentSettings,
}

/// The `partial/` folder of one output folder.
pub struct Partial {
    dir: PathBuf,
}

/// One augmented row: the original example's index and the row's columns.
pub type AugRow = (u64, Vec<String>);

impl Partial {
    /// Opens `output/partial`, keeping its chunks if they were made under `key`, else
    /// emptying it.
    pub fn open(output: &Path, key: &RunKey) -> Result<Self> {
        let dir = output.join("partial");
        let manifest = dir.join("manifest.json");
        let same = std::fs::read_to_string(&manifest)
            .ok()
            .and_then(|t| serde_json::from_str::<RunKey>(&t).ok())
            .is_some_and(|k| &k == key);
        if !same && dir.exists() {
            tracing::warn!("{}: made with other settings, starting over", dir.display());
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        if !same {
            write_json(&manifest, key)?;
        }
        Ok(Self { dir })
    }

    fn chunk_path(&self, chunk: usize) -> PathBuf {
        self.dir.join(format!("chunk-{chunk:06}.tsv"))
    }

    /// True when chunk `chunk` was completed earlier.
    pub fn has(&self, chunk: usize) -> bool {
        self.chunk_path(chunk).is_file()
    }

    /// Stores a completed chunk.
    pub fn write(&self, chunk: usize, rows: &[AugRow]) -> Result<()> {
        let file = AtomicFile::create(&self.chunk_path(chunk))?;
        let tmp = file.tmp_path().to_path_buf();
        let mut w = BufWriter::new(file);
        for (index, cols) in rows {
            writeln!(w, "{index}\t{}", cols.join("\t")).map_err(|e| Error::io(&tmp, e))?;
        }
        w.into_inner()
            .map_err(|e| Error::io(&tmp, e.into_error()))?
            .commit()?;
        Ok(())
    }

    /// Reads a completed chunk back.
    pub fn read(&self, chunk: usize) -> Result<Vec<AugRow>> {
        let path = self.chunk_path(chunk);
        let mut rows = Vec::new();
        for line in Lines::open(&path)? {
            let (no, text) = line?;
            let (index, rest) = text
                .split_once('\t')
                .ok_or_else(|| Error::row(&path, no, "no tab after the source index"))?;
            let index: u64 = index
                .parse()
                .map_err(|_| Error::row(&path, no, format!("bad source index `{index}`")))?;
            rows.push((index, rest.split('\t').map(str::to_string).collect()));
        }
        Ok(rows)
    }

    /// Removes the folder (after the final outputs are written).
    pub fn remove(self) -> Result<()> {
        std::fs::remove_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))
    }
}

/// BLAKE3 (hex) of a file's bytes, streamed.
pub fn hash_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().to_hex().to_string())
}

/// BLAKE3 (hex) of the teacher: its config, and the files of the folder it was loaded from
/// (none for a model built in memory).
pub fn teacher_fingerprint(model: &tinybert_model::Model) -> Result<String> {
    let mut h = blake3::Hasher::new();
    h.update(model.config.to_json_string().as_bytes());
    if let Some(dir) = &model.source {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for f in files {
            h.update(f.file_name().map(|n| n.as_encoded_bytes()).unwrap_or(b""));
            h.update(hash_file(&f)?.as_bytes());
        }
    }
    Ok(h.finalize().to_hex().to_string())
}
