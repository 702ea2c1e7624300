//! The training engine's policies on a tiny classifier: a NaN gradient or loss stops the run
//! before anything is saved after the step (or is skipped with `nonfinite = "skip"`), a model
//! with non-finite weights is never written, and a resumed run may change the learning rate
//! and the length, saying so, with the schedule recomputed over the new total.

mod common;

use common::{config, examples, model, Messages};
use serde_json::json;
use tinybert_data::{collate, Example, Padding};
use tinybert_distill::train::{train, Loss, Objective, Pass, Quiet, RunOptions};
use tinybert_distill::{Error, NonFinite, Schedule, TrainConfig};
use tinybert_model::Model;
use tinybert_testkit::{assert_close, Tol};

/// Cross-entropy on gold labels, plus `sqrt(sum(b - detach(b)))` for `b` = `classifier.bias` at
/// the steps of `nan_grad_at` (0-based): 0 is added to the loss, but the gradient of `b` is
/// infinite; a NaN loss at the steps of `nan_loss_at`.
struct Gold<'a> {
    model: &'a Model,
    data: Vec<Example>,
    nan_grad_at: Vec<usize>,
    nan_loss_at: Vec<usize>,
    /// The examples of every step's batch, in step order.
    batches: Vec<Vec<usize>>,
}

impl<'a> Gold<'a> {
    /// The objective on 8 examples for `model`.
    fn new(model: &'a Model, nan_grad_at: &[usize], nan_loss_at: &[usize]) -> Self {
        Gold {
            model,
            data: examples(8),
            nan_grad_at: nan_grad_at.to_vec(),
            nan_loss_at: nan_loss_at.to_vec(),
            batches: Vec::new(),
        }
    }
}

impl Objective for Gold<'_> {
    fn loss(&mut self, pass: &Pass) -> tinybert_distill::Result<Loss> {
        let step = pass.step;
        if pass.range.start == 0 {
            self.batches.push(pass.batch.to_vec());
        }
        let items: Vec<&Example> = pass.indices().iter().map(|&i| &self.data[i]).collect();
        let b = collate(&items, Padding::Longest, 0)?.to_tensors(&candle_core::Device::Cpu)?;
        let out = self
            .model
            .forward_t(&b.input_ids, &b.token_type_ids, &b.attention_mask, true)?;
        let logits = self.model.logits(&out)?;
        let mut total = candle_nn::loss::cross_entropy(&logits, b.labels.as_ref().unwrap())?;
        if self.nan_grad_at.contains(&step) {
            let (_, bias) = self
                .model
                .vars()
                .into_iter()
                .find(|(n, _)| *n == "classifier.bias")
                .unwrap();
            let b = bias.as_tensor();
            total = (total + (b - b.detach())?.sum_all()?.sqrt()?)?;
        }
        if self.nan_loss_at.contains(&step) {
            total = (total * f64::NAN)?;
        }
        Ok(Loss {
            terms: vec![],
            total,
        })
    }

    fn terms(&self) -> &'static [&'static str] {
        &[]
    }

    fn lengths(&self) -> Vec<usize> {
        self.data.iter().map(|e| e.input_ids.len()).collect()
    }
}

fn cfg(max_steps: usize) -> TrainConfig {
    let mut c = TrainConfig {
        epochs: 10,
        max_steps: Some(max_steps),
        batch_size: 4,
        save_every: 1,
        log_every: 1,
        ..TrainConfig::default()
    };
    c.optimizer.lr = 1e-3;
    c.optimizer.schedule = Schedule::Constant;
    c
}

fn echo(c: &TrainConfig) -> serde_json::Value {
    json!({"stage": "test", "config": {"train": c}})
}

fn run(
    out: &std::path::Path,
    c: &TrainConfig,
    nan_grad_at: &[usize],
    nan_loss_at: &[usize],
) -> (
    Model,
    tinybert_distill::Result<tinybert_distill::train::RunResult>,
) {
    let m = model(&config(1, 8), Some(2), 3);
    let mut obj = Gold::new(&m, nan_grad_at, nan_loss_at);
    let r = train(&m, 8, c, &echo(c), &mut obj, None, &[], &fresh(out));
    (m, r)
}

/// A fresh run into `out`, quiet.
fn fresh(out: &std::path::Path) -> RunOptions<'static> {
    RunOptions {
        output: out.to_path_buf(),
        resume: None,
        tokenizer_from: None,
        progress: &Quiet,
        stop: None,
    }
}

fn steps_logged(out: &std::path::Path) -> Vec<u64> {
    tinybert_run::read_metrics(&out.join("metrics.jsonl"))
        .unwrap()
        .iter()
        .map(|r| r.step)
        .collect()
}

fn checkpoint_step(out: &std::path::Path) -> u64 {
    let s: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("checkpoint/trainer_state.json")).unwrap(),
    )
    .unwrap();
    s["step"].as_u64().unwrap()
}

