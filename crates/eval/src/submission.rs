//! `tinybert eval submission`: the leaderboard files of several run folders gathered into the
//! zip the GLUE site takes (`CoLA.tsv`, ..., `MNLI-m.tsv`, `MNLI-mm.tsv`, ..., at the zip's
//! root). Each file is checked before it is added (the `index\tprediction` header, known label
//! strings, unique indices); two runs offering the same file are an error.

use std::io::Write;
use std::path::{Path, PathBuf};

use tinybert_data::Task;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::error::{Error, Result};
use crate::leaderboard::{LeaderboardFile, LEADERBOARD_FILES};
use crate::score_file::read_prediction_file;
use tinybert_model::io::write_atomic_with;

/// A leaderboard file put into the zip.
#[derive(Debug, Clone, PartialEq)]
pub struct Included {
    pub file: LeaderboardFile,
    /// The run folder it came from.
    pub run: PathBuf,
    /// Number of predictions in it.
    pub rows: usize,
}

/// What [`write_submission`] put into the zip and what the nine tasks still lack.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    pub output: PathBuf,
    /// In GLUE order.
    pub included: Vec<Included>,
    /// Leaderboard files no run provided.
    pub missing: Vec<LeaderboardFile>,
    /// Run folders that held no leaderboard file.
    pub runs_without_files: Vec<PathBuf>,
}

impl Submission {
    /// Tasks all of whose files are included (MNLI needs both `MNLI-m` and `MNLI-mm`).
    pub fn complete_tasks(&self) -> Vec<Task> {
        Task::GLUE
            .into_iter()
            .filter(|t| !self.missing.iter().any(|m| m.task == *t))
            .collect()
    }

    /// Tasks with at least one file missing.
    pub fn incomplete_tasks(&self) -> Vec<Task> {
        Task::GLUE
            .into_iter()
            .filter(|t| self.missing.iter().any(|m| m.task == *t))
            .collect()
    }
}

/// Gathers the leaderboard files found directly in each of `runs` into the zip `output`
/// (deflate; written through a temporary file). Errors: a run folder that cannot be read, a
/// malformed file, the same file in two runs, or no file at all.
pub fn write_submission(runs: &[PathBuf], output: &Path) -> Result<Submission> {
    let mut found: Vec<Option<Included>> = vec![None; LEADERBOARD_FILES.len()];
    let mut runs_without_files = Vec::new();
    for run in runs {
        if !run.is_dir() {
            return Err(Error::invalid(run, "run", "not a folder"));
        }
        let mut any = false;
        for (slot, file) in found.iter_mut().zip(LEADERBOARD_FILES) {
            let path = run.join(file.name);
            if !path.is_file() {
                continue;
            }
            any = true;
            if let Some(earlier) = slot {
                return Err(Error::invalid(
                    &path,
                    file.name,
                    format!(
                        "also provided by run {}: keep one run per task file",
                        earlier.run.display()
                    ),
                ));
            }
            let parsed = read_prediction_file(&path, file.task)?;
            parsed.check_leaderboard_format()?;
            if parsed.rows.is_empty() {
                return Err(Error::invalid(&path, file.name, "no predictions"));
            }
            *slot = Some(Included {
                file,
                run: run.clone(),
                rows: parsed.rows.len(),
            });
        }
        if !any {
            tracing::warn!("{}: no GLUE leaderboard file (<TASK>.tsv)", run.display());
            runs_without_files.push(run.clone());
        }
    }
    let missing: Vec<LeaderboardFile> = found
        .iter()
        .zip(LEADERBOARD_FILES)
        .filter(|(slot, _)| slot.is_none())
        .map(|(_, f)| f)
        .collect();
    let included: Vec<Included> = found.into_iter().flatten().collect();
    if included.is_empty() {
        let names: Vec<&str> = LEADERBOARD_FILES.iter().map(|f| f.name).collect();
        return Err(Error::invalid(
            output,
            "runs",
            format!(
                "none of the {} run folders holds a leaderboard file ({})",
                runs.len(),
                names.join(", ")
            ),
        ));
    }
    write_atomic_with(output, |tmp| write_zip(tmp, &included))?;
    Ok(Submission {
        output: output.to_path_buf(),
        included,
        missing,
        runs_without_files,
    })
}

fn write_zip(path: &Path, files: &[Included]) -> Result<()> {
    let zip_err = |source| Error::Zip {
        path: path.to_path_buf(),
        source,
    };
    let out = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut zip = ZipWriter::new(out);
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for f in files {
        let source = f.run.join(f.file.name);
        let bytes = std::fs::read(&source).map_err(|e| Error::io(&source, e))?;
        zip.start_file(f.file.name, options).map_err(zip_err)?;
        zip.write_all(&bytes).map_err(|e| Error::io(path, e))?;
    }
    zip.finish().map_err(zip_err)?;
    Ok(())
}
