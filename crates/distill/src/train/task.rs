//! Task-specific distillation (SPEC §6), both phases, and plain fine-tuning.
//!
//! Both take the task they are asked for ([`TaskData::task`]) and refuse a training set that
//! records another task, naming both and the file; the dev set comes as a [`DevEval`] (the
//! binary opens the eval crate's) and must be of the same task. With a dev set, task
//! distillation first checks the teacher against the dev set's majority-class baseline
//! ([`TaskDistillConfig::teacher_margin`], [`TaskDistillConfig::teacher_margin_se`],
//! [`TaskDistillConfig::force_weak_teacher`]) and
//! records both scores in `summary.json` (`teacher_dev`, `baseline`).

use super::common::{
    check_tokenizer, forward, lengths, load_frozen, pass_batch, teacher_rngs, training_summary,
    write_summary,
};
use super::engine::{train, Loss, Objective, Pass, RunOptions, RunResult, TrainProgress};
use super::general::{load_student, IntermediateObjective, StudentSpec};
use crate::config::{FinetuneConfig, LossConfig, Phase, TaskDistillConfig};
use crate::error::{Error, Result};
use crate::losses::{mse, soft_cross_entropy};
use crate::parallel;
use candle_core::{Device, Tensor};
use std::path::{Path, PathBuf};
use tinybert_data::{logits_in_order, BatchTensors, Example, GlueDataset, MetricKind, Task};
use tinybert_model::{Heads, Model, ModelOptions, Trainable, Want};
use tinybert_run::{DevEval, Scores, Summary};

/// Examples per teacher forward when the teacher's logits are cached (batched by length).
const CACHE_BATCH: usize = 64;

/// The data of a task run.
pub struct TaskData {
    /// The task the run is for: the training set (and the dev set) must record it.
    pub task: Task,
    /// Training set (augmented for distillation), tokenised.
    pub train: PathBuf,
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
    fn loss(&mut self, pass: &Pass) -> Result<Loss> {
        let (b, logits) =
            training_logits(self.student, self.data, pass, self.pad_id, &self.device)?;
        let indices = pass.indices();
        let total = if self.regression {
            let gold = b
                .labels
                .as_ref()
                .ok_or_else(|| Error::Config("regression training needs gold scores".into()))?;
            mse(&logits, gold)?
        } else {
            let teacher = match &self.cache {
                Some(c) => {
                    let width = c.first().map_or(0, Vec::len);
                    let mut rows: Vec<f32> = Vec::with_capacity(indices.len() * width);
                    for &i in indices {
                        let row = c.get(i).ok_or_else(|| {
                            Error::Config(format!("example index {i} has no cached teacher logits"))
                        })?;
                        rows.extend_from_slice(row);
                    }
                    Tensor::from_vec(rows, (indices.len(), width), &self.device)?
                }
                None => {
                    let t = forward(self.teacher, &b, self.loss.teacher_dropout)?;
                    self.teacher.logits(&t)?
                }
            };
            (soft_cross_entropy(&logits, &teacher, self.loss.temperature, self.loss.compat)?
                * self.loss.weights.prediction)?
        };
        prediction_loss(total, pass)
    }

    fn terms(&self) -> &'static [&'static str] {
        &["pred_loss"]
    }

    fn lengths(&self) -> Vec<usize> {
        lengths(self.data)
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
    fn loss(&mut self, pass: &Pass) -> Result<Loss> {
        let (b, logits) = training_logits(self.model, self.data, pass, self.pad_id, &self.device)?;
        let gold = b
            .labels
            .as_ref()
            .ok_or_else(|| Error::Config("fine-tuning needs a labelled training set".into()))?;
        let total = if self.regression {
            mse(&logits, gold)?
        } else {
            candle_nn::loss::cross_entropy(&logits, gold)?
        };
        prediction_loss(total, pass)
    }

    fn terms(&self) -> &'static [&'static str] {
        &["pred_loss"]
    }

    fn lengths(&self) -> Vec<usize> {
        lengths(self.data)
    }
}

