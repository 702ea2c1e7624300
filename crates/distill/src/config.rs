//! Stage configurations with the paper's defaults (SPEC §3, §4, §6). Every run echoes its
//! config into its output folder (`train_config.json`).
//!
//! There is no sequence length here: it is fixed when the data is tokenised (`data corpus`,
//! `data glue`, `data augment` take `max_seq_len`; the length is recorded in each dataset), and
//! the trainers use the sequences as stored. A `max_seq_len` key in a `train` table is an
//! unknown key.

use crate::losses::{Compat, LossWeights};
use crate::mapping::LayerMapping;
use crate::optim::{BertAdamConfig, Schedule};
use serde::{Deserialize, Serialize};
use tinybert_data::Task;
use tinybert_model::{FitDenseKind, Precision};

/// What the trainer does at a step whose loss or gradient is NaN or infinite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NonFinite {
    /// Stop with an error naming the step, the offending loss or parameter, and the last
    /// checkpoint (written before the step, so it holds finite weights). Nothing is saved
    /// after the step.
    #[default]
    Stop,
    /// Skip the step: no update (weights and optimizer moments stay as they were; the
    /// learning-rate schedule advances as for any step), a `skipped` line in `metrics.jsonl`,
    /// and an error after `max_skipped_steps` consecutive skipped steps.
    Skip,
}

/// What every trainer shares: the loop, the optimizer, checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    pub epochs: usize,
    /// Stop after this many optimizer steps (also caps the schedule's t_total).
    pub max_steps: Option<usize>,
    /// Examples per optimizer step.
    pub batch_size: usize,
    /// Examples per forward/backward; `batch_size` is reached by gradient accumulation.
    pub micro_batch_size: Option<usize>,
    pub seed: u64,
    /// Write a resumable checkpoint every N optimizer steps (0: only at the end of each epoch).
    pub save_every: usize,
    /// Append a `metrics.jsonl` line every N optimizer steps.
    pub log_every: usize,
    /// Evaluate on dev every N optimizer steps (0: at the end of each epoch), where a dev set is
    /// given.
    pub eval_every: usize,
    pub optimizer: BertAdamConfig,
    /// What a NaN or infinite loss or gradient does.
    pub nonfinite: NonFinite,
    /// With `nonfinite = "skip"`: stop after this many consecutive skipped steps.
    pub max_skipped_steps: usize,
    /// With a dev set: stop early once the dev score has not improved for this many optimizer
    /// steps (the best checkpoint is the output, as always).
    #[serde(default)]
    pub patience: Option<usize>,
    /// Keep a copy of the model every N optimizer steps in `snapshots/step-<N>/` (a Hugging
    /// Face folder each; 0: none), e.g. to measure a later stage against the steps of this one.
    pub snapshot_every: usize,
    /// Batches of examples of similar length ([`tinybert_data::length_grouped_order`]): less
    /// padding, so fewer tokens computed per step, at the price of batches that are less mixed.
    pub group_by_length: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 3,
            max_steps: None,
            batch_size: 32,
            micro_batch_size: None,
            seed: 42,
            save_every: 0,
            log_every: 10,
            eval_every: 0,
            optimizer: BertAdamConfig::default(),
            nonfinite: NonFinite::Stop,
            max_skipped_steps: 3,
            patience: None,
            snapshot_every: 0,
            group_by_length: false,
        }
    }
}

/// Options of the TinyBERT losses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LossConfig {
    pub weights: LossWeights,
    pub mapping: LayerMapping,
    pub fit_dense: FitDenseKind,
    /// Average the MSE losses over real tokens only (the reference includes padding).
    pub pad_masked: bool,
    pub temperature: f64,
    pub compat: Compat,
    /// Keep the teacher's dropout on while producing targets (reference behaviour).
    pub teacher_dropout: bool,
    /// Precision of the frozen teacher's forward (bf16: its products in bf16 on AVX-512 BF16
    /// CPUs, f32 accumulation; the student and its optimizer stay f32).
    pub teacher_precision: Precision,
}

impl Default for LossConfig {
    fn default() -> Self {
        Self {
            weights: LossWeights::default(),
            mapping: LayerMapping::Uniform,
            fit_dense: FitDenseKind::Shared,
            pad_masked: false,
            temperature: 1.0,
            compat: Compat::Paper,
            teacher_dropout: false,
            teacher_precision: Precision::F32,
        }
    }
}

/// General distillation (SPEC §4): batch 256, lr 5e-5, 3 epochs, warm-up 10% (sequence length
/// 128: the corpus stage's default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeneralDistillConfig {
    pub train: TrainConfig,
    pub loss: LossConfig,
}

impl Default for GeneralDistillConfig {
    fn default() -> Self {
        Self {
            train: TrainConfig {
                batch_size: 256,
                micro_batch_size: Some(32),
                save_every: 1000,
                ..TrainConfig::default()
            },
            loss: LossConfig::default(),
        }
    }
}

/// Task-specific distillation phase (SPEC §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// L_attn + L_hidn on the augmented set, lr 5e-5 constant, 20 epochs (10 for the large
    /// tasks, 50 for CoLA).
    #[default]
    Intermediate,
    /// L_pred (soft cross-entropy; STS-B MSE on gold), 3 epochs, warmup_linear 10%, best dev kept.
    Prediction,
}

