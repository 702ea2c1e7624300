//! Task-specific distillation (SPEC §6), both phases, and plain fine-tuning.

use super::common::{batch, check_tokenizer, load_frozen, task_of, write_summary, GlueDev};
use super::engine::{train, DevEval, Loss, Objective, RunOptions, RunResult};
use super::general::{load_student, IntermediateObjective, StudentSpec};
use crate::config::{FinetuneConfig, LossConfig, Phase, TaskDistillConfig};
use crate::error::{Error, Result};
use crate::losses::{mse, soft_cross_entropy};
use candle_core::{Device, Tensor};
use std::path::{Path, PathBuf};
use tinybert_data::{Example, GlueDataset};
use tinybert_eval::{Summary, TaskInfo};
use tinybert_model::{Heads, Model, ModelOptions, Trainable, Want};

/// The data of a task run.
pub struct TaskData {
    /// Training set (augmented for distillation), tokenised.
    pub train: PathBuf,
    /// Dev set for evaluation and best-checkpoint selection (MNLI: matched).
    pub dev: Option<PathBuf>,
}

/// Prediction-layer objective: soft cross-entropy against the teacher's logits, or MSE against
/// the gold score for regression tasks.
pub struct PredictionObjective<'a> {
    pub teacher: &'a Model,
    pub student: &'a Model,
    pub data: &'a [Example],
    pub pad_id: u32,
    pub loss: &'a LossConfig,
    pub regression: bool,
    /// Teacher logits per example, when cached.
    pub cache: Option<Vec<Vec<f32>>>,
    pub device: Device,
}

impl Objective for PredictionObjective<'_> {
    fn loss(&mut self, indices: &[usize], _step: usize) -> Result<Loss> {
        let b = batch(self.data, indices, self.pad_id, &self.device)?;
        let s = self
            .student
            .forward_t(&b.input_ids, &b.token_type_ids, &b.attention_mask, true)?;
        let logits = self.student.logits(&s)?;
        let total = if self.regression {
            let gold = b
                .labels
                .as_ref()
                .ok_or_else(|| Error::Config("regression training needs gold scores".into()))?;
            mse(&logits, gold)?
        } else {
            let teacher = match &self.cache {
                Some(c) => {
                    let rows: Vec<f32> =
                        indices.iter().flat_map(|&i| c[i].iter().copied()).collect();
                    Tensor::from_vec(rows, (indices.len(), c[0].len()), &self.device)?
                }
                None => {
                    let t = self.teacher.forward_t(
                        &b.input_ids,
                        &b.token_type_ids,
                        &b.attention_mask,
                        self.loss.teacher_dropout,
                    )?;
                    self.teacher.logits(&t)?
                }
            };
            (soft_cross_entropy(&logits, &teacher, self.loss.temperature, self.loss.compat)?
                * self.loss.weights.prediction)?
        };
        Ok(Loss {
            terms: vec![("pred_loss", total.clone())],
            total,
        })
    }
}

/// Supervised objective on gold labels: cross-entropy, or MSE for regression.
struct GoldObjective<'a> {
    model: &'a Model,
    data: &'a [Example],
    pad_id: u32,
    regression: bool,
    device: Device,
}

impl Objective for GoldObjective<'_> {
    fn loss(&mut self, indices: &[usize], _step: usize) -> Result<Loss> {
        let b = batch(self.data, indices, self.pad_id, &self.device)?;
        let out = self
            .model
            .forward_t(&b.input_ids, &b.token_type_ids, &b.attention_mask, true)?;
        let logits = self.model.logits(&out)?;
        let gold = b
            .labels
            .as_ref()
            .ok_or_else(|| Error::Config("fine-tuning needs a labelled training set".into()))?;
        let total = if self.regression {
            mse(&logits, gold)?
        } else {
            candle_nn::loss::cross_entropy(&logits, gold)?
        };
        Ok(Loss {
            terms: vec![("pred_loss", total.clone())],
            total,
        })
    }
}

fn open_task_data(
    model_dir: &Path,
    data: &TaskData,
    device: &Device,
    batch_size: usize,
) -> Result<(GlueDataset, TaskInfo, Option<GlueDev>)> {
    let train_ds = GlueDataset::open(&data.train)?;
    check_tokenizer(model_dir, &train_ds.meta, &data.train)?;
    let task = task_of(&train_ds, &data.train)?;
    let dev = match &data.dev {
        Some(p) => {
            let ds = GlueDataset::open(p)?;
            check_tokenizer(model_dir, &ds.meta, p)?;
            if ds.task() != train_ds.task() {
                return Err(Error::File {
                    path: p.clone(),
                    msg: format!("dev set is not {}", task.name),
                });
            }
            Some(GlueDev {
                dataset: ds,
                task,
                batch_size: batch_size.max(32),
                device: device.clone(),
            })
        }
        None => None,
    };
    Ok((train_ds, task, dev))
}

fn num_labels(ds: &GlueDataset, task: &TaskInfo) -> usize {
    if task.is_regression() {
        1
    } else {
        ds.meta.labels.len().max(2)
    }
}

fn finish_summary(
    out: &Path,
    task: &TaskInfo,
    label: &str,
    model: &Model,
    result: &RunResult,
    extra: serde_json::Value,
) -> Result<()> {
    let Some((scores, step)) = &result.best else {
        return write_summary(out, &extra);
    };
    let mut s = Summary::new(task.name, label, model.num_params() as u64, scores.clone())?;
    s.step = Some(*step as u64);
    if let serde_json::Value::Object(m) = extra {
        s.extra.extend(m);
    }
    s.save(out)?;
    Ok(())
}