/// The batch of the examples of `pass` and `model`'s logits on it, in training mode.
///
/// # Shapes
/// The batch tensors are `[batch, seq]`; the logits `[batch, num_labels]`.
fn training_logits(
    model: &Model,
    data: &[Example],
    pass: &Pass,
    pad_id: u32,
    device: &Device,
) -> Result<(BatchTensors, Tensor)> {
    let b = pass_batch(data, pass, pad_id, device)?;
    let logits = model.logits(&forward(model, &b, true)?)?;
    Ok((b, logits))
}

/// A loss that is only its prediction-layer term (logged as `pred_loss`): the pass's mean
/// `mean` times its share of the batch.
fn prediction_loss(mean: Tensor, pass: &Pass) -> Result<Loss> {
    let total = (mean * pass.share())?;
    Ok(Loss {
        terms: vec![total.clone()],
        total,
    })
}

/// Opens the training set of `data`, checking its tokenizer against `model_dir`, its task
/// against `data.task` and the dev set's task.
fn open_task_data(
    model_dir: &Path,
    data: &TaskData,
    dev: Option<&dyn DevEval>,
) -> Result<GlueDataset> {
    let train_ds = GlueDataset::open(&data.train)?;
    check_tokenizer(model_dir, &train_ds.meta, &data.train)?;
    let task = data.task;
    if train_ds.task() != Some(task) {
        let found = train_ds
            .task()
            .map_or("no task".to_string(), |t| format!("task {t}"));
        return Err(Error::File {
            path: data.train.clone(),
            msg: format!("the training set records {found}, but the run is for task {task}"),
        });
    }
    if let Some(d) = dev {
        if d.task() != task.name() {
            return Err(Error::Config(format!(
                "{} is for task {}, but the run is for task {task}",
                d.describe(),
                d.task()
            )));
        }
    }
    Ok(train_ds)
}

fn num_labels(ds: &GlueDataset, task: Task) -> usize {
    if task.is_regression() {
        1
    } else {
        ds.meta.labels.len().max(2)
    }
}

/// The summary of a task run: the training numbers, the task, the model label and size, and
/// the kept model's dev scores when there are some.
fn task_summary(
    stage: &str,
    task: Task,
    label: &str,
    model: &Model,
    result: &RunResult,
    examples: usize,
) -> Summary {
    let mut s = training_summary(stage, model, result, examples);
    s.task = Some(task.name().to_string());
    if let Some(def) = task.record() {
        s.insert(Task::RECORD_KEY, def);
    }
    s.model = Some(label.to_string());
    if let Some((scores, step)) = &result.best {
        s.set_dev(scores.clone());
        s.step = Some(*step as u64);
    }
    s
}

/// The standard error of the trivial baseline's selection score on `n` dev examples of
/// `task`: a proportion's, √(b(1 − b)/n), for accuracy (also MRPC's selection score); a
/// correlation's with no association, 1/√n, for Matthews and Pearson/Spearman (whose baseline
/// is 0). What chance alone moves a score by on a dev set of this size.
pub fn baseline_standard_error(task: Task, baseline: f64, n: usize) -> f64 {
    let n = n.max(1) as f64;
    match task.metric() {
        MetricKind::Accuracy | MetricKind::F1Accuracy => {
            let b = baseline.clamp(0.0, 1.0);
            (b * (1.0 - b) / n).sqrt()
        }
        MetricKind::Matthews | MetricKind::PearsonSpearman => 1.0 / n.sqrt(),
    }
}

