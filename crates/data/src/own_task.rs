//! Tasks of one's own: a small TOML file names the task's files (CSV, TSV, JSON Lines or
//! Parquet, see [`crate::table`]), which columns hold the text and the label, and whether it is
//! a classification or a regression. [`OwnTask::load`] reads it and defines the [`Task`]
//! ([`Task::define`]), after which every command takes it like a GLUE task;
//! [`read_task_split`] reads a split of any task, GLUE or own, into [`RawExample`]s.
//!
//! ```toml
//! name = "reviews"                 # the task's name in datasets, models and reports
//! output = "classification"        # or "regression"
//! metric = "accuracy"              # accuracy | f1_accuracy | matthews | pearson_spearman
//!                                  # (default: accuracy, or pearson_spearman for a regression)
//! labels = ["negative", "positive"] # class-id order; default: the training file's labels, sorted
//! range = [0.0, 5.0]               # a regression's scores must lie in it (optional)
//! [files]                          # split = file, relative to this file's folder; `train` is
//! train = "train.csv"              # required, splits named `test*` need no label column
//! dev = "dev.jsonl"
//! test = "test.parquet"
//! [columns]
//! text = "review"                  # the (first) sentence
//! pair = "title"                   # optional: the second sentence of a pair task
//! label = "stars"                  # class name (or score) column
//! id = "review_id"                 # optional: the example ids (default: the row number)
//! ```

use crate::error::{Error, Result};
use crate::example::{Label, RawExample};
use crate::glue::{glue_file_path, read_glue_file, BadRow, GlueFile, ReadOptions};
use crate::table::Table;
use crate::task::{is_test_split, Input, MetricKind, Output, Task, TaskSpec};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The columns of an own task's files.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Columns {
    /// The (first) sentence.
    pub text: String,
    /// The second sentence of a pair task.
    #[serde(default)]
    pub pair: Option<String>,
    /// The label (class name) or score.
    pub label: String,
    /// Example ids; default: the 0-based row number.
    #[serde(default)]
    pub id: Option<String>,
}

/// A task file as written (see the module documentation).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskFile {
    name: String,
    #[serde(default = "classification")]
    output: Output,
    #[serde(default)]
    metric: Option<MetricKind>,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    range: Option<[f64; 2]>,
    files: BTreeMap<String, String>,
    columns: Columns,
}

fn classification() -> Output {
    Output::Classification
}

/// A loaded own task: its [`Task`] and where its splits are.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnTask {
    pub task: Task,
    /// The task file.
    pub path: PathBuf,
    /// Each split's file (resolved against the task file's folder).
    pub files: BTreeMap<String, PathBuf>,
    pub columns: Columns,
    /// A regression's allowed score range.
    pub range: Option<[f64; 2]>,
}

/// The own tasks loaded by this process, by task.
fn loaded() -> std::sync::MutexGuard<'static, Vec<Arc<OwnTask>>> {
    static LOADED: Mutex<Vec<Arc<OwnTask>>> = Mutex::new(Vec::new());
    LOADED.lock().unwrap_or_else(|p| p.into_inner())
}

/// True when `arg` names a task file rather than a task (it ends in `.toml`).
pub fn is_task_file(arg: &str) -> bool {
    arg.to_ascii_lowercase().ends_with(".toml")
}

fn parse(path: &Path) -> Result<TaskFile> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    toml::from_str(&text).map_err(|e| Error::Input {
        path: path.to_path_buf(),
        msg: format!("task file: {}", e.to_string().trim_end()),
    })
}

/// The data files a task file names, as written (relative to its folder), without reading
/// them: what a pipeline stage that uses the task reads besides the task file.
pub fn task_file_data(path: &Path) -> Result<Vec<String>> {
    Ok(parse(path)?.files.into_values().collect())
}

