//! Task runs on tiny models: a training set of another task is refused naming both tasks and
//! the file, so is a dev set of another task, and task distillation checks the teacher against
//! the dev set's majority-class baseline first (refused, forced, or passed), recording both in
//! `summary.json`.

mod common;

use common::{config, dataset, model, save, vocab};
use std::path::{Path, PathBuf};
use tinybert_data::Task;
use tinybert_distill::train::{finetune, task_distill, DevEval, Quiet, RunOptions, TaskData};
use tinybert_distill::{FinetuneConfig, Phase, TaskDistillConfig, TrainConfig};
use tinybert_model::Model;
use tinybert_run::{Scores, Summary};

/// A dev evaluation with fixed answers: `teacher` for the first model evaluated (the teacher,
/// in task distillation), `student` after; `baseline` as the baseline, on `examples` examples.
struct Scripted {
    task: &'static str,
    teacher: f64,
    student: f64,
    baseline: f64,
    examples: usize,
    calls: usize,
}

fn acc(x: f64) -> Scores {
    Scores {
        accuracy: Some(x),
        score: x,
        ..Scores::empty()
    }
}

impl DevEval for Scripted {
    fn task(&self) -> &str {
        self.task
    }
    fn describe(&self) -> String {
        format!("{} scripted dev set", self.task)
    }
    fn examples(&self) -> usize {
        self.examples
    }
    fn evaluate(&mut self, _model: &Model) -> tinybert_run::Result<Scores> {
        self.calls += 1;
        Ok(acc(if self.calls == 1 {
            self.teacher
        } else {
            self.student
        }))
    }
    fn baseline(&self) -> tinybert_run::Result<Scores> {
        Ok(acc(self.baseline))
    }
}

struct Setup {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    teacher: PathBuf,
    student: PathBuf,
    train: PathBuf,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let v = vocab(&root);
    let teacher = save(
        &model(&config(2, 16), Some(2), 1),
        &root.join("teacher"),
        &v,
    );
    let student = save(&model(&config(1, 8), None, 2), &root.join("student"), &v);
    let train = dataset(&root.join("rte-train"), &v, Task::RTE, 12);
    Setup {
        _tmp: tmp,
        root,
        teacher,
        student,
        train,
    }
}

fn short(mut t: TrainConfig) -> TrainConfig {
    t.max_steps = Some(2);
    t.batch_size = 4;
    t
}

/// Fine-tunes `model` for one step at a learning rate too small to move the weights, so the
/// output holds them as `finetune` prepared them.
fn one_step_at_a_negligible_rate(
    model: &Path,
    task: Task,
    train: PathBuf,
    mut cfg: FinetuneConfig,
    out: &Path,
) {
    cfg.train = short(cfg.train);
    cfg.train.max_steps = Some(1);
    cfg.train.optimizer.lr = 1e-12;
    let data = TaskData { task, train };
    finetune(
        model,
        &data,
        None,
        &cfg,
        "m",
        &candle_core::Device::Cpu,
        &opts(out),
    )
    .unwrap();
}

fn opts(out: &Path) -> RunOptions<'static> {
    RunOptions {
        output: out.to_path_buf(),
        resume: None,
        tokenizer_from: None,
        progress: &Quiet,
        stop: None,
    }
}

fn distill_cfg(phase: Phase, force: bool) -> TaskDistillConfig {
    let mut c = TaskDistillConfig::for_phase(phase, Some(Task::RTE));
    c.train = short(c.train);
    c.force_weak_teacher = force;
    c
}

/// A large dev set: its standard error is below `teacher_margin`, which then decides.
fn scripted(task: &'static str, teacher: f64, baseline: f64) -> Scripted {
    Scripted {
        task,
        teacher,
        student: 0.5,
        baseline,
        examples: 100_000,
        calls: 0,
    }
}

