//! What a report shows: a `REPORT.toml` file, or rows grouped from a list of run folders.
//!
//! ```toml
//! title = "TinyBERT on GLUE dev"     # optional; default: the paper table's caption
//! layout = "table1"                  # table1 | ablation-procedure | ablation-objective
//!                                    # | ablation-mapping (aliases table2..table4)
//!                                    # | tasks (one column per task of the runs: own tasks)
//! paper = true                       # show the paper's rows too (default true)
//! charts = true                      # write SVG charts (default true)
//!
//! [[rows]]
//! label = "Teacher (MiniLM-L6, fine-tuned)"
//! runs = ["runs/teacher-rte", "runs/teacher-mrpc"]   # relative to this file's folder
//! teacher = true                     # "retained % of teacher" refers to this row
//!
//! [[rows]]
//! label = "TinyBERT 3L-384"
//! runs = ["runs/student-rte", "runs/student-mrpc"]
//! speedup = 3.1                      # optional; else the runs' summary.json `speedup`
//!
//! [[rows]]
//! label = "Majority class (constant for STS-B)"
//! runs = ["runs/student-rte", "runs/student-mrpc"]
//! baseline = true                    # the dev sets' trivial baseline recorded by these runs
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::layout::Layout;
use super::scored::model_label;
use crate::error::{Error, Result};
use tinybert_run::{Run, SUMMARY_FILE};

/// A report to render.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportSpec {
    /// Heading of the report.
    pub title: String,
    /// Which paper table it follows.
    pub layout: Layout,
    /// Whether the paper's rows are shown.
    pub include_paper: bool,
    /// Whether SVG charts are written.
    pub charts: bool,
    /// Our rows, in display order.
    pub rows: Vec<RowSpec>,
    /// Where the spec came from (the TOML file, or `--runs`), for error messages.
    pub origin: PathBuf,
    /// Run paths are shown relative to this folder (the TOML file's folder).
    pub base: Option<PathBuf>,
}

/// One of our rows: a model or variant and its run folders (one per task).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowSpec {
    /// Row label.
    pub label: String,
    /// Run folders, one per task.
    pub runs: Vec<PathBuf>,
    /// Whether this is the teacher row.
    #[serde(default)]
    pub teacher: bool,
    /// Measured speed-up, overriding the runs' `summary.json`.
    #[serde(default)]
    pub speedup: Option<f64>,
    /// Show the dev sets' trivial baseline (majority class; constant prediction for
    /// regression) that the runs recorded in `summary.json` (`baseline`, written by task
    /// distillation's teacher check) instead of the runs' own scores.
    #[serde(default)]
    pub baseline: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
    title: Option<String>,
    #[serde(default = "default_layout")]
    layout: Layout,
    #[serde(default = "yes")]
    paper: bool,
    #[serde(default = "yes")]
    charts: bool,
    #[serde(default)]
    rows: Vec<RowSpec>,
}

fn default_layout() -> Layout {
    Layout::Table1
}

fn yes() -> bool {
    true
}

impl ReportSpec {
    /// Reads a `REPORT.toml`; run paths are resolved against its folder.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let file: SpecFile = toml::from_str(&text).map_err(|e| Error::Toml {
            path: path.to_path_buf(),
            source: Box::new(e),
        })?;
        let base = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let rows = file
            .rows
            .into_iter()
            .map(|mut r| {
                r.runs = r.runs.iter().map(|p| base.join(p)).collect();
                r
            })
            .collect();
        let spec = ReportSpec {
            title: file
                .title
                .unwrap_or_else(|| file.layout.caption().to_string()),
            layout: file.layout,
            include_paper: file.paper,
            charts: file.charts,
            rows,
            origin: path.to_path_buf(),
            base: Some(base),
        };
        spec.check()?;
        Ok(spec)
    }

    /// Rows from run folders: each folder is a run (has `summary.json`) or holds runs one level
    /// down. Runs with the same `model` form a row, in order of first appearance; the row whose
    /// model is `teacher` is the teacher.
    pub fn from_runs(
        dirs: &[PathBuf],
        layout: Layout,
        teacher: Option<&str>,
        title: Option<String>,
    ) -> Result<Self> {
        let origin = PathBuf::from("--runs");
        let mut rows: Vec<RowSpec> = Vec::new();
        for dir in expand_run_dirs(dirs)? {
            let model = model_label(&dir)?;
            match rows.iter_mut().find(|r| r.label == model) {
                Some(row) => row.runs.push(dir),
                None => rows.push(RowSpec {
                    teacher: teacher == Some(model.as_str()),
                    label: model,
                    runs: vec![dir],
                    speedup: None,
                    baseline: false,
                }),
            }
        }
        if let Some(name) = teacher {
            if !rows.iter().any(|r| r.teacher) {
                let models: Vec<&str> = rows.iter().map(|r| r.label.as_str()).collect();
                return Err(Error::invalid(
                    origin,
                    "--teacher",
                    format!("no run has model `{name}` (models: {})", models.join(", ")),
                ));
            }
        }
        let spec = ReportSpec {
            title: title.unwrap_or_else(|| layout.caption().to_string()),
            layout,
            include_paper: true,
            charts: true,
            rows,
            origin,
            base: None,
        };
        spec.check()?;
        Ok(spec)
    }

    /// How a run path is shown in the report: relative to [`ReportSpec::base`] when under it.
    pub fn display_path(&self, path: &Path) -> String {
        let shown = match &self.base {
            Some(base) => path.strip_prefix(base).unwrap_or(path),
            None => path,
        };
        shown.display().to_string()
    }

    fn check(&self) -> Result<()> {
        for (i, row) in self.rows.iter().enumerate() {
            let key = format!("rows[{i}] ({})", row.label);
            if row.runs.is_empty() {
                return Err(Error::invalid(&self.origin, key, "no runs"));
            }
            if self.rows[..i].iter().any(|r| r.label == row.label) {
                return Err(Error::invalid(&self.origin, key, "duplicate label"));
            }
            if row.baseline && (row.teacher || row.speedup.is_some()) {
                return Err(Error::invalid(
                    &self.origin,
                    key,
                    "a baseline row cannot be the teacher or have a speed-up",
                ));
            }
            if let Some(s) = row.speedup {
                if !(s.is_finite() && s > 0.0) {
                    return Err(Error::invalid(
                        &self.origin,
                        format!("{key}.speedup"),
                        format!("{s} is not a positive number"),
                    ));
                }
            }
        }
        if self.rows.iter().filter(|r| r.teacher).count() > 1 {
            return Err(Error::invalid(
                &self.origin,
                "rows",
                "more than one row has teacher = true",
            ));
        }
        Ok(())
    }
}