impl OwnTask {
    /// Reads the task file at `path`, defines its task (labels not given are read from the
    /// training file) and returns it. Loading the same file again returns the same task.
    pub fn load(path: &Path) -> Result<Task> {
        let file = parse(path)?;
        let bad = |msg: String| Error::Input {
            path: path.to_path_buf(),
            msg: format!("task file: {msg}"),
        };
        let dir = path.parent().unwrap_or(Path::new(""));
        let files: BTreeMap<String, PathBuf> = file
            .files
            .iter()
            .map(|(split, f)| (split.clone(), dir.join(f)))
            .collect();
        let train = files
            .get("train")
            .ok_or_else(|| bad("`files` has no `train` file".into()))?;
        let regression = file.output == Output::Regression;
        if file.range.is_some() && !regression {
            return Err(bad("`range` is for a regression".into()));
        }
        if let Some([lo, hi]) = file.range {
            if lo.partial_cmp(&hi) != Some(std::cmp::Ordering::Less) {
                return Err(bad(format!("`range` = [{lo}, {hi}] is empty")));
            }
        }
        let labels = if regression || !file.labels.is_empty() {
            file.labels.clone()
        } else {
            labels_of(train, &file.columns.label)?
        };
        let metric = file.metric.unwrap_or(if regression {
            MetricKind::PearsonSpearman
        } else {
            MetricKind::Accuracy
        });
        // Training split first, then the others in name order.
        let mut splits = vec!["train".to_string()];
        splits.extend(files.keys().filter(|s| *s != "train").cloned());
        let spec = TaskSpec {
            name: file.name.clone(),
            labels,
            output: file.output,
            input: if file.columns.pair.is_some() {
                Input::Pair
            } else {
                Input::Single
            },
            metric,
            splits,
        };
        let task = Task::define(&spec).map_err(|e| bad(e.to_string()))?;
        let own = OwnTask {
            task,
            path: path.to_path_buf(),
            files,
            columns: file.columns,
            range: file.range,
        };
        let mut all = loaded();
        match all.iter().find(|o| o.task == task) {
            Some(o) if **o == own => {}
            Some(o) => {
                return Err(bad(format!(
                    "task `{task}` is already defined by {} with other files or columns",
                    o.path.display()
                )))
            }
            None => all.push(Arc::new(own)),
        }
        Ok(task)
    }

    /// The loaded own task of `task`, if it was loaded from a task file.
    pub fn of(task: Task) -> Option<Arc<OwnTask>> {
        loaded().iter().find(|o| o.task == task).cloned()
    }

    /// The file of `split`.
    pub fn file(&self, split: &str) -> Result<&Path> {
        self.task.check_split(split)?;
        Ok(self.files[split].as_path())
    }

    /// Reads `split` into examples, checking every row: text present, a known label (or a
    /// number in the range), an id where an id column is named. Errors name file, line and
    /// column; with [`ReadOptions::skip_bad_rows`] bad rows are listed instead.
    pub fn read(&self, split: &str, opts: ReadOptions) -> Result<GlueFile> {
        let path = self.file(split)?;
        let c = &self.columns;
        let labelled = !is_test_split(split);
        let mut wanted = vec![c.text.as_str()];
        wanted.extend(c.pair.as_deref());
        if labelled {
            wanted.push(&c.label);
        }
        wanted.extend(c.id.as_deref());
        let table = Table::read(path, &wanted)?;
        let mut out = GlueFile {
            path: path.to_path_buf(),
            task: self.task,
            split: split.to_string(),
            examples: Vec::new(),
            bad_rows: Vec::new(),
        };
        for row in table.rows {
            let mut cells = row.cells.into_iter();
            let mut next = || cells.next().flatten();
            let parsed = (|| {
                let text_a = next().ok_or_else(|| format!("column `{}`: empty text", c.text))?;
                let text_b = match &c.pair {
                    Some(p) => Some(next().ok_or_else(|| format!("column `{p}`: empty text"))?),
                    None => None,
                };
                let label = if labelled {
                    self.label(next(), &c.label)?
                } else {
                    Label::None
                };
                let guid = match &c.id {
                    Some(id) => next().ok_or_else(|| format!("column `{id}`: empty id"))?,
                    None => (out.examples.len() + out.bad_rows.len()).to_string(),
                };
                Ok::<_, String>(RawExample {
                    guid,
                    text_a,
                    text_b,
                    label,
                    line: row.line,
                })
            })();
            match parsed {
                Ok(e) => out.examples.push(e),
                Err(message) if opts.skip_bad_rows => out.bad_rows.push(BadRow {
                    line: row.line,
                    message,
                }),
                Err(message) => return Err(Error::row(path, row.line, message)),
            }
        }
        Ok(out)
    }

