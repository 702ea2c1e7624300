//! The training loop shared by every stage.
//!
//! Data order is `shuffled_order(n, seed, epoch)` and dropout masks are reseeded from
//! `(seed, step)` at every optimizer step, so the state in `trainer_state.json` (step, epoch,
//! position) plus the weights and optimizer moments determine the rest of the run: a run resumed
//! from a checkpoint ends with the same weights as an uninterrupted one.

use super::checkpoint::{self, TrainerState, CHECKPOINT_DIR};
use crate::config::TrainConfig;
use crate::error::{Error, Result};
use crate::optim::BertAdam;
use candle_core::backprop::GradStore;
use candle_core::Tensor;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tinybert_eval::{MetricsWriter, Scores, StepRecord};
use tinybert_model::Model;

/// The loss of one micro-batch.
pub struct Loss {
    /// Differentiable scalar.
    pub total: Tensor,
    /// Named terms for logging (`att_loss`, `rep_loss`, `pred_loss`), scalars.
    pub terms: Vec<(&'static str, Tensor)>,
}

/// What a stage optimises.
pub trait Objective {
    /// Loss of the examples at `indices` (one micro-batch of optimizer step `step`, 0-based),
    /// in training mode.
    fn loss(&mut self, indices: &[usize], step: usize) -> Result<Loss>;
}

/// Dev-set evaluation during training.
pub trait DevEval {
    fn evaluate(&mut self, model: &Model) -> Result<Scores>;
}

/// Progress callbacks; the binary draws the bar.
pub trait TrainProgress: Sync {
    fn start(&self, _total_steps: usize, _done: usize) {}
    fn step(&self, _step: usize, _loss: f64, _examples_per_s: f64) {}
    fn message(&self, _msg: &str) {}
    fn finish(&self) {}
}

/// No progress output (tests, libraries).
pub struct Quiet;
impl TrainProgress for Quiet {}

/// Where and how a run writes.
pub struct RunOptions<'a> {
    pub output: PathBuf,
    /// A checkpoint folder (or a run folder holding `checkpoint/`) to continue from.
    pub resume: Option<PathBuf>,
    /// Tokenizer files copied into every saved model.
    pub tokenizer_from: Option<PathBuf>,
    pub progress: &'a dyn TrainProgress,
    /// Set by a Ctrl-C handler: the loop saves a checkpoint and stops.
    pub stop: Option<Arc<AtomicBool>>,
}

impl RunOptions<'_> {
    /// A copy borrowing the same progress sink.
    pub fn clone_ref(&self) -> Self {
        Self {
            output: self.output.clone(),
            resume: self.resume.clone(),
            tokenizer_from: self.tokenizer_from.clone(),
            progress: self.progress,
            stop: self.stop.clone(),
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub steps: usize,
    /// Best dev scores and their step, when a dev set was given.
    pub best: Option<(Scores, usize)>,
    /// Mean loss of the last logged window.
    pub last_loss: f64,
    pub examples_per_s: f64,
}

const BEST_DIR: &str = "best";
/// Test-only fault injection: the process kills itself with SIGKILL right after this step.
const KILL_ENV: &str = "TINYBERT_TEST_KILL_AFTER_STEP";

fn dropout_seed(seed: u64, step: usize) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (step as u64)
            .wrapping_add(1)
            .wrapping_mul(0xD1B5_4A32_D192_ED03)
}

