//! The training file to augment, kept row by row with all its columns, so that the augmented
//! file can be written in the task's own format.

use crate::error::{Error, Result};
use crate::example::Label;
use crate::glue::layout::{self, Layout};
use crate::glue::{glue_file_path, read_glue_file, ReadOptions};
use crate::own_task::OwnTask;
use crate::task::Task;
use crate::tsv::{fields, Lines};
use std::path::{Path, PathBuf};

/// The split that is augmented.
pub const SPLIT: &str = "train";

/// One training example as the columns of its line.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRow {
    /// Index of the example among the file's (valid) examples: its `source_index`.
    pub index: u64,
    /// 1-based line number in the file.
    pub line: usize,
    pub columns: Vec<String>,
    /// The parsed label (copied to every augmented row).
    pub label: Label,
}

/// A task's training file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    /// The header line (without a byte-order mark), if the file has one.
    pub header: Option<String>,
    /// Columns that are augmented: the first sentence, then the second of a pair task.
    pub text_columns: Vec<usize>,
    /// The `index`/`id` column, if the file has one (else an example's guid is its row number).
    pub guid_column: Option<usize>,
    pub rows: Vec<SourceRow>,
    /// Malformed rows skipped (only with `skip_bad_rows`).
    pub skipped_rows: usize,
}

/// Reads `task`'s training file under `data_dir`: every row is validated by the GLUE reader
/// (labels, column count); at most `limit` examples are kept.
pub fn read_source(
    task: Task,
    data_dir: &Path,
    skip_bad_rows: bool,
    limit: Option<usize>,
) -> Result<SourceFile> {
    if let Some(own) = OwnTask::of(task) {
        return own_source(&own, skip_bad_rows, limit);
    }
    let path = glue_file_path(data_dir, task, SPLIT)?;
    let file = read_glue_file(task, SPLIT, &path, ReadOptions { skip_bad_rows })?;
    let keep = limit.unwrap_or(usize::MAX).min(file.examples.len());
    let wanted: Vec<(usize, Label)> = file.examples[..keep]
        .iter()
        .map(|e| (e.line, e.label))
        .collect();
    let mut header = None;
    let mut layout: Option<Layout> = None;
    let mut rows = Vec::with_capacity(wanted.len());
    let mut next = wanted.iter().peekable();
    for line in Lines::open(&path)? {
        let (no, text) = line?;
        if no == 1 && layout::has_header(task, SPLIT) {
            layout = Some(layout::from_header(task, SPLIT, &fields(&text), &path)?);
            header = Some(text);
            continue;
        }
        match next.peek() {
            Some(&&(want, label)) if want == no => {
                next.next();
                rows.push(SourceRow {
                    index: rows.len() as u64,
                    line: no,
                    columns: fields(&text).into_iter().map(str::to_string).collect(),
                    label,
                });
            }
            Some(_) => {}
            None => break,
        }
    }
    if next.peek().is_some() {
        return Err(Error::Invalid(format!(
            "{}: the file changed while it was read",
            path.display()
        )));
    }
    let layout = layout.unwrap_or_else(layout::headerless_cola);
    let mut text_columns = vec![layout.text_a];
    text_columns.extend(layout.text_b);
    Ok(SourceFile {
        path,
        header,
        text_columns,
        guid_column: layout.guid,
        rows,
        skipped_rows: file.bad_rows.len(),
    })
}

/// A task of one's own's training file as tab-separated columns: the id (or row number), the
/// text column(s), the label, under the file's column names (tabs and line breaks in a text
/// become spaces: `train_aug.tsv` has one example per line).
fn own_source(own: &OwnTask, skip_bad_rows: bool, limit: Option<usize>) -> Result<SourceFile> {
    let file = own.read(SPLIT, ReadOptions { skip_bad_rows })?;
    let c = &own.columns;
    let mut header = vec![c.id.as_deref().unwrap_or("id"), c.text.as_str()];
    header.extend(c.pair.as_deref());
    header.push(&c.label);
    let one_line = |t: &str| t.replace(['\t', '\n', '\r'], " ");
    let keep = limit.unwrap_or(usize::MAX).min(file.examples.len());
    let rows = file.examples[..keep]
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut columns = vec![one_line(&e.guid), one_line(&e.text_a)];
            columns.extend(e.text_b.as_deref().map(one_line));
            columns.push(match e.label {
                Label::Class(id) => own.task.labels()[id as usize].to_string(),
                Label::Score(s) => s.to_string(),
                Label::None => String::new(),
            });
            SourceRow {
                index: i as u64,
                line: e.line,
                columns,
                label: e.label,
            }
        })
        .collect();
    Ok(SourceFile {
        path: file.path,
        header: Some(header.join("\t")),
        text_columns: if c.pair.is_some() {
            vec![1, 2]
        } else {
            vec![1]
        },
        guid_column: Some(0),
        rows,
        skipped_rows: file.bad_rows.len(),
    })
}