    fn label(&self, cell: Option<String>, column: &str) -> std::result::Result<Label, String> {
        let text = cell.ok_or_else(|| format!("column `{column}`: empty label"))?;
        let text = text.trim();
        if !self.task.is_regression() {
            return self.task.label_id(text).map(Label::Class).ok_or_else(|| {
                format!(
                    "column `{column}`: unknown label `{text}` (the task's labels: {})",
                    self.task.labels().join(", ")
                )
            });
        }
        let score: f32 = text
            .parse()
            .ok()
            .filter(|s: &f32| s.is_finite())
            .ok_or_else(|| format!("column `{column}`: `{text}` is not a number"))?;
        if let Some([lo, hi]) = self.range {
            if !(lo..=hi).contains(&f64::from(score)) {
                return Err(format!(
                    "column `{column}`: {score} is outside the task's range [{lo}, {hi}]"
                ));
            }
        }
        Ok(Label::Score(score))
    }
}

/// The labels found in `column` of the training file, sorted (as numbers when all are
/// integers, so `2` comes before `10`).
fn labels_of(train: &Path, column: &str) -> Result<Vec<String>> {
    let table = Table::read(train, &[column])?;
    let mut labels: Vec<String> = table
        .rows
        .into_iter()
        .filter_map(|r| r.cells.into_iter().next().flatten())
        .map(|l| l.trim().to_string())
        .collect();
    labels.sort_by(|a, b| match (a.parse::<i64>(), b.parse::<i64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.cmp(b),
    });
    labels.dedup();
    if labels.len() < 2 {
        return Err(Error::Input {
            path: train.to_path_buf(),
            msg: format!(
                "column `{column}` holds {} distinct label(s): a classification needs at least two \
                 (or set `output = \"regression\"` in the task file)",
                labels.len()
            ),
        });
    }
    Ok(labels)
}

/// The file of `task`'s `split`: an own task's named file (`data_dir` is not used), or for a
/// GLUE task the `.tsv` under `data_dir` (the GLUE root or the task's folder).
pub fn task_split_path(task: Task, data_dir: &Path, split: &str) -> Result<PathBuf> {
    match OwnTask::of(task) {
        Some(own) => Ok(own.file(split)?.to_path_buf()),
        None => glue_file_path(data_dir, task, split),
    }
}