/// The teacher guardrail: the teacher's dev scores and the dev set's baseline, or an error
/// when the teacher's selection score is below the baseline's plus the larger of
/// `cfg.teacher_margin` and `cfg.teacher_margin_se` standard errors
/// ([`baseline_standard_error`]) (a warning with `cfg.force_weak_teacher`).
fn check_teacher(
    teacher: &Model,
    dev: &mut dyn DevEval,
    task: Task,
    cfg: &TaskDistillConfig,
    progress: &dyn TrainProgress,
) -> Result<(Scores, Scores)> {
    let t = dev.evaluate(teacher)?;
    let b = dev.baseline()?;
    let examples = dev.examples();
    let se = baseline_standard_error(task, b.score, examples);
    let needed = b.score + cfg.teacher_margin.max(cfg.teacher_margin_se * se);
    progress.message(&format!(
        "teacher on {}: score {:.4}, majority-class baseline {:.4}",
        dev.describe(),
        t.score,
        b.score
    ));
    // A NaN score is not clearly above anything.
    let clearly_above = t.score >= needed;
    if !clearly_above {
        let err = Error::WeakTeacher {
            task: task.name().to_string(),
            dev: dev.describe(),
            teacher: t.score,
            baseline: b.score,
            margin: cfg.teacher_margin,
            k: cfg.teacher_margin_se,
            examples,
            se,
            needed,
        };
        if !cfg.force_weak_teacher {
            return Err(err);
        }
        let msg = format!("force_weak_teacher: distilling anyway, but {err}");
        tracing::warn!("{msg}");
        progress.message(&msg);
    }
    Ok((t, b))
}

/// A regression head freshly initialised for training (one output, not in the checkpoint)
/// starts at the mean training score: its bias is set to it, its weights keep their N(0,
/// 0.02) draw. With the usual zero bias, the fastest way for `W_c · ReLU(pooled)` to reach
/// scores in the middle of a range such as STS-B's [0, 5] is to saturate the pooler's tanh,
/// which stops the gradient and leaves a constant prediction (measured on the demo reviews as
/// a 0/5 regression: dev correlation 0.13 with a zero bias, 0.81 with the mean, 3 epochs).
fn centre_regression_head(model: &Model, examples: &[Example]) -> Result<()> {
    const BIAS: &str = "classifier.bias";
    if !model.report.initialized.iter().any(|n| n == BIAS) {
        return Ok(());
    }
    let scores: Vec<f64> = examples
        .iter()
        .filter_map(|e| e.label.score())
        .map(f64::from)
        .collect();
    let var = model
        .params
        .iter()
        .find(|p| p.name == BIAS)
        .and_then(|p| p.var.as_ref());
    if let (false, Some(var)) = (scores.is_empty(), var) {
        let mean = scores.iter().sum::<f64>() / scores.len() as f64;
        var.set(&Tensor::full(mean as f32, var.shape(), var.device())?)?;
        tracing::info!("regression head: bias set to the mean training score {mean:.4}");
    }
    Ok(())
}

/// Multiplies `pooler.dense.weight` by `scale` ([`FinetuneConfig::pooler_scale`]).
fn scale_pooler(model: &Model, scale: f64) -> Result<()> {
    const WEIGHT: &str = "pooler.dense.weight";
    if scale == 1.0 {
        return Ok(());
    }
    let var = model
        .params
        .iter()
        .find(|p| p.name == WEIGHT)
        .and_then(|p| p.var.as_ref())
        .ok_or_else(|| {
            Error::Config(format!(
                "pooler_scale: the model has no trainable `{WEIGHT}`"
            ))
        })?;
    var.set(&(var.as_tensor() * scale)?)?;
    tracing::info!("pooler: `{WEIGHT}` multiplied by {scale}");
    Ok(())
}