#[test]
fn a_training_set_of_another_task_is_refused_naming_both_and_the_file() {
    let s = setup();
    let data = TaskData {
        task: Task::SST2,
        train: s.train.clone(),
    };
    let mut cfg = FinetuneConfig::default();
    cfg.train = short(cfg.train);
    let out = s.root.join("ft");
    let err = finetune(
        &s.teacher,
        &data,
        None,
        &cfg,
        "m",
        &candle_core::Device::Cpu,
        &opts(&out),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with(&s.train.display().to_string())
            && err.contains("records task RTE, but the run is for task SST-2"),
        "{err}"
    );
    let data = TaskData {
        task: Task::RTE,
        train: s.train.clone(),
    };
    let mut dev = scripted("MRPC", 0.9, 0.5);
    let err = task_distill(
        &s.teacher,
        &s.student,
        &data,
        Some(&mut dev),
        &distill_cfg(Phase::Intermediate, false),
        "TinyBERT",
        &candle_core::Device::Cpu,
        &opts(&out),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("MRPC scripted dev set is for task MRPC, but the run is for task RTE"),
        "{err}"
    );
}

#[test]
fn a_teacher_not_clearly_above_the_majority_class_is_refused_unless_forced() {
    let s = setup();
    let data = TaskData {
        task: Task::RTE,
        train: s.train.clone(),
    };
    let out = s.root.join("td");
    let run = |force: bool, teacher: f64, out: &Path| {
        let mut dev = scripted("RTE", teacher, 0.51);
        let r = task_distill(
            &s.teacher,
            &s.student,
            &data,
            Some(&mut dev),
            &distill_cfg(Phase::Prediction, force),
            "TinyBERT",
            &candle_core::Device::Cpu,
            &opts(out),
        );
        (r, dev.calls)
    };
    // 0.52 < 0.51 + 0.02: refused before any training.
    let (r, calls) = run(false, 0.52, &out);
    let err = r.unwrap_err().to_string();
    assert!(
        err.starts_with("RTE: the teacher scores 0.5200 on RTE scripted dev set")
            && err.contains("baseline 0.5100")
            && err.contains("force_weak_teacher"),
        "{err}"
    );
    assert_eq!(calls, 1);
    assert!(!out.join("metrics.jsonl").exists());

    // Forced: trained, and both numbers recorded.
    let (r, _) = run(true, 0.52, &out);
    r.unwrap();
    let summary = Summary::load(&out.join("summary.json")).unwrap();
    assert_eq!(summary.teacher_dev.as_ref().map(|s| s.score), Some(0.52));
    assert_eq!(summary.baseline.as_ref().map(|s| s.score), Some(0.51));
    assert_eq!(summary.stage.as_deref(), Some("task-distill"));
    assert_eq!(summary.task.as_deref(), Some("RTE"));

    // Clearly above: no force needed; the prediction phase also keeps its best dev score.
    let out = s.root.join("td-ok");
    let (r, calls) = run(false, 0.6, &out);
    let r = r.unwrap();
    assert!(calls >= 2, "teacher, then the student's evaluations");
    let summary = Summary::load(&out.join("summary.json")).unwrap();
    assert_eq!(summary.teacher_dev.map(|s| s.score), Some(0.6));
    assert_eq!(summary.dev.map(|s| s.score), Some(0.5));
    assert_eq!(summary.step, r.best.map(|(_, step)| step as u64));
}

#[test]
fn on_a_small_dev_set_the_teacher_must_lead_the_baseline_by_two_standard_errors() {
    let s = setup();
    let data = TaskData {
        task: Task::RTE,
        train: s.train.clone(),
    };
    // RTE's dev set: 277 examples, majority class 52.7%; one standard error is 3.0 points.
    let run = |teacher: f64, out: &Path| {
        let mut dev = Scripted {
            examples: 277,
            ..scripted("RTE", teacher, 0.527)
        };
        task_distill(
            &s.teacher,
            &s.student,
            &data,
            Some(&mut dev),
            &distill_cfg(Phase::Prediction, false),
            "TinyBERT",
            &candle_core::Device::Cpu,
            &opts(out),
        )
    };
    // 55.6 is 2.9 points above: more than teacher_margin, less than two standard errors.
    let err = run(0.556, &s.root.join("weak")).unwrap_err().to_string();
    assert!(
        err.contains("at least 0.5870 is needed")
            && err.contains("teacher_margin_se 2 standard errors of 277 dev examples, 2 x 0.0300"),
        "{err}"
    );
    run(0.59, &s.root.join("strong")).unwrap();
}

