//! The demo's tasks of one's own (`demo-data --own-tasks`): the demo sentiment sentences as the
//! files a user would bring, in each format a task file takes, for the own-task template
//! (`pipelines/own-task.toml`) and its tests.
//!
//! `tasks/<format>/reviews/` (format: csv, tsv, jsonl, parquet) is a classification of single
//! sentences: columns `review_id`, `review`, `sentiment` (`negative` or `positive`; the test file
//! has no `sentiment`). `tasks/<format>/similarity/` is a regression on sentence pairs: columns
//! `first`, `second`, `score`, where the score is 2.5 times the number of positive sentences
//! of the pair (0, 2.5 or 5, range [0, 5]). Each folder holds `train`, `dev` and `test` files and
//! its `task.toml`.

use crate::demo::task_sentence;
use anyhow::{Context, Result};
use rand::rngs::StdRng;
use std::path::Path;
use tinybert_data::table::{write_table, Column, Format, Values};

/// The file formats the demo tasks are written in (the extensions a task file takes).
pub const FORMATS: [&str; 4] = ["csv", "tsv", "jsonl", "parquet"];

const SENTIMENT: [&str; 2] = ["negative", "positive"];

/// Row counts of the demo tasks' splits.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub train: usize,
    pub dev: usize,
    pub test: usize,
}

/// Writes the demo tasks into `dir/tasks/`, drawing sentences from `rng`.
pub fn write_own_tasks(dir: &Path, rng: &mut StdRng, sizes: Sizes) -> Result<()> {
    let splits = [
        ("train", sizes.train),
        ("dev", sizes.dev),
        ("test", sizes.test),
    ];
    let mut reviews = Vec::new();
    let mut pairs = Vec::new();
    for (split, n) in splits {
        let labelled = split != "test";
        let (mut ids, mut texts, mut labels) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            let (text, label) = task_sentence(rng);
            ids.push(format!("{split}-{i}"));
            texts.push(text);
            labels.push(SENTIMENT[usize::from(label)].to_string());
        }
        let mut columns = vec![
            Column::new("review_id", Values::Text(ids)),
            Column::new("review", Values::Text(texts)),
        ];
        if labelled {
            columns.push(Column::new("sentiment", Values::Text(labels)));
        }
        reviews.push((split, columns));
        let (mut first, mut second, mut scores) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..n {
            let (a, la) = task_sentence(rng);
            let (b, lb) = task_sentence(rng);
            first.push(a);
            second.push(b);
            scores.push(2.5 * f32::from(la + lb));
        }
        let mut columns = vec![
            Column::new("first", Values::Text(first)),
            Column::new("second", Values::Text(second)),
        ];
        if labelled {
            columns.push(Column::new("score", Values::Float(scores)));
        }
        pairs.push((split, columns));
    }
    for format in FORMATS {
        let folder = dir.join("tasks").join(format);
        write_task(
            &folder.join("reviews"),
            format,
            &reviews,
            "name = \"reviews\"\noutput = \"classification\"\nmetric = \"accuracy\"\n\
             labels = [\"negative\", \"positive\"]\n",
            "text = \"review\"\nlabel = \"sentiment\"\nid = \"review_id\"\n",
        )?;
        write_task(
            &folder.join("similarity"),
            format,
            &pairs,
            "name = \"similarity\"\noutput = \"regression\"\nrange = [0.0, 5.0]\n",
            "text = \"first\"\npair = \"second\"\nlabel = \"score\"\n",
        )?;
    }
    Ok(())
}

/// One task folder: its split files and `task.toml` (`head`: the top-level keys,
/// `column_keys`: the `[columns]` table).
fn write_task(
    dir: &Path,
    format: &str,
    splits: &[(&str, Vec<Column>)],
    head: &str,
    column_keys: &str,
) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut files = String::from("[files]\n");
    for (split, columns) in splits {
        let name = format!("{split}.{format}");
        let path = dir.join(&name);
        write_table(&path, Format::of(&path)?, columns)?;
        files.push_str(&format!("{split} = \"{name}\"\n"));
    }
    let toml = format!(
        "# A demo task of one's own (synthetic; see the demo's README.md).\n{head}\n{files}\n[columns]\n{column_keys}"
    );
    crate::pipeline::fsutil::write_atomic(&dir.join("task.toml"), toml.as_bytes())
}
