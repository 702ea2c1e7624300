//! A tokenised dev set as the trainers' dev evaluation ([`tinybert_run::DevEval`]): the
//! binary opens one with [`DevSet::open`] and hands it to a trainer, which calls it for
//! best-checkpoint selection and the teacher guardrail without depending on this crate.

use std::path::{Path, PathBuf};

use candle_core::Device;
use tinybert_data::{DatasetMeta, Example, GlueDataset, Label, Task};
use tinybert_model::{load_tokenizer, tokenizer_hash, Model};
use tinybert_run::{DevEval, Scores};

use crate::error::{Error, Result};
use crate::predict::{predict, score};
use crate::scoring::{constant_baseline, majority_baseline};

/// A labelled, tokenised split of one task, evaluated `batch_size` examples at a time.
#[derive(Debug, Clone)]
pub struct DevSet {
    path: PathBuf,
    task: Task,
    examples: Vec<Example>,
    pad_id: u32,
    batch_size: usize,
    device: Device,
}

impl DevSet {
    /// Opens the dataset at `path` (from `tinybert data glue`) as `task`'s dev set for models
    /// using the tokenizer of the model folder `tokenizer_from`. Errors name the file: another
    /// task than `task` (both named), other labels, another tokenizer, an unlabelled example,
    /// no examples.
    pub fn open(
        path: &Path,
        task: Task,
        tokenizer_from: &Path,
        batch_size: usize,
        device: &Device,
    ) -> Result<Self> {
        let ds = GlueDataset::open(path)?;
        check_task(path, &ds.meta, task)?;
        let hash = tokenizer_hash(&load_tokenizer(tokenizer_from)?)?;
        ds.meta.require_tokenizer(&hash).map_err(|e| {
            Error::invalid(
                path,
                "tokenizer_hash",
                format!("{e} (the model is {})", tokenizer_from.display()),
            )
        })?;
        if ds.is_empty() {
            return Err(Error::invalid(path, "rows", "the dev set has no examples"));
        }
        let want_score = task.is_regression();
        if let Some(e) = ds.examples.iter().find(|e| match e.label {
            Label::Class(_) => want_score,
            Label::Score(_) => !want_score,
            Label::None => true,
        }) {
            return Err(Error::invalid(
                path,
                format!("example {}", e.guid),
                format!(
                    "label {:?} is not a gold {task} label (a test split?)",
                    e.label
                ),
            ));
        }
        Ok(DevSet {
            path: path.to_path_buf(),
            task,
            pad_id: ds.meta.pad_id,
            examples: ds.examples,
            batch_size: batch_size.max(1),
            device: device.clone(),
        })
    }

    /// The task.
    pub fn task(&self) -> Task {
        self.task
    }

    /// The examples.
    pub fn examples(&self) -> &[Example] {
        &self.examples
    }
}

/// Fails unless the dataset at `path` records `task` and `task`'s labels in order.
pub(crate) fn check_task(path: &Path, meta: &DatasetMeta, task: Task) -> Result<()> {
    if meta.task != Some(task) {
        let found = meta.task.map_or("no task".to_string(), |t| t.to_string());
        return Err(Error::invalid(
            path,
            "task",
            format!("the dataset is {found}, evaluating {task}"),
        ));
    }
    if meta
        .labels
        .iter()
        .map(String::as_str)
        .ne(task.labels().iter().copied())
    {
        return Err(Error::invalid(
            path,
            "labels",
            format!(
                "the dataset's classes are [{}], {task} expects [{}]",
                meta.labels.join(", "),
                task.labels().join(", ")
            ),
        ));
    }
    Ok(())
}

impl DevEval for DevSet {
    fn task(&self) -> &str {
        self.task.name()
    }

    fn describe(&self) -> String {
        format!("{} dev set {}", self.task, self.path.display())
    }

    fn examples(&self) -> usize {
        self.examples.len()
    }

    fn evaluate(&mut self, model: &Model) -> tinybert_run::Result<Scores> {
        let p = predict(
            model,
            &self.examples,
            self.batch_size,
            self.pad_id,
            &self.device,
        )?;
        Ok(score(self.task, &p, &self.examples)?)
    }

    fn baseline(&self) -> tinybert_run::Result<Scores> {
        if self.task.is_regression() {
            return Ok(constant_baseline(self.task)?);
        }
        let gold: Vec<u32> = self
            .examples
            .iter()
            .filter_map(|e| e.label.class())
            .collect();
        Ok(majority_baseline(self.task, &gold)?)
    }
}
