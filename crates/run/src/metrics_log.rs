//! `metrics.jsonl`: one JSON object per logged step.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::scores::Scores;
use crate::METRICS_FILE;

/// One line of `metrics.jsonl`; see the [crate] documentation for the contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Optimizer steps so far.
    pub step: u64,
    /// Fractional epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<f64>,
    /// Learning rate used at this step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
    /// Training loss (`null` when not finite).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
    /// Dev scores when the model was evaluated at this step (MNLI: matched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<Scores>,
    /// MNLI only: mismatched dev scores at this step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev_mismatched: Option<Scores>,
    /// Further keys (`att_loss`, `rep_loss`, `examples_per_s`, `skipped`, ...).
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl StepRecord {
    /// A record with only the step set.
    pub fn new(step: u64) -> Self {
        StepRecord {
            step,
            epoch: None,
            lr: None,
            loss: None,
            dev: None,
            dev_mismatched: None,
            extra: BTreeMap::new(),
        }
    }
}

/// Appends records to `metrics.jsonl`, one line each, flushed per record so that a crash
/// loses at most the line being written.
#[derive(Debug)]
pub struct MetricsWriter {
    path: PathBuf,
    file: File,
}

impl MetricsWriter {
    /// Creates (or truncates) `dir/metrics.jsonl`.
    pub fn create(dir: &Path) -> Result<Self> {
        let path = dir.join(METRICS_FILE);
        let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
        Ok(MetricsWriter { path, file })
    }

    /// Opens `dir/metrics.jsonl` for appending, creating it if absent.
    pub fn append(dir: &Path) -> Result<Self> {
        let path = dir.join(METRICS_FILE);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        Ok(MetricsWriter { path, file })
    }

    /// Writes one record as one line.
    pub fn write(&mut self, record: &StepRecord) -> Result<()> {
        let mut line =
            serde_json::to_string(record).map_err(|e| Error::json(&self.path, None, e))?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.flush())
            .map_err(|e| Error::io(&self.path, e))
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Reads a `metrics.jsonl` file; blank lines are skipped, a bad line is an error naming its
/// line number.
pub fn read_metrics(path: &Path) -> Result<Vec<StepRecord>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| Error::io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let record = serde_json::from_str(&line).map_err(|e| Error::json(path, Some(i + 1), e))?;
        out.push(record);
    }
    Ok(out)
}

/// Drops the records of `dir/metrics.jsonl` logged after `step` (a resumed run logs them
/// again), and a last line cut short by a crash. Nothing to do when the file is absent.
pub fn truncate_metrics(dir: &Path, step: u64) -> Result<()> {
    let path = dir.join(METRICS_FILE);
    if !path.exists() {
        return Ok(());
    }
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let lines: Vec<&str> = text.lines().collect();
    let mut kept = String::with_capacity(text.len());
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<StepRecord>(line) {
            Ok(r) if r.step <= step => {
                kept.push_str(line);
                kept.push('\n');
            }
            Ok(_) => {}
            // A process killed while writing leaves at most the last line incomplete.
            Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => {}
            Err(e) => return Err(Error::json(&path, Some(i + 1), e)),
        }
    }
    tinybert_model::io::write_atomic(&path, kept.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(score: f64) -> Scores {
        Scores {
            accuracy: Some(score),
            score,
            ..Scores::empty()
        }
    }

    #[test]
    fn written_records_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = MetricsWriter::create(dir.path()).unwrap();
        let mut a = StepRecord::new(10);
        a.loss = Some(0.5);
        a.lr = Some(1e-5);
        a.epoch = Some(0.25);
        a.extra.insert("loss_attn".into(), serde_json::json!(0.1));
        let mut b = StepRecord::new(20);
        b.dev = Some(dev(0.5));
        w.write(&a).unwrap();
        w.write(&b).unwrap();
        drop(w);
        let mut w = MetricsWriter::append(dir.path()).unwrap();
        w.write(&StepRecord::new(30)).unwrap();
        let back = read_metrics(&dir.path().join(METRICS_FILE)).unwrap();
        assert_eq!(back, vec![a, b, StepRecord::new(30)]);
    }

    #[test]
    fn nan_loss_is_written_as_null_and_reads_as_absent() {
        let mut r = StepRecord::new(1);
        r.loss = Some(f64::NAN);
        let line = serde_json::to_string(&r).unwrap();
        assert_eq!(line, r#"{"step":1,"loss":null}"#);
        let back: StepRecord = serde_json::from_str(&line).unwrap();
        assert_eq!(back.loss, None);
    }

    #[test]
    fn bad_line_error_names_file_and_line_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(METRICS_FILE);
        std::fs::write(&path, "{\"step\": 1}\n\n{\"loss\": 0.3}\n").unwrap();
        let err = read_metrics(&path).unwrap_err().to_string();
        assert!(err.contains("metrics.jsonl:3:"), "{err}");
        assert!(err.contains("step"), "{err}");
    }

    #[test]
    fn truncation_keeps_steps_up_to_the_checkpoint_and_drops_a_cut_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(METRICS_FILE);
        std::fs::write(&path, "{\"step\":1}\n{\"step\":2}\n{\"step\":3}\n{\"ste").unwrap();
        truncate_metrics(dir.path(), 2).unwrap();
        let steps: Vec<u64> = read_metrics(&path)
            .unwrap()
            .iter()
            .map(|r| r.step)
            .collect();
        assert_eq!(steps, [1, 2]);
        std::fs::write(&path, "{\"step\":1}\nnot json\n{\"step\":2}\n").unwrap();
        let err = truncate_metrics(dir.path(), 2).unwrap_err().to_string();
        assert!(err.contains("metrics.jsonl:2:"), "{err}");
        truncate_metrics(&dir.path().join("absent"), 1).unwrap();
    }
}