/// Reads `task`'s `split` (see [`task_split_path`]).
pub fn read_task_split(
    task: Task,
    data_dir: &Path,
    split: &str,
    opts: ReadOptions,
) -> Result<GlueFile> {
    match OwnTask::of(task) {
        Some(own) => own.read(split, opts),
        None => read_glue_file(task, split, &glue_file_path(data_dir, task, split)?, opts),
    }
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

    #[test]
    fn labels_default_to_the_training_files_sorted_and_rows_become_examples() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "train.csv",
            "id,text,stars\na1,good,10\na2,bad,2\na3,ok,2\n",
        );
        write(d.path(), "test.jsonl", "{\"text\": \"fine\"}\n");
        let f = write(
            d.path(),
            "task.toml",
            "name = \"stars-a\"\n[files]\ntrain = \"train.csv\"\ntest = \"test.jsonl\"\n\
             [columns]\ntext = \"text\"\nlabel = \"stars\"\nid = \"id\"\n",
        );
        let task = OwnTask::load(&f).unwrap();
        assert_eq!(task.labels(), ["2", "10"]);
        assert_eq!(task.splits(), ["train", "test"]);
        assert_eq!(OwnTask::load(&f).unwrap(), task);
        let train = read_task_split(task, Path::new(""), "train", ReadOptions::default()).unwrap();
        let got: Vec<_> = train
            .examples
            .iter()
            .map(|e| (e.guid.as_str(), e.text_a.as_str(), e.label, e.line))
            .collect();
        assert_eq!(
            got,
            [
                ("a1", "good", Label::Class(1), 2),
                ("a2", "bad", Label::Class(0), 3),
                ("a3", "ok", Label::Class(0), 4)
            ]
        );
        // A test split needs no label, but a named id column is required in every file.
        let err = read_task_split(task, Path::new(""), "test", ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert_mentions(&err, &["test.jsonl", "no column `id`"]);
    }

    #[test]
    fn a_regression_checks_numbers_and_range_naming_file_line_and_column() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "train.tsv",
            "a\tb\tscore\nx\ty\t0.5\nx\ty\tabc\nx\t\t1\nx\ty\t7\n",
        );
        let f = write(
            d.path(),
            "t.toml",
            "name = \"sim-a\"\noutput = \"regression\"\nrange = [0, 5]\n[files]\ntrain = \"train.tsv\"\n\
             [columns]\ntext = \"a\"\npair = \"b\"\nlabel = \"score\"\n",
        );
        let task = OwnTask::load(&f).unwrap();
        assert!(task.is_regression() && task.is_pair());
        assert_eq!(task.metric(), MetricKind::PearsonSpearman);
        let err = read_task_split(task, Path::new(""), "train", ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert_mentions(
            &err,
            &["train.tsv:3:", "column `score`", "`abc` is not a number"],
        );
        let skipped = read_task_split(
            task,
            Path::new(""),
            "train",
            ReadOptions {
                skip_bad_rows: true,
            },
        )
        .unwrap();
        assert_eq!(skipped.examples.len(), 1);
        let messages: Vec<_> = skipped
            .bad_rows
            .iter()
            .map(|b| (b.line, b.message.as_str()))
            .collect();
        assert_eq!(
            messages,
            [
                (3, "column `score`: `abc` is not a number"),
                (4, "column `b`: empty text"),
                (5, "column `score`: 7 is outside the task's range [0, 5]")
            ]
        );
    }

    #[test]
    fn bad_task_files_and_unknown_labels_are_named() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "train.csv",
            "text,label\ngood,pos\nbad,neg\nmeh,so-so\n",
        );
        let f = write(
            d.path(),
            "t.toml",
            "name = \"pn-a\"\nlabels = [\"neg\", \"pos\"]\n[files]\ntrain = \"train.csv\"\n\
             [columns]\ntext = \"text\"\nlabel = \"label\"\n",
        );
        let task = OwnTask::load(&f).unwrap();
        assert_eq!(task.labels(), ["neg", "pos"]);
        let err = read_task_split(task, Path::new(""), "train", ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert_mentions(
            &err,
            &[
                "train.csv:4:",
                "column `label`",
                "unknown label `so-so`",
                "neg, pos",
            ],
        );
        let no_train = write(
            d.path(),
            "u.toml",
            "name = \"u\"\n[files]\ndev = \"train.csv\"\n[columns]\ntext = \"t\"\nlabel = \"l\"\n",
        );
        let err = OwnTask::load(&no_train).unwrap_err().to_string();
        assert_mentions(&err, &["u.toml", "no `train` file"]);
        let typo = write(d.path(), "v.toml", "name = \"v\"\nlabel = 3\n");
        let err = OwnTask::load(&typo).unwrap_err().to_string();
        assert_mentions(&err, &["v.toml", "task file", "label"]);
        let missing = write(
            d.path(),
            "w.toml",
            "name = \"w\"\n[files]\ntrain = \"train.csv\"\n[columns]\ntext = \"sentence\"\nlabel = \"label\"\n",
        );
        let task = OwnTask::load(&missing).unwrap();
        let err = read_task_split(task, Path::new(""), "train", ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert_mentions(&err, &["train.csv", "no column `sentence`", "text, label"]);
    }
}