/// Task-specific distillation (SPEC §6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TaskDistillConfig {
    pub phase: Phase,
    pub train: TrainConfig,
    pub loss: LossConfig,
    /// Compute the teacher's logits once and reuse them every epoch (prediction phase).
    pub cache_teacher: bool,
    /// The teacher guardrail: with a dev set, the teacher is evaluated before training and
    /// refused unless its selection score is at least the dev set's majority-class (or, for a
    /// regression, constant-prediction) baseline plus the larger of this margin (absolute, on
    /// the selection score: accuracy, Matthews correlation or mean correlation) and
    /// `teacher_margin_se` standard errors of the baseline's score on that dev set.
    pub teacher_margin: f64,
    /// The guardrail's margin in standard errors of the dev set's baseline score (a small dev
    /// set needs a larger lead: RTE's 277 examples, 2 standard errors = 6.0 points).
    pub teacher_margin_se: f64,
    /// Distil from a teacher that may be no better than the majority class: the guardrail
    /// only warns.
    pub force_weak_teacher: bool,
    /// Distil from a teacher whose `id2label` differs from the task's labels (names or
    /// order), taking its class i as the task's label i: the check only warns.
    pub force_label_order: bool,
}

impl Default for TaskDistillConfig {
    fn default() -> Self {
        Self::for_phase(Phase::Intermediate, None)
    }
}

impl TaskDistillConfig {
    /// The paper's settings for a phase; `task` picks the intermediate phase's epochs where
    /// the paper's differ (MNLI, QQP, QNLI 10; CoLA 50; others 20).
    pub fn for_phase(phase: Phase, task: Option<Task>) -> Self {
        let mut train = TrainConfig {
            batch_size: 32,
            ..TrainConfig::default()
        };
        match phase {
            Phase::Intermediate => {
                train.epochs = match task.map(Task::name) {
                    Some("MNLI" | "QQP" | "QNLI") => 10,
                    Some("CoLA") => 50,
                    _ => 20,
                };
                train.optimizer.schedule = Schedule::Constant;
            }
            Phase::Prediction => {
                train.epochs = 3;
                train.optimizer.lr = 3e-5;
                train.eval_every = 0;
            }
        }
        Self {
            phase,
            train,
            loss: LossConfig::default(),
            cache_teacher: false,
            teacher_margin: 0.02,
            teacher_margin_se: 2.0,
            force_weak_teacher: false,
            force_label_order: false,
        }
    }
}

/// Plain fine-tuning with the ReLU head (teacher, and the no-distillation baselines).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FinetuneConfig {
    pub train: TrainConfig,
    /// Multiplies the checkpoint's `pooler.dense.weight` before training (1: as loaded). A
    /// pooler that took no part in pre-training (a sentence encoder's: weights near 0, pooled
    /// values near 0) starts the head from almost nothing; a larger scale gives it features.
    pub pooler_scale: f64,
}

impl Default for FinetuneConfig {
    fn default() -> Self {
        Self {
            train: TrainConfig {
                optimizer: BertAdamConfig {
                    lr: 2e-5,
                    ..BertAdamConfig::default()
                },
                ..TrainConfig::default()
            },
            pooler_scale: 1.0,
        }
    }
}

/// Fitting a masked-LM head on a frozen encoder (SPEC §10): 15% masking, 80/10/10.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MlmHeadConfig {
    pub train: TrainConfig,
    pub mask_prob: f64,
    /// Train the encoder too (masked-LM pre-training of a model from scratch, e.g. the
    /// quickstart's demo teacher); by default only `cls.predictions.*` is trained.
    pub train_encoder: bool,
    /// Instances held out from the end of the corpus to measure masked-token accuracy (the dev
    /// score: the best checkpoint is kept, and `train.patience` stops the fit once it no longer
    /// improves); 0: none.
    #[serde(default)]
    pub dev_instances: usize,
}

impl Default for MlmHeadConfig {
    fn default() -> Self {
        Self {
            train: TrainConfig {
                epochs: 1,
                optimizer: BertAdamConfig {
                    lr: 1e-3,
                    ..BertAdamConfig::default()
                },
                ..TrainConfig::default()
            },
            mask_prob: 0.15,
            train_encoder: false,
            dev_instances: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinybert_testkit::assert_mentions;

    #[test]
    fn a_sequence_length_in_a_train_table_is_an_unknown_key() {
        let err = serde_json::from_str::<TrainConfig>(r#"{"max_seq_len": 64}"#)
            .unwrap_err()
            .to_string();
        assert_mentions(&err, &["unknown field `max_seq_len`"]);
    }

    #[test]
    fn the_paper_epochs_follow_the_task() {
        let epochs = |t| {
            TaskDistillConfig::for_phase(Phase::Intermediate, t)
                .train
                .epochs
        };
        assert_eq!(epochs(Some(Task::MNLI)), 10);
        assert_eq!(epochs(Some(Task::COLA)), 50);
        assert_eq!(epochs(Some(Task::RTE)), 20);
        assert_eq!(epochs(None), 20);
        let p = TaskDistillConfig::for_phase(Phase::Prediction, Some(Task::RTE));
        assert_eq!((p.train.epochs, p.train.optimizer.lr), (3, 3e-5));
        assert_eq!(
            (p.teacher_margin, p.teacher_margin_se, p.force_weak_teacher),
            (0.02, 2.0, false)
        );
    }

    #[test]
    fn the_nonfinite_policy_reads_from_its_names() {
        let t: TrainConfig =
            serde_json::from_str(r#"{"nonfinite": "skip", "max_skipped_steps": 5}"#).unwrap();
        assert_eq!((t.nonfinite, t.max_skipped_steps), (NonFinite::Skip, 5));
        assert!(serde_json::from_str::<TrainConfig>(r#"{"nonfinite": "ignore"}"#).is_err());
    }
}