#[test]
fn a_teacher_whose_labels_are_not_the_tasks_is_refused_unless_forced() {
    let s = setup();
    let mut teacher = model(&config(2, 16), Some(2), 1);
    let swapped = ["not_entailment".to_string(), "entailment".to_string()];
    teacher.config.set_labels(&swapped);
    let dir = save(&teacher, &s.root.join("teacher-swapped"), &vocab(&s.root));
    let data = TaskData {
        task: Task::RTE,
        train: s.train.clone(),
    };
    let run = |force: bool, out: &Path| {
        let mut cfg = distill_cfg(Phase::Intermediate, false);
        cfg.force_label_order = force;
        task_distill(
            &dir,
            &s.student,
            &data,
            None,
            &cfg,
            "TinyBERT",
            &candle_core::Device::Cpu,
            &opts(out),
        )
    };
    let out = s.root.join("td-swapped");
    let err = run(false, &out).unwrap_err().to_string();
    assert!(
        err.contains("id2label is [not_entailment, entailment]")
            && err.contains("RTE expects [entailment, not_entailment]")
            && err.contains("another order")
            && err.contains("force_label_order"),
        "{err}"
    );
    assert!(!out.join("metrics.jsonl").exists());
    run(true, &out).unwrap();
}

#[test]
fn a_fresh_regression_head_starts_at_the_mean_training_score() {
    let s = setup();
    let train = dataset(&s.root.join("stsb-train"), &vocab(&s.root), Task::STSB, 12);
    let mean = {
        let ds = tinybert_data::GlueDataset::open(&train).unwrap();
        let scores: Vec<f32> = ds.examples.iter().filter_map(|e| e.label.score()).collect();
        scores.iter().sum::<f32>() / scores.len() as f32
    };
    assert!(mean > 1.5, "the scores are not centred already: {mean}");
    let out = s.root.join("ft-stsb");
    // The student folder has no classifier: it is created for the run.
    one_step_at_a_negligible_rate(
        &s.student,
        Task::STSB,
        train,
        FinetuneConfig::default(),
        &out,
    );
    let model = Model::load(
        &out,
        &tinybert_model::ModelOptions {
            heads: tinybert_model::Heads {
                classifier: tinybert_model::Want::Always(1),
                ..tinybert_model::Heads::NONE
            },
            ..Default::default()
        },
    )
    .unwrap();
    let bias = model
        .classifier
        .unwrap()
        .classifier
        .bias
        .to_vec1::<f32>()
        .unwrap()[0];
    assert!((bias - mean).abs() < 1e-4, "bias {bias}, mean score {mean}");
}

#[test]
fn finetuning_writes_the_one_summary_shape() {
    let s = setup();
    let data = TaskData {
        task: Task::RTE,
        train: s.train.clone(),
    };
    let mut cfg = FinetuneConfig::default();
    cfg.train = short(cfg.train);
    let out = s.root.join("ft");
    let mut dev = scripted("RTE", 0.7, 0.5);
    let r = finetune(
        &s.teacher,
        &data,
        Some(&mut dev),
        &cfg,
        "teacher",
        &candle_core::Device::Cpu,
        &opts(&out),
    )
    .unwrap();
    let summary = Summary::load(&out.join("summary.json")).unwrap();
    assert_eq!(summary.stage.as_deref(), Some("finetune"));
    assert_eq!(summary.model.as_deref(), Some("teacher"));
    assert_eq!(summary.steps, Some(2));
    assert_eq!(summary.examples, Some(12));
    assert_eq!(summary.dev.map(|d| d.score), r.best.map(|(s, _)| s.score));
    assert!(summary.teacher_dev.is_none() && summary.baseline.is_none());
}

#[test]
fn pooler_scale_multiplies_the_loaded_pooler_weight() {
    let s = setup();
    let pooler = |dir: &Path| {
        tinybert_model::weights::read_safetensors(&dir.join("model.safetensors")).unwrap()
            ["pooler.dense.weight"]
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    };
    let cfg = FinetuneConfig {
        pooler_scale: 10.0,
        ..FinetuneConfig::default()
    };
    let out = s.root.join("ft-pooler");
    one_step_at_a_negligible_rate(&s.teacher, Task::RTE, s.train.clone(), cfg, &out);
    let (before, after) = (pooler(&s.teacher), pooler(&out));
    assert!(before.iter().any(|w| w.abs() > 1e-3));
    for (b, a) in before.iter().zip(&after) {
        assert!((a - 10.0 * b).abs() < 1e-4, "{a} is not 10 x {b}");
    }
}