/// The teacher's `id2label` must be the task's labels in the task's order (names or order
/// that differ would teach the student the wrong classes); with `cfg.force_label_order` a
/// difference is only a warning.
fn check_teacher_labels(
    teacher: &Model,
    dir: &Path,
    task: Task,
    cfg: &TaskDistillConfig,
    progress: &dyn TrainProgress,
) -> Result<()> {
    let Some(message) = task.label_names_differ(teacher.config.labels().as_deref()) else {
        return Ok(());
    };
    let err = Error::TeacherLabels {
        teacher: dir.display().to_string(),
        message,
    };
    if !cfg.force_label_order {
        return Err(err);
    }
    let msg = format!("force_label_order: distilling anyway, but {err}");
    tracing::warn!("{msg}");
    progress.message(&msg);
    Ok(())
}

/// Task-specific distillation of a (general-distilled) student from a fine-tuned teacher.
/// Intermediate phase: L_attn + L_hidn, last weights kept. Prediction phase: L_pred (STS-B: MSE
/// on gold), the best dev checkpoint kept when a dev set is given. With a dev set (either
/// phase) the teacher guardrail runs first.
#[allow(clippy::too_many_arguments)]
pub fn task_distill(
    teacher_dir: &Path,
    student_dir: &Path,
    data: &TaskData,
    mut dev: Option<&mut dyn DevEval>,
    cfg: &TaskDistillConfig,
    label: &str,
    device: &Device,
    run: &RunOptions,
) -> Result<RunResult> {
    let task = data.task;
    let train_ds = open_task_data(teacher_dir, data, dev.as_deref())?;
    let teacher = load_frozen(teacher_dir, true, cfg.loss.teacher_precision, device)?;
    check_teacher_labels(&teacher, teacher_dir, task, cfg, run.progress)?;
    let guard = match dev.as_deref_mut() {
        Some(d) => Some(check_teacher(&teacher, d, task, cfg, run.progress)?),
        None => None,
    };
    let n_labels = num_labels(&train_ds, task);
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
    centre_regression_head(&student, &train_ds.examples)?;
    let dev_name = dev.as_deref().map(|d| d.describe());
    let echo = serde_json::json!({ "stage": "task-distill", "task": task.name(), "teacher": teacher_dir, "student": student_dir, "train": data.train, "dev": dev_name, "config": cfg });
    let pad = train_ds.meta.pad_id;
    // The intermediate phase keeps the last weights: the dev set only serves the guardrail.
    let (mut objective, dev): (Box<dyn Objective>, _) = match cfg.phase {
        Phase::Intermediate => {
            let obj = IntermediateObjective::new(
                &teacher,
                &student,
                &train_ds.examples,
                pad,
                &cfg.loss,
                device,
            )?;
            (Box::new(obj), None)
        }
        Phase::Prediction => {
            let cache = if cfg.cache_teacher && !task.is_regression() {
                run.progress.message("caching teacher logits");
                Some(cached_logits(&teacher, &train_ds.examples, pad, device)?)
            } else {
                None
            };
            let obj = PredictionObjective {
                teacher: &teacher,
                student: &student,
                data: &train_ds.examples,
                pad_id: pad,
                loss: &cfg.loss,
                regression: task.is_regression(),
                cache,
                device: device.clone(),
            };
            (Box::new(obj), dev)
        }
    };
    let result = train(
        &student,
        train_ds.len(),
        &cfg.train,
        &echo,
        objective.as_mut(),
        dev,
        &teacher_rngs(&teacher, cfg.loss.teacher_dropout),
        &run.tokenizer_defaulting_to(teacher_dir),
    )?;
    let mut summary = task_summary(
        "task-distill",
        task,
        label,
        &student,
        &result,
        train_ds.len(),
    );
    summary.insert("phase", serde_json::json!(cfg.phase));
    if let Some((t, b)) = guard {
        summary.teacher_dev = Some(t);
        summary.baseline = Some(b);
    }
    write_summary(&run.output, &summary)?;
    Ok(result)
}