#[test]
fn group_by_length_batches_examples_of_similar_length_and_sees_each_once_an_epoch() {
    // examples(8) has lengths 4 5 6 7 8 4 5 6: sorted, the batches of 4 are {2, 3, 4, 7} and
    // {0, 1, 5, 6}.
    let batches_of = |group: bool| {
        let tmp = tempfile::tempdir().unwrap();
        let mut c = cfg(20);
        c.group_by_length = group;
        let m = model(&config(1, 8), Some(2), 3);
        let mut obj = Gold::new(&m, &[], &[]);
        train(
            &m,
            8,
            &c,
            &echo(&c),
            &mut obj,
            None,
            &[],
            &fresh(tmp.path()),
        )
        .unwrap();
        obj.batches
            .into_iter()
            .map(|mut b| {
                b.sort();
                b
            })
            .collect::<Vec<_>>()
    };
    let (long, short) = (vec![2, 3, 4, 7], vec![0, 1, 5, 6]);
    let grouped = batches_of(true);
    assert_eq!(grouped.len(), 20);
    for epoch in grouped.chunks(2) {
        assert!(epoch.contains(&long) && epoch.contains(&short), "{epoch:?}");
    }
    // Both orders of the two batches occur, and ungrouped batches mix lengths.
    assert!(grouped.chunks(2).any(|e| e[0] == long) && grouped.chunks(2).any(|e| e[0] == short));
    assert!(batches_of(false).iter().any(|b| *b != long && *b != short));
}

#[test]
fn a_nan_gradient_stops_the_run_naming_step_parameter_and_last_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let (_, r) = run(&out, &cfg(4), &[2], &[]);
    let err = r.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::NonFinite { step: 3, .. }), "{msg}");
    assert!(
        msg.contains("gradient of `classifier.bias`")
            && msg.contains(&out.join("checkpoint").display().to_string())
            && msg.contains("at step 2"),
        "{msg}"
    );
    // Nothing was written after step 2: the checkpoint is step 2's, no output model.
    assert_eq!(checkpoint_step(&out), 2);
    assert_eq!(steps_logged(&out), [1, 2]);
    assert!(!out.join("model.safetensors").exists());
    let saved = candle_core::safetensors::load(
        out.join("checkpoint/model.safetensors"),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    for (name, t) in &saved {
        assert_close(name, t, t, Tol::exact()); // fails on NaN or infinity
    }
}

#[test]
fn a_nan_loss_stops_the_run_before_its_backward_pass() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let (_, r) = run(&out, &cfg(4), &[], &[1]);
    let msg = r.unwrap_err().to_string();
    assert!(
        msg.contains("non-finite loss (NaN) at step 2") && msg.contains("at step 1"),
        "{msg}"
    );
    assert_eq!(checkpoint_step(&out), 1);
}

#[test]
fn with_skip_a_nan_step_makes_no_update_and_is_logged() {
    let tmp = tempfile::tempdir().unwrap();
    // Two clean steps, against two clean steps and a skipped third.
    let (clean, r) = run(&tmp.path().join("clean"), &cfg(2), &[], &[]);
    r.unwrap();
    let mut skip = cfg(3);
    skip.nonfinite = NonFinite::Skip;
    skip.max_skipped_steps = 1;
    let out = tmp.path().join("skip");
    let (skipped, r) = run(&out, &skip, &[2], &[]);
    let r = r.unwrap();
    assert_eq!((r.steps, r.skipped_steps), (3, 1));
    for ((name, a), (_, b)) in clean.vars().into_iter().zip(skipped.vars()) {
        assert_close(name, b.as_tensor(), a.as_tensor(), Tol::exact());
    }
    let records = tinybert_run::read_metrics(&out.join("metrics.jsonl")).unwrap();
    let third = &records[2];
    assert_eq!(third.step, 3);
    assert!(
        third.extra["skipped"]
            .as_str()
            .unwrap()
            .contains("gradient of `classifier.bias`"),
        "{third:?}"
    );
    assert_eq!(checkpoint_step(&out), 3);
}

#[test]
fn with_skip_too_many_nan_steps_in_a_row_stop_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let mut skip = cfg(4);
    skip.nonfinite = NonFinite::Skip;
    skip.max_skipped_steps = 1;
    let (_, r) = run(&tmp.path().join("run"), &skip, &[1, 2], &[]);
    let msg = r.unwrap_err().to_string();
    assert!(
        msg.contains("at step 3") && msg.contains("the 2 step in a row (max_skipped_steps 1)"),
        "{msg}"
    );
}

#[test]
fn weights_that_overflow_are_never_saved() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let mut c = cfg(2);
    c.optimizer.lr = 1e39; // infinite as f32: the first update makes the weights non-finite
    let (_, r) = run(&out, &c, &[], &[]);
    let msg = r.unwrap_err().to_string();
    assert!(
        msg.contains("non-finite parameter `") && msg.contains("no checkpoint was saved"),
        "{msg}"
    );
    assert!(!out.join("checkpoint").exists());
    assert!(!out.join("model.safetensors").exists());
}