/// Each folder that has a `summary.json`, else its immediate sub-folders that have one (sorted).
fn expand_run_dirs(dirs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for dir in dirs {
        if Run::is_run_dir(dir) {
            out.push(dir.clone());
            continue;
        }
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        let mut found = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| Error::io(dir, e))?.path();
            if Run::is_run_dir(&path) {
                found.push(path);
            }
        }
        if found.is_empty() {
            return Err(Error::invalid(
                dir,
                "--runs",
                format!("no {SUMMARY_FILE} in this folder or its sub-folders"),
            ));
        }
        found.sort();
        out.extend(found);
    }
    if out.is_empty() {
        return Err(Error::invalid("--runs", "--runs", "no run folders given"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinybert_testkit::assert_mentions;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn toml_defaults_and_relative_run_paths() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reports/REPORT.toml");
        write(
            &path,
            "[[rows]]\nlabel = \"s\"\nruns = [\"../runs/a\"]\nteacher = true\n",
        );
        let spec = ReportSpec::load(&path).unwrap();
        assert_eq!(spec.layout, Layout::Table1);
        assert!(spec.include_paper && spec.charts);
        assert_eq!(spec.title, Layout::Table1.caption());
        assert_eq!(spec.rows[0].runs[0], dir.path().join("reports/../runs/a"));
        assert_eq!(spec.display_path(&spec.rows[0].runs[0]), "../runs/a");
    }

    #[test]
    fn unknown_key_and_bad_layout_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("REPORT.toml");
        write(&path, "layout = \"table9\"\n");
        let err = ReportSpec::load(&path).unwrap_err().to_string();
        assert_mentions(&err, &["REPORT.toml", "table9"]);
        write(&path, "[[rows]]\nlabel = \"a\"\nrun = [\"x\"]\n");
        let err = ReportSpec::load(&path).unwrap_err().to_string();
        assert_mentions(&err, &["run"]);
    }

    #[test]
    fn two_teachers_or_duplicate_labels_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("REPORT.toml");
        let row = "[[rows]]\nlabel = \"a\"\nruns = [\"x\"]\nteacher = true\n";
        write(&path, &format!("{row}{}", row.replace("\"a\"", "\"b\"")));
        let err = ReportSpec::load(&path).unwrap_err().to_string();
        assert_mentions(&err, &["more than one row"]);
        write(&path, &format!("{row}{}", row.replace("true", "false")));
        let err = ReportSpec::load(&path).unwrap_err().to_string();
        assert_mentions(&err, &["rows[1] (a): duplicate label"]);
    }

    #[test]
    fn from_runs_groups_by_model_and_marks_the_teacher() {
        let dir = tempfile::tempdir().unwrap();
        for (name, model) in [
            ("t-rte", "teacher"),
            ("s-rte", "student"),
            ("t-mrpc", "teacher"),
        ] {
            write(
                &dir.path().join(name).join(SUMMARY_FILE),
                &format!(
                    r#"{{"task":"RTE","model":"{model}","params":1,"dev":{{"accuracy":0.5,"score":0.5}},"score":0.5}}"#
                ),
            );
        }
        let spec = ReportSpec::from_runs(
            &[dir.path().to_path_buf()],
            Layout::Table1,
            Some("teacher"),
            None,
        )
        .unwrap();
        let rows: Vec<(&str, usize, bool)> = spec
            .rows
            .iter()
            .map(|r| (r.label.as_str(), r.runs.len(), r.teacher))
            .collect();
        // Sorted folder order: s-rte, t-mrpc, t-rte.
        assert_eq!(rows, [("student", 1, false), ("teacher", 2, true)]);
        let err = ReportSpec::from_runs(
            &[dir.path().to_path_buf()],
            Layout::Table1,
            Some("bert"),
            None,
        )
        .unwrap_err()
        .to_string();
        assert_mentions(&err, &["no run has model `bert`"]);
    }

    #[test]
    fn from_runs_on_a_folder_without_runs_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = ReportSpec::from_runs(&[dir.path().to_path_buf()], Layout::Table1, None, None)
            .unwrap_err()
            .to_string();
        assert_mentions(&err, &["no summary.json"]);
    }
}