/// The teacher's logits of every training example, `CACHE_BATCH` examples per forward. With
/// several data-parallel ranks each computes a contiguous share, and the shares are summed into
/// place so that every rank holds all of them.
fn cached_logits(
    teacher: &Model,
    examples: &[Example],
    pad: u32,
    device: &Device,
) -> Result<Vec<Vec<f32>>> {
    let world = parallel::world();
    if world.size() == 1 {
        return Ok(logits_in_order(
            teacher,
            examples,
            CACHE_BATCH,
            pad,
            device,
        )?);
    }
    let width = match &teacher.classifier {
        Some(c) => c.classifier.bias.dims1()?,
        None => return Err(Error::Config("the teacher has no classifier".into())),
    };
    let mine = parallel::shard(examples.len(), world.rank(), world.size());
    let part = logits_in_order(teacher, &examples[mine.clone()], CACHE_BATCH, pad, device)?;
    let mut all = vec![0f32; examples.len() * width];
    for (row, logits) in all[mine.start * width..].chunks_mut(width).zip(&part) {
        row.copy_from_slice(logits);
    }
    let n = all.len();
    let sum: Vec<f32> = world
        .all_reduce_sum(&Tensor::from_vec(all, n, &Device::Cpu)?)?
        .to_vec1()?;
    Ok(sum.chunks(width.max(1)).map(<[f32]>::to_vec).collect())
}

/// Fine-tunes `model_dir` on the task with the ReLU classifier head (the teacher, and the
/// no-distillation baselines); the best dev checkpoint is kept when a dev set is given.
pub fn finetune(
    model_dir: &Path,
    data: &TaskData,
    dev: Option<&mut dyn DevEval>,
    cfg: &FinetuneConfig,
    label: &str,
    device: &Device,
    run: &RunOptions,
) -> Result<RunResult> {
    let task = data.task;
    let train_ds = open_task_data(model_dir, data, dev.as_deref())?;
    let opts = ModelOptions {
        device: device.clone(),
        trainable: Trainable::All,
        seed: cfg.train.seed,
        heads: Heads {
            classifier: Want::Always(num_labels(&train_ds, task)),
            ..Heads::NONE
        },
        ..Default::default()
    };
    let mut model = Model::load(model_dir, &opts)?;
    if !task.is_regression() {
        model.config.set_labels(&train_ds.meta.labels);
    }
    centre_regression_head(&model, &train_ds.examples)?;
    scale_pooler(&model, cfg.pooler_scale)?;
    let dev_name = dev.as_deref().map(|d| d.describe());
    let echo = serde_json::json!({ "stage": "finetune", "task": task.name(), "model": model_dir, "train": data.train, "dev": dev_name, "config": cfg });
    let mut obj = GoldObjective {
        model: &model,
        data: &train_ds.examples,
        pad_id: train_ds.meta.pad_id,
        regression: task.is_regression(),
        device: device.clone(),
    };
    let result = train(
        &model,
        train_ds.len(),
        &cfg.train,
        &echo,
        &mut obj,
        dev,
        &[],
        &run.tokenizer_defaulting_to(model_dir),
    )?;
    let summary = task_summary("finetune", task, label, &model, &result, train_ds.len());
    write_summary(&run.output, &summary)?;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_baselines_standard_error_is_a_proportions_or_a_null_correlations() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        // Accuracy (RTE) and MRPC's selection on accuracy: √(b(1 − b)/n).
        assert!(close(
            baseline_standard_error(Task::RTE, 0.527, 277),
            (0.527f64 * 0.473 / 277.0).sqrt()
        ));
        assert!(close(
            baseline_standard_error(Task::MRPC, 0.684, 408),
            (0.684f64 * 0.316 / 408.0).sqrt()
        ));
        // Correlations whose baseline is 0: 1/√n.
        assert!(close(
            baseline_standard_error(Task::COLA, 0.0, 1043),
            1.0 / 1043f64.sqrt()
        ));
        assert!(close(
            baseline_standard_error(Task::STSB, 0.0, 1500),
            1.0 / 1500f64.sqrt()
        ));
    }
}