/// Task-specific distillation of a (general-distilled) student from a fine-tuned teacher.
/// Intermediate phase: L_attn + L_hidn, last weights kept. Prediction phase: L_pred (STS-B: MSE
/// on gold), the best dev checkpoint kept when a dev set is given.
pub fn task_distill(
    teacher_dir: &Path,
    student_dir: &Path,
    data: &TaskData,
    cfg: &TaskDistillConfig,
    label: &str,
    device: &Device,
    run: &RunOptions,
) -> Result<RunResult> {
    let (train_ds, task, dev) = open_task_data(teacher_dir, data, device, cfg.train.batch_size)?;
    let teacher = load_frozen(teacher_dir, true, device)?;
    let n_labels = num_labels(&train_ds, &task);
    let mut student = load_student(
        &StudentSpec::Dir(student_dir.to_path_buf()),
        cfg.loss.fit_dense,
        teacher.config.hidden_size,
        teacher.config.vocab_size,
        Want::Always(n_labels),
        cfg.train.seed,
        device,
    )?;
    if let Some(labels) = teacher.config.labels() {
        student.config.set_labels(&labels);
    }
    let echo = serde_json::json!({ "stage": "task-distill", "task": task.name, "teacher": teacher_dir, "student": student_dir, "train": data.train, "dev": data.dev, "config": cfg });
    let rngs = [teacher.bert.dropout_rng()];
    let extra: &[&tinybert_model::nn::DropoutRng] =
        if cfg.loss.teacher_dropout { &rngs } else { &[] };
    let run_opts = RunOptions {
        tokenizer_from: run
            .tokenizer_from
            .clone()
            .or(Some(teacher_dir.to_path_buf())),
        ..run.clone_ref()
    };
    let pad = train_ds.meta.pad_id;
    let result = match cfg.phase {
        Phase::Intermediate => {
            let mut obj = IntermediateObjective::new(
                &teacher,
                &student,
                &train_ds.examples,
                pad,
                &cfg.loss,
                device,
            )?;
            train(
                &student,
                train_ds.len(),
                &cfg.train,
                &echo,
                &mut obj,
                None,
                extra,
                &run_opts,
            )?
        }
        Phase::Prediction => {
            let cache = if cfg.cache_teacher && !task.is_regression() {
                run.progress.message("caching teacher logits");
                let p = tinybert_eval::predict(&teacher, &train_ds.examples, 64, pad, device)?;
                Some(p.logits)
            } else {
                None
            };
            let mut obj = PredictionObjective {
                teacher: &teacher,
                student: &student,
                data: &train_ds.examples,
                pad_id: pad,
                loss: &cfg.loss,
                regression: task.is_regression(),
                cache,
                device: device.clone(),
            };
            let mut dev = dev;
            train(
                &student,
                train_ds.len(),
                &cfg.train,
                &echo,
                &mut obj,
                dev.as_mut().map(|d| d as &mut dyn DevEval),
                extra,
                &run_opts,
            )?
        }
    };
    let extra = serde_json::json!({ "stage": "task-distill", "phase": cfg.phase, "steps": result.steps, "loss": result.last_loss, "examples": train_ds.len() });
    finish_summary(&run.output, &task, label, &student, &result, extra)?;
    Ok(result)
}

/// Fine-tunes `model_dir` on the task with the ReLU classifier head (the teacher, and the
/// no-distillation baselines); the best dev checkpoint is kept when a dev set is given.
pub fn finetune(
    model_dir: &Path,
    data: &TaskData,
    cfg: &FinetuneConfig,
    label: &str,
    device: &Device,
    run: &RunOptions,
) -> Result<RunResult> {
    let (train_ds, task, dev) = open_task_data(model_dir, data, device, cfg.train.batch_size)?;
    let opts = ModelOptions {
        device: device.clone(),
        trainable: Trainable::All,
        seed: cfg.train.seed,
        heads: Heads {
            classifier: Want::Always(num_labels(&train_ds, &task)),
            mlm: Want::Never,
            fit_dense: Want::Never,
        },
        ..Default::default()
    };
    let mut model = Model::load(model_dir, &opts)?;
    if !task.is_regression() {
        model.config.set_labels(&train_ds.meta.labels);
    }
    let echo = serde_json::json!({ "stage": "finetune", "task": task.name, "model": model_dir, "train": data.train, "dev": data.dev, "config": cfg });
    let mut obj = GoldObjective {
        model: &model,
        data: &train_ds.examples,
        pad_id: train_ds.meta.pad_id,
        regression: task.is_regression(),
        device: device.clone(),
    };
    let run_opts = RunOptions {
        tokenizer_from: run.tokenizer_from.clone().or(Some(model_dir.to_path_buf())),
        ..run.clone_ref()
    };
    let mut dev = dev;
    let result = train(
        &model,
        train_ds.len(),
        &cfg.train,
        &echo,
        &mut obj,
        dev.as_mut().map(|d| d as &mut dyn DevEval),
        &[],
        &run_opts,
    )?;
    let extra = serde_json::json!({ "stage": "finetune", "steps": result.steps, "loss": result.last_loss, "examples": train_ds.len() });
    finish_summary(&run.output, &task, label, &model, &result, extra)?;
    Ok(result)
}
