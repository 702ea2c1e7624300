//! Reading weight files of a model folder into name -> tensor maps with HF names
//! (`bert.` prefix stripped, old `gamma`/`beta` LayerNorm names renamed). PyTorch pickles are
//! read with candle's pickle reader, which interprets only tensor data and executes no code.

use crate::error::{Error, Result};
use candle_core::{Device, Tensor};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where `fit_dense` tensors of a student are stored, beside `model.safetensors`, so that the
/// main file loads in `transformers` with no unexpected keys.
pub const FIT_DENSE_FILE: &str = "fit_dense.safetensors";

/// The weights of a folder: tensors by normalised name, and the file they came from.
#[derive(Debug)]
pub struct WeightFile {
    pub path: PathBuf,
    pub tensors: HashMap<String, Tensor>,
}

/// The HF name of a checkpoint tensor: without `bert.`, `LayerNorm.gamma/beta` as
/// `LayerNorm.weight/bias`.
pub fn normalize_name(name: &str) -> String {
    let n = name.strip_prefix("bert.").unwrap_or(name);
    n.replace("LayerNorm.gamma", "LayerNorm.weight")
        .replace("LayerNorm.beta", "LayerNorm.bias")
}

/// Reads every weight file of the model folder `dir` onto the CPU.
pub fn read_weights(dir: &Path) -> Result<WeightFile> {
    let st = dir.join("model.safetensors");
    let index = dir.join("model.safetensors.index.json");
    let bin = dir.join("pytorch_model.bin");
    let (path, raw) = if st.exists() {
        (st.clone(), read_safetensors(&st)?)
    } else if index.exists() {
        (index.clone(), read_sharded(dir, &index)?)
    } else if bin.exists() {
        let raw = candle_core::pickle::read_all(&bin).map_err(|e| Error::Checkpoint {
            path: bin.clone(),
            msg: format!("not a readable PyTorch checkpoint: {e}"),
        })?;
        (bin.clone(), raw.into_iter().collect())
    } else {
        return Err(Error::NoWeights {
            path: dir.to_path_buf(),
        });
    };
    let mut tensors = HashMap::with_capacity(raw.len());
    for (name, t) in raw {
        let norm = normalize_name(&name);
        if tensors.insert(norm.clone(), t).is_some() {
            return Err(Error::Checkpoint {
                path: path.clone(),
                msg: format!("tensor `{norm}` is stored twice (with and without a prefix)"),
            });
        }
    }
    let fit = dir.join(FIT_DENSE_FILE);
    if fit.exists() {
        for (name, t) in read_safetensors(&fit)? {
            tensors.insert(normalize_name(&name), t);
        }
    }
    Ok(WeightFile { path, tensors })
}

/// Reads one safetensors file through a memory map (the tensors are copied out of it once); a
/// truncated or corrupt file is an error naming it.
pub fn read_safetensors(path: &Path) -> Result<HashMap<String, Tensor>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    // SAFETY: the map is read only while this function runs and every tensor is copied out of
    // it; as with any memory map, the file must not be truncated or rewritten by another
    // process meanwhile (checkpoints are written to a temporary name and renamed into place,
    // which leaves a mapped file intact).
    let bytes = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
    let corrupt = |msg: String| Error::Checkpoint {
        path: path.to_path_buf(),
        msg,
    };
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| corrupt(format!("corrupt or truncated safetensors file: {e}")))?;
    let mut out = HashMap::new();
    for (name, view) in st.tensors() {
        let t = candle_core::safetensors::Load::load(&view, &Device::Cpu)
            .map_err(|e| corrupt(format!("tensor `{name}`: {e}")))?;
        out.insert(name.to_string(), t);
    }
    Ok(out)
}

fn read_sharded(dir: &Path, index: &Path) -> Result<HashMap<String, Tensor>> {
    let text = std::fs::read_to_string(index).map_err(|e| Error::io(index, e))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|source| Error::Json {
        path: index.to_path_buf(),
        source,
    })?;
    let map = v["weight_map"]
        .as_object()
        .ok_or_else(|| Error::Checkpoint {
            path: index.to_path_buf(),
            msg: "no `weight_map` object".into(),
        })?;
    let mut files: Vec<&str> = map.values().filter_map(|f| f.as_str()).collect();
    files.sort();
    files.dedup();
    let mut out = HashMap::new();
    for f in files {
        out.extend(read_safetensors(&dir.join(f))?);
    }
    Ok(out)
}

/// Writes tensors as safetensors to `path` via a temporary file and a rename.
pub fn write_safetensors(tensors: &HashMap<String, Tensor>, path: &Path) -> Result<()> {
    crate::io::write_atomic_with(path, |tmp| {
        candle_core::safetensors::save(tensors, tmp).map_err(|e| Error::Checkpoint {
            path: tmp.to_path_buf(),
            msg: format!("cannot write: {e}"),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixed_and_old_layer_norm_names_are_normalised() {
        assert_eq!(
            normalize_name("bert.encoder.layer.0.output.LayerNorm.gamma"),
            "encoder.layer.0.output.LayerNorm.weight"
        );
        assert_eq!(
            normalize_name("bert.embeddings.LayerNorm.beta"),
            "embeddings.LayerNorm.bias"
        );
        assert_eq!(
            normalize_name("cls.predictions.bias"),
            "cls.predictions.bias"
        );
    }

    #[test]
    fn a_truncated_safetensors_file_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        let t = Tensor::zeros((4, 4), candle_core::DType::F32, &Device::Cpu).unwrap();
        write_safetensors(&HashMap::from([("w".to_string(), t)]), &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
        let err = read_weights(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("model.safetensors") && err.contains("truncated"),
            "{err}"
        );
    }

    #[test]
    fn a_folder_without_weights_says_what_it_looked_for() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_weights(dir.path()).unwrap_err().to_string();
        assert!(err.contains("pytorch_model.bin"), "{err}");
    }
}