/// Trains `model` (its `Var`s) on `n_examples` examples with `objective`, evaluating with `dev`
/// when given (the best dev checkpoint becomes the output model), and writes into
/// `opts.output`: the model (HF folder), `metrics.jsonl`, `train_config.json` and
/// `checkpoint/`.
#[allow(clippy::too_many_arguments)]
pub fn train(
    model: &Model,
    n_examples: usize,
    cfg: &TrainConfig,
    config_echo: &serde_json::Value,
    objective: &mut dyn Objective,
    mut dev: Option<&mut dyn DevEval>,
    extra_rngs: &[&tinybert_model::nn::DropoutRng],
    opts: &RunOptions,
) -> Result<RunResult> {
    if n_examples == 0 {
        return Err(Error::Config("the training set is empty".into()));
    }
    let batch = cfg.batch_size.max(1);
    let micro = cfg.micro_batch_size.unwrap_or(batch).clamp(1, batch);
    let steps_per_epoch = n_examples.div_ceil(batch);
    let mut t_total = steps_per_epoch * cfg.epochs;
    if let Some(m) = cfg.max_steps {
        t_total = t_total.min(m);
    }
    if t_total == 0 {
        return Err(Error::Config(
            "nothing to train: epochs (or max_steps) is 0".into(),
        ));
    }
    let out = &opts.output;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let echo = serde_json::to_string_pretty(config_echo).expect("config serialises");
    tinybert_model::io::write_atomic(&out.join("train_config.json"), echo.as_bytes())?;

    let vars: Vec<(String, candle_core::Var)> = model
        .vars()
        .into_iter()
        .map(|(n, v)| (n.to_string(), v.clone()))
        .collect();
    if vars.is_empty() {
        return Err(Error::Config(
            "the model has no trainable parameters".into(),
        ));
    }
    let var_tensors: Vec<Tensor> = vars.iter().map(|(_, v)| v.as_tensor().clone()).collect();
    let mut opt = BertAdam::new(vars, cfg.optimizer, t_total)?;
    let mut state = TrainerState {
        step: 0,
        epoch: 0,
        position: 0,
        t_total,
        best: None,
        config: config_echo.clone(),
    };
    let mut metrics = match &opts.resume {
        Some(path) => {
            let dir = checkpoint::checkpoint_dir(path);
            state = checkpoint::read_state(&dir)?;
            let diff = checkpoint::config_diff(&state.config, config_echo);
            if !diff.is_empty() {
                return Err(Error::Config(format!(
                    "{}: cannot resume with a different config (changed: {})",
                    dir.display(),
                    diff.join(", ")
                )));
            }
            checkpoint::restore_weights(&dir, model)?;
            opt.load(&dir.join(checkpoint::OPTIMIZER_FILE))?;
            truncate_metrics(out, state.step)?;
            opts.progress.message(&format!(
                "resuming from {} at step {}",
                dir.display(),
                state.step
            ));
            MetricsWriter::append(out)?
        }
        None => MetricsWriter::create(out)?,
    };
    let ckpt_dir = out.join(CHECKPOINT_DIR);
    let tok = opts.tokenizer_from.as_deref();
    let kill_after: Option<usize> = std::env::var(KILL_ENV).ok().and_then(|v| v.parse().ok());
    opts.progress.start(t_total, state.step);

    let mut window = Window::default();
    let mut last_loss = f64::NAN;
    let mut last_rate = 0.0;
    let mut best_scores: Option<(Scores, usize)> = None;
    while state.step < t_total {
        let order = tinybert_data::shuffled_order(n_examples, cfg.seed, state.epoch as u64);
        let end = (state.position + batch).min(n_examples);
        let chunk = &order[state.position..end];
        let t0 = Instant::now();
        let seed = dropout_seed(cfg.seed, state.step);
        model.bert.dropout_rng().reseed(seed);
        for (i, rng) in extra_rngs.iter().enumerate() {
            rng.reseed(seed ^ (i as u64 + 1));
        }
        let n_micro = chunk.len().div_ceil(micro);
        let mut grads: Option<GradStore> = None;
        let mut loss_sum = 0.0;
        let mut terms_sum: Vec<(&'static str, f64)> = Vec::new();
        for part in chunk.chunks(micro) {
            let loss = objective.loss(part, state.step)?;
            let value = loss.total.to_scalar::<f32>()?;
            if !value.is_finite() {
                return Err(Error::NonFinite {
                    step: state.step + 1,
                    loss: value,
                    checkpoint: if ckpt_dir.exists() {
                        ckpt_dir.display().to_string()
                    } else {
                        "(none yet)".into()
                    },
                });
            }
            loss_sum += value as f64 / n_micro as f64;
            for (i, (name, t)) in loss.terms.iter().enumerate() {
                let v = t.to_scalar::<f32>()? as f64 / n_micro as f64;
                match terms_sum.get_mut(i) {
                    Some(slot) => slot.1 += v,
                    None => terms_sum.push((name, v)),
                }
            }
            let scaled = if n_micro > 1 {
                (loss.total / n_micro as f64)?
            } else {
                loss.total
            };
            let g = scaled.backward()?;
            grads = Some(match grads {
                None => g,
                Some(mut acc) => {
                    for t in &var_tensors {
                        if let Some(new) = g.get(t) {
                            let sum = match acc.get(t) {
                                Some(old) => (old + new)?,
                                None => new.clone(),
                            };
                            acc.insert(t, sum);
                        }
                    }
                    acc
                }
            });
        }
        let lr = opt.step(grads.as_ref().expect("at least one micro-batch"))?;
        state.step += 1;
        state.position = end;
        let epoch_done = state.position >= n_examples;
        window.add(
            loss_sum,
            &terms_sum,
            chunk.len(),
            t0.elapsed().as_secs_f64(),
        );
        let fraction = state.epoch as f64 + state.position as f64 / n_examples as f64;
        if epoch_done {
            state.epoch += 1;
            state.position = 0;
        }
        let last = state.step == t_total;
        let mut record = None;
        if state.step % cfg.log_every.max(1) == 0 || last {
            let (loss, terms, rate) = window.take();
            last_loss = loss;
            last_rate = rate;
            let mut r = StepRecord::new(state.step as u64);
            r.epoch = Some(fraction);
            r.lr = Some(lr);
            r.loss = Some(loss);
            for (name, v) in terms {
                r.extra.insert(name.to_string(), serde_json::json!(v));
            }
            r.extra
                .insert("examples_per_s".into(), serde_json::json!(rate));
            record = Some(r);
        }
        opts.progress.step(state.step, loss_sum, last_rate);
        let eval_now = match cfg.eval_every {
            0 => epoch_done || last,
            n => state.step % n == 0 || last,
        };
        if let (true, Some(d)) = (eval_now, dev.as_deref_mut()) {
            let scores = d.evaluate(model)?;
            let improved = state.best.is_none_or(|(b, _)| scores.score > b);
            opts.progress.message(&format!(
                "step {}: dev score {:.4}{}",
                state.step,
                scores.score,
                if improved { " (best)" } else { "" }
            ));
            if improved {
                state.best = Some((scores.score, state.step));
                best_scores = Some((scores.clone(), state.step));
                model.save(&out.join(BEST_DIR), tok)?;
            }
            record.get_or_insert_with(|| {
                let mut r = StepRecord::new(state.step as u64);
                r.epoch = Some(fraction);
                r
            });
            if let Some(r) = record.as_mut() {
                r.dev = Some(scores);
            }
        }
        if let Some(r) = &record {
            metrics.write(r)?;
        }
        let stop = opts.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst));
        let save_now =
            (cfg.save_every > 0 && state.step % cfg.save_every == 0) || epoch_done || last || stop;
        if save_now {
            checkpoint::save(&ckpt_dir, model, &opt, &state, tok)?;
        }
        if stop && !last {
            return Err(Error::Interrupted {
                step: state.step,
                checkpoint: ckpt_dir.display().to_string(),
            });
        }
        if kill_after == Some(state.step) {
            kill_self();
        }
    }
    // The output model: the best dev checkpoint when evaluating, else the last weights.
    let best_dir = out.join(BEST_DIR);
    if best_dir.exists() {
        let best = Model::load(&best_dir, &tinybert_model::ModelOptions::default())?;
        best.write_files(out, Some(&best_dir))?;
        std::fs::remove_dir_all(&best_dir).map_err(|e| Error::io(&best_dir, e))?;
    } else {
        model.write_files(out, tok)?;
    }
    if best_scores.is_none() {
        if let Some((_, step)) = state.best {
            // Resumed after the best evaluation: its scores are in metrics.jsonl.
            best_scores = find_dev(out, step)?.map(|s| (s, step));
        }
    }
    opts.progress.finish();
    Ok(RunResult {
        steps: state.step,
        best: best_scores,
        last_loss,
        examples_per_s: last_rate,
    })
}