#[test]
fn a_resumed_run_may_change_the_learning_rate_and_length_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let mut first = cfg(2);
    first.optimizer.lr = 3e-4;
    first.optimizer.schedule = Schedule::WarmupLinear;
    first.optimizer.warmup = 0.5;
    run(&out, &first, &[], &[]).1.unwrap();

    let mut second = first.clone();
    second.optimizer.lr = 1e-4;
    second.max_steps = Some(4);
    let m = model(&config(1, 8), Some(2), 3);
    let mut obj = Gold::new(&m, &[], &[]);
    let messages = Messages::default();
    let opts = RunOptions {
        output: out.clone(),
        resume: Some(out.clone()),
        tokenizer_from: None,
        progress: &messages,
        stop: None,
    };
    let r = train(&m, 8, &second, &echo(&second), &mut obj, None, &[], &opts).unwrap();
    assert_eq!(r.steps, 4);
    let said = messages.all().join("\n");
    assert!(said.contains("resuming with lr 1e-4 (was 3e-4)"), "{said}");
    assert!(
        said.contains("resuming with max_steps 4 (was 2): 4 steps in all"),
        "{said}"
    );
    // warmup_linear over 2 steps, then over 4: step s uses the schedule of its total at s.
    let lrs: Vec<f64> = tinybert_run::read_metrics(&out.join("metrics.jsonl"))
        .unwrap()
        .iter()
        .map(|r| r.lr.unwrap())
        .collect();
    assert_close("lr", &lrs, &vec![0.0, 3e-4, 1e-4, 5e-5], Tol::rel(1e-12));

    // Anything else is refused, naming the key.
    let mut third = second.clone();
    third.batch_size = 2;
    let opts = RunOptions {
        output: out.clone(),
        resume: Some(out.clone()),
        tokenizer_from: None,
        progress: &Quiet,
        stop: None,
    };
    let err = train(&m, 8, &third, &echo(&third), &mut obj, None, &[], &opts)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot resume") && err.contains("config.train.batch_size"),
        "{err}"
    );
}

/// Dev scores read from a script, one per evaluation.
struct ScriptedDev(std::vec::IntoIter<f64>);

impl tinybert_run::DevEval for ScriptedDev {
    fn task(&self) -> &str {
        "RTE"
    }
    fn describe(&self) -> String {
        "scripted".into()
    }
    fn examples(&self) -> usize {
        100
    }
    fn evaluate(&mut self, _model: &Model) -> tinybert_run::Result<tinybert_run::Scores> {
        let score = self.0.next().unwrap_or(0.0);
        Ok(tinybert_run::Scores {
            accuracy: Some(score),
            score,
            ..tinybert_run::Scores::empty()
        })
    }
    fn baseline(&self) -> tinybert_run::Result<tinybert_run::Scores> {
        Ok(tinybert_run::Scores::empty())
    }
}

#[test]
fn with_patience_the_run_stops_once_the_dev_score_stops_improving_and_keeps_the_best() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(20);
    c.eval_every = 1;
    c.patience = Some(3);
    let m = model(&config(1, 8), Some(2), 3);
    let mut obj = Gold::new(&m, &[], &[]);
    // Best at step 2; steps 3, 4 and 5 do not improve on it.
    let mut run = |c: &TrainConfig, out: &std::path::Path| {
        let mut dev = ScriptedDev(vec![0.5, 0.7, 0.6, 0.7, 0.65, 0.9].into_iter());
        train(
            &m,
            8,
            c,
            &echo(c),
            &mut obj,
            Some(&mut dev),
            &[],
            &fresh(out),
        )
        .unwrap()
    };
    let r = run(&c, dir.path());
    assert_eq!(r.steps, 5);
    assert_eq!(steps_logged(dir.path()), [1, 2, 3, 4, 5]);
    let (best, step) = r.best.unwrap();
    assert_eq!((best.score, step), (0.7, 2));
    // Without patience the same script runs all 20 steps.
    let dir = tempfile::tempdir().unwrap();
    c.patience = None;
    assert_eq!(run(&c, dir.path()).steps, 20);
}

#[test]
fn snapshot_every_keeps_the_model_of_every_nth_step_and_the_last_equals_the_output() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let mut c = cfg(4);
    c.snapshot_every = 2;
    let (_, r) = run(&out, &c, &[], &[]);
    r.unwrap();
    let snaps = out.join("snapshots");
    let mut names: Vec<String> = std::fs::read_dir(&snaps)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["step-2", "step-4"]);
    let weights = |dir: &std::path::Path| std::fs::read(dir.join("model.safetensors")).unwrap();
    assert_eq!(weights(&snaps.join("step-4")), weights(&out));
    assert_ne!(weights(&snaps.join("step-2")), weights(&out));
    let loaded = Model::load(&snaps.join("step-2"), &Default::default()).unwrap();
    assert!(loaded.num_params() > 0);
}
