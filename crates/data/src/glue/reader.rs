//! Reads one GLUE `.tsv` file into [`RawExample`]s.

use super::layout::{self, Layout};
use crate::error::{Error, Result};
use crate::example::{Label, RawExample};
use crate::task::{is_test_split, Task};
use crate::tsv::{fields, Lines};
use std::path::{Path, PathBuf};

/// Options for reading a GLUE file.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOptions {
    /// Skip malformed rows (counted and reported in [`GlueFile::bad_rows`]) instead of failing.
    pub skip_bad_rows: bool,
}

/// A row that was skipped because it was malformed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BadRow {
    /// 1-based line number.
    pub line: usize,
    pub message: String,
}

/// The examples of one GLUE file.
#[derive(Debug, Clone)]
pub struct GlueFile {
    pub path: PathBuf,
    pub task: Task,
    pub split: String,
    pub examples: Vec<RawExample>,
    /// Malformed rows skipped under [`ReadOptions::skip_bad_rows`] (empty otherwise).
    pub bad_rows: Vec<BadRow>,
}

/// The file of `task`'s `split` under `data_dir`: `data_dir/<TASK>/<split>.tsv`, or
/// `data_dir/<split>.tsv` when `data_dir` is the task folder itself.
pub fn glue_file_path(data_dir: &Path, task: Task, split: &str) -> Result<PathBuf> {
    task.check_split(split)?;
    let file = format!("{split}.tsv");
    let candidates = [data_dir.join(task.name()).join(&file), data_dir.join(&file)];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| {
            Error::Invalid(format!(
                "no {task} {split} file: looked for {} and {}",
                candidates[0].display(),
                candidates[1].display()
            ))
        })
}

/// Reads `task`'s `split` file at `path`.
pub fn read_glue_file(task: Task, split: &str, path: &Path, opts: ReadOptions) -> Result<GlueFile> {
    task.check_split(split)?;
    let mut lines = Lines::open(path)?;
    let layout = if layout::has_header(task, split) {
        match lines.next() {
            Some(line) => {
                let (_, header) = line?;
                layout::from_header(task, split, &fields(&header), path)?
            }
            None => {
                return Err(Error::Header {
                    path: path.to_path_buf(),
                    msg: "empty file (a header was expected)".into(),
                })
            }
        }
    } else {
        layout::headerless_cola()
    };
    let first_data_line = if layout.has_header { 2 } else { 1 };
    let mut out = GlueFile {
        path: path.to_path_buf(),
        task,
        split: split.to_string(),
        examples: Vec::new(),
        bad_rows: Vec::new(),
    };
    for line in lines {
        let (no, text) = line?;
        match parse_row(task, &layout, &text, no - first_data_line) {
            Ok(mut ex) => {
                ex.line = no;
                out.examples.push(ex);
            }
            Err(message) if opts.skip_bad_rows => out.bad_rows.push(BadRow { line: no, message }),
            Err(message) => return Err(Error::row(path, no, message)),
        }
    }
    Ok(out)
}

/// Parses one data row; the error is the message (the caller adds file and line).
fn parse_row(
    task: Task,
    layout: &Layout,
    line: &str,
    row: usize,
) -> std::result::Result<RawExample, String> {
    let f = fields(line);
    if f.len() != layout.columns {
        return Err(format!(
            "expected {} tab-separated columns, found {}",
            layout.columns,
            f.len()
        ));
    }
    let label = match layout.label {
        None => Label::None,
        Some(i) => parse_label(task, f[i])?,
    };
    let guid = match layout.guid {
        Some(i) => f[i].to_string(),
        None => row.to_string(),
    };
    Ok(RawExample {
        guid,
        text_a: f[layout.text_a].to_string(),
        text_b: layout.text_b.map(|i| f[i].to_string()),
        label,
        line: 0,
    })
}

fn parse_label(task: Task, raw: &str) -> std::result::Result<Label, String> {
    let s = raw.trim();
    if task.is_regression() {
        let v: f32 = s
            .parse()
            .map_err(|_| format!("score `{raw}` is not a number"))?;
        if !(0.0..=5.0).contains(&v) {
            return Err(format!("score {v} is outside [0, 5]"));
        }
        return Ok(Label::Score(v));
    }
    task.label_id(s).map(Label::Class).ok_or_else(|| {
        format!(
            "unknown label `{raw}` (expected one of: {})",
            task.labels().join(", ")
        )
    })
}

/// True when `split` has labels (is not a test split).
pub fn has_labels(split: &str) -> bool {
    !is_test_split(split)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinybert_testkit::assert_mentions;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Reads `text` as `task`'s `{split}.tsv` (written to a fresh folder).
    fn read(task: Task, split: &str, text: &str, opts: ReadOptions) -> Result<GlueFile> {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), &format!("{split}.tsv"), text);
        read_glue_file(task, split, &p, opts)
    }

    #[test]
    fn wrong_column_count_is_an_error_naming_file_and_line() {
        let text = "sentence\tlabel\ngood\t1\nbad row\n";
        let err = read(Task::SST2, "dev", text, ReadOptions::default()).unwrap_err();
        assert_mentions(
            err,
            &["dev.tsv:3:", "expected 2 tab-separated columns, found 1"],
        );
    }

    #[test]
    fn unknown_label_is_an_error_naming_file_and_line() {
        let text = "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tmaybe\n";
        let err = read(Task::RTE, "dev", text, ReadOptions::default()).unwrap_err();
        assert_mentions(err, &["dev.tsv:2:", "unknown label `maybe`"]);
    }

    #[test]
    fn skip_bad_rows_counts_and_reports_them() {
        let opts = ReadOptions {
            skip_bad_rows: true,
        };
        let text = "sentence\tlabel\na\t1\nb\t7\nc\n\nd\t0\n";
        let f = read(Task::SST2, "train", text, opts).unwrap();
        assert_eq!(f.examples.len(), 2);
        let lines: Vec<usize> = f.bad_rows.iter().map(|b| b.line).collect();
        assert_eq!(lines, vec![3, 4, 5]);
        assert_eq!(
            f.examples[1].guid, "4",
            "guid is the data-row number in the file"
        );
    }

    #[test]
    fn test_split_has_no_label_and_uses_the_index_column() {
        let text = "index\tsentence\n17\tfine .\n";
        let f = read(Task::SST2, "test", text, ReadOptions::default()).unwrap();
        assert_eq!(f.examples[0].guid, "17");
        assert_eq!(f.examples[0].label, Label::None);
    }

    #[test]
    fn data_dir_may_be_the_glue_root_or_the_task_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("RTE")).unwrap();
        write(&dir.path().join("RTE"), "dev.tsv", "x");
        let root = glue_file_path(dir.path(), Task::RTE, "dev").unwrap();
        let task_dir = glue_file_path(&dir.path().join("RTE"), Task::RTE, "dev").unwrap();
        assert_eq!(root, task_dir);
        assert!(glue_file_path(dir.path(), Task::RTE, "train").is_err());
    }
}