fn kill_self() {
    let pid = std::process::id().to_string();
    let _ = std::process::Command::new("kill")
        .args(["-9", &pid])
        .status();
    std::thread::sleep(std::time::Duration::from_secs(5));
}

fn find_dev(out: &Path, step: usize) -> Result<Option<Scores>> {
    let path = out.join(tinybert_eval::METRICS_FILE);
    let records = tinybert_eval::run::read_metrics(&path)?;
    Ok(records
        .into_iter()
        .filter(|r| r.step == step as u64)
        .find_map(|r| r.dev))
}

/// Drops `metrics.jsonl` lines logged after `step` (they are recomputed by the resumed run).
fn truncate_metrics(out: &Path, step: usize) -> Result<()> {
    let path = out.join(tinybert_eval::METRICS_FILE);
    if !path.exists() {
        return Ok(());
    }
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let kept: String = text
        .lines()
        .filter(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()
                .and_then(|v| v["step"].as_u64())
                .is_some_and(|s| s as usize <= step)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    tinybert_model::io::write_atomic(&path, kept.as_bytes())?;
    Ok(())
}

/// Running means between two log lines.
#[derive(Default)]
struct Window {
    steps: usize,
    loss: f64,
    terms: Vec<(&'static str, f64)>,
    examples: usize,
    seconds: f64,
}

impl Window {
    fn add(&mut self, loss: f64, terms: &[(&'static str, f64)], examples: usize, seconds: f64) {
        self.steps += 1;
        self.loss += loss;
        for (i, (n, v)) in terms.iter().enumerate() {
            match self.terms.get_mut(i) {
                Some(slot) => slot.1 += v,
                None => self.terms.push((n, *v)),
            }
        }
        self.examples += examples;
        self.seconds += seconds;
    }

    fn take(&mut self) -> (f64, Vec<(&'static str, f64)>, f64) {
        let n = self.steps.max(1) as f64;
        let terms = self.terms.iter().map(|(k, v)| (*k, v / n)).collect();
        let rate = self.examples as f64 / self.seconds.max(1e-9);
        let out = (self.loss / n, terms, rate);
        *self = Window::default();
        out
    }
}
