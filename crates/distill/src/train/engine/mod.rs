//! The training loop shared by every stage ([`train`]), in parts: [`Plan`] (how examples map to
//! steps), then a session's start (a fresh run, or a resumed one: [`resume`]), its steps (the
//! forward and backward passes of `step.rs`, BertAdam, the non-finite policy), dev evaluation
//! (best checkpoint), checkpoints and finish (the output model).
//!
//! Data order is `shuffled_order(n, seed, epoch)` and dropout masks are a function of
//! `(seed, step)` and each example's position in the step's batch, so the state in
//! `trainer_state.json` (step, epoch, position) plus the weights and optimizer moments determine
//! the rest of the run: a run resumed from a checkpoint ends with the same weights as an
//! uninterrupted one.
//!
//! Data parallelism ([`crate::parallel`]): every rank walks the same global order; rank r
//! computes the passes of its shard of each step's batch (every pass padded to the batch's
//! longest sequence, its loss its share of the batch's), the gradients, losses and flags are
//! summed over the ranks in one buffer (`reduce.rs`), and every rank applies the same update.
//! So the weights do not depend on the number of ranks (nor on `micro_batch_size`), and a
//! checkpoint resumes with any number of ranks. Rank 0 alone evaluates on dev (the score is
//! shared), logs and writes; a stop request (Ctrl-C) or a non-finite loss on any rank stops or
//! skips on all.
//!
//! Non-finite values: a step whose loss or gradient is NaN or infinite is never applied
//! (BertAdam checks every gradient's norm before updating anything); by default the run stops
//! with an error naming the step, the loss or parameter and the last checkpoint, and nothing is
//! saved after that step (`nonfinite = "skip"` skips such steps instead). No checkpoint, best
//! model or output model is written whose parameters are not all finite.

mod hooks;
mod log;
mod reduce;
pub mod resume;
mod step;

use super::checkpoint::{self, first_non_finite, TrainerState, CHECKPOINT_DIR};
use crate::config::{NonFinite, TrainConfig};
use crate::error::{Error, Result};
use crate::optim::{BertAdam, StepOutcome};
use crate::parallel::{self, Collective};
use candle_core::Tensor;
use log::Window;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use step::forward_backward;
use tinybert_model::Model;
use tinybert_run::{
    read_metrics, truncate_metrics, write_train_config, DevEval, MetricsWriter, Scores, StepRecord,
    METRICS_FILE,
};

/// The loss of one forward pass, as its share of the step's loss: the step's loss (a mean
/// over its batch) is the sum of its passes' losses, whichever rank computes each.
pub struct Loss {
    /// Differentiable scalar.
    pub total: Tensor,
    /// The terms of [`Objective::terms`] for logging, in that order, scalars (shares too).
    pub terms: Vec<Tensor>,
}

/// One forward pass: some consecutive examples of an optimizer step's batch.
#[derive(Debug, Clone)]
pub struct Pass<'a> {
    /// The optimizer step, 0-based.
    pub step: usize,
    /// The step's examples (the whole global batch, on every rank).
    pub batch: &'a [usize],
    /// The positions in `batch` of this pass's examples.
    pub range: Range<usize>,
}

impl Pass<'_> {
    /// This pass's examples.
    pub fn indices(&self) -> &[usize] {
        &self.batch[self.range.clone()]
    }

    /// This pass's share of the batch's examples: the weight of a per-example mean.
    pub fn share(&self) -> f64 {
        self.range.len() as f64 / self.batch.len().max(1) as f64
    }
}

/// What a stage optimises.
pub trait Objective {
    /// The loss of `pass` in training mode, as its share of the step's loss (a per-example
    /// mean times [`Pass::share`]). Sequences are padded to the longest of the step's batch
    /// ([`super::common::pass_batch`]), so a pass's result does not depend on which other
    /// examples share it.
    fn loss(&mut self, pass: &Pass) -> Result<Loss>;

    /// The names of the logged terms of [`Loss::terms`] (`att_loss`, `rep_loss`, `pred_loss`).
    fn terms(&self) -> &'static [&'static str];

    /// The token count of every training example, in order (for
    /// [`TrainConfig::group_by_length`]).
    fn lengths(&self) -> Vec<usize>;
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

    /// A copy whose saved models carry the tokenizer files of `model_dir`, unless the run names
    /// its own `tokenizer_from`.
    pub fn tokenizer_defaulting_to(&self, model_dir: &Path) -> Self {
        Self {
            tokenizer_from: self
                .tokenizer_from
                .clone()
                .or(Some(model_dir.to_path_buf())),
            ..self.clone_ref()
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
    /// Steps skipped as non-finite (`nonfinite = "skip"`).
    pub skipped_steps: usize,
    /// With several data-parallel ranks: the mean time of a step's all-reduce (ms) and the
    /// bytes each rank contributes to it.
    pub allreduce: Option<(f64, usize)>,
}

const BEST_DIR: &str = "best";

fn dropout_seed(seed: u64, step: usize) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (step as u64)
            .wrapping_add(1)
            .wrapping_mul(0xD1B5_4A32_D192_ED03)
}

/// How the examples map to optimizer steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub n_examples: usize,
    /// Examples per optimizer step.
    pub batch: usize,
    /// Examples per forward/backward pass.
    pub micro: usize,
    pub steps_per_epoch: usize,
    /// Steps of the run: min(steps per epoch × epochs, max_steps).
    pub t_total: usize,
}

impl Plan {
    pub fn new(n_examples: usize, cfg: &TrainConfig) -> Result<Self> {
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
        Ok(Plan {
            n_examples,
            batch,
            micro,
            steps_per_epoch,
            t_total,
        })
    }
}

/// Trains `model` (its `Var`s) on `n_examples` examples with `objective`, evaluating with `dev`
/// when given (the best dev checkpoint becomes the output model), and writes into
/// `opts.output`: the model (HF folder), `metrics.jsonl`, `train_config.json` (the echo
/// `config_echo`, whose train config must sit at `config.train`) and `checkpoint/`.
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
    let plan = Plan::new(n_examples, cfg)?;
    let mut s = Session::start(model, plan, cfg, config_echo, opts)?;
    while s.state.step < plan.t_total {
        let record = s.step(objective, extra_rngs)?;
        let evaluated = dev.is_some() && s.eval_due();
        let record = match dev.as_deref_mut() {
            Some(d) if evaluated => Some(s.evaluate(d, record)?),
            _ => record,
        };
        if let (Some(r), Some(m)) = (&record, &mut s.metrics) {
            m.write(r)?;
        }
        if evaluated && s.out_of_patience() {
            break;
        }
        if s.snapshot_due() {
            s.snapshot()?;
        }
        let stop = s.stop;
        if s.checkpoint_due() || stop {
            s.checkpoint()?;
        }
        if stop && s.state.step < plan.t_total {
            return Err(Error::Interrupted {
                step: s.state.step,
                checkpoint: s.ckpt_dir.display().to_string(),
            });
        }
        if s.kill_after == Some(s.state.step) {
            hooks::kill_self();
        }
    }
    s.finish()
}

/// A run in progress.
struct Session<'a> {
    model: &'a Model,
    cfg: &'a TrainConfig,
    plan: Plan,
    opts: &'a RunOptions<'a>,
    /// The ranks computing this run, and whether this process is rank 0 (the one that writes).
    world: &'static dyn Collective,
    root: bool,
    /// `opts.progress` on rank 0, nothing elsewhere.
    progress: &'a dyn TrainProgress,
    opt: BertAdam,
    /// The trainable tensors (gradient accumulation looks them up).
    vars: Vec<Tensor>,
    state: TrainerState,
    /// `metrics.jsonl` (rank 0).
    metrics: Option<MetricsWriter>,
    /// A stop request (Ctrl-C) reached some rank during the last step.
    stop: bool,
    /// Seconds spent in all-reduces, and their count (several ranks).
    reduce_time: (f64, usize),
    window: Window,
    last_loss: f64,
    last_rate: f64,
    /// Best dev scores seen by this process.
    best: Option<(Scores, usize)>,
    ckpt_dir: PathBuf,
    /// Whether the step just taken ended an epoch.
    epoch_done: bool,
    kill_after: Option<usize>,
    /// The order of the examples in the epoch it was computed for.
    order: Option<(usize, std::rc::Rc<Vec<usize>>)>,
}

impl<'a> Session<'a> {
    /// A fresh run, or the resumed one of `opts.resume` (checked by [`resume::check`]).
    fn start(
        model: &'a Model,
        plan: Plan,
        cfg: &'a TrainConfig,
        echo: &serde_json::Value,
        opts: &'a RunOptions<'a>,
    ) -> Result<Self> {
        let out = &opts.output;
        let world = parallel::world();
        let root = world.rank() == 0;
        let progress: &dyn TrainProgress = if root { opts.progress } else { &Quiet };
        std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
        let named: Vec<(String, candle_core::Var)> = model
            .vars()
            .into_iter()
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect();
        if named.is_empty() {
            return Err(Error::Config(
                "the model has no trainable parameters".into(),
            ));
        }
        let vars: Vec<Tensor> = named.iter().map(|(_, v)| v.as_tensor().clone()).collect();
        let mut opt = BertAdam::new(named, cfg.optimizer, plan.t_total)?;
        let fresh = TrainerState {
            step: 0,
            epoch: 0,
            position: 0,
            t_total: plan.t_total,
            best: None,
            skipped_steps: 0,
            skipped_in_a_row: 0,
            config: echo.clone(),
        };
        let (state, metrics) = match &opts.resume {
            None => {
                let metrics = match root {
                    true => {
                        write_train_config(out, echo)?;
                        Some(MetricsWriter::create(out)?)
                    }
                    false => None,
                };
                (fresh, metrics)
            }
            Some(path) => {
                let dir = checkpoint::checkpoint_dir(path);
                let old = checkpoint::read_state(&dir)?;
                let changes = resume::check(&dir, &old.config, echo)?;
                if plan.t_total < old.step {
                    return Err(Error::Config(format!(
                        "{}: the checkpoint is at step {}, but epochs and max_steps now give \
                         {} steps in all",
                        dir.display(),
                        old.step,
                        plan.t_total
                    )));
                }
                checkpoint::restore_weights(&dir, model)?;
                opt.load(&dir.join(checkpoint::OPTIMIZER_FILE))?;
                // Every rank has read the checkpoint before rank 0 writes into the folder.
                world.barrier()?;
                let metrics = match root {
                    true => {
                        write_train_config(out, echo)?;
                        truncate_metrics(out, old.step as u64)?;
                        Some(MetricsWriter::append(out)?)
                    }
                    false => None,
                };
                progress.message(&format!(
                    "resuming from {} at step {}",
                    dir.display(),
                    old.step
                ));
                for c in &changes {
                    let msg = c.message(plan.t_total);
                    tracing::info!("{msg}");
                    progress.message(&msg);
                }
                let state = TrainerState {
                    t_total: plan.t_total,
                    config: echo.clone(),
                    ..old
                };
                (state, metrics)
            }
        };
        if world.size() > 1 {
            let msg = format!(
                "data parallel: {}; this rank computes {} of every {} examples; {:.1} MB \
                 all-reduced per step",
                world.describe(),
                parallel::shard(plan.batch, world.rank(), world.size()).len(),
                plan.batch,
                reduce::buffer_bytes(&vars) as f64 / 1e6
            );
            tracing::info!("{msg}");
            progress.message(&msg);
        }
        progress.start(plan.t_total, state.step);
        Ok(Session {
            model,
            cfg,
            plan,
            opts,
            world,
            root,
            progress,
            opt,
            vars,
            state,
            metrics,
            stop: false,
            reduce_time: (0.0, 0),
            window: Window::default(),
            last_loss: f64::NAN,
            last_rate: 0.0,
            best: None,
            ckpt_dir: out.join(CHECKPOINT_DIR),
            epoch_done: false,
            kill_after: hooks::kill_after(),
            order: None,
        })
    }

    /// This epoch's order of the examples: [`tinybert_data::shuffled_order`], or with
    /// `group_by_length` [`tinybert_data::length_grouped_order`] (kept for the epoch).
    fn order(&mut self, objective: &dyn Objective) -> std::rc::Rc<Vec<usize>> {
        let (n, seed, epoch) = (self.plan.n_examples, self.cfg.seed, self.state.epoch);
        match &self.order {
            Some((e, order)) if *e == epoch => order.clone(),
            _ => {
                let order = std::rc::Rc::new(match self.cfg.group_by_length {
                    true => tinybert_data::length_grouped_order(
                        &objective.lengths(),
                        self.plan.batch,
                        seed,
                        epoch as u64,
                    ),
                    false => tinybert_data::shuffled_order(n, seed, epoch as u64),
                });
                self.order = Some((epoch, order.clone()));
                order
            }
        }
    }

    /// One optimizer step (or a skipped one); returns the `metrics.jsonl` record it logs, if
    /// any.
    fn step(
        &mut self,
        objective: &mut dyn Objective,
        extra_rngs: &[&tinybert_model::nn::DropoutRng],
    ) -> Result<Option<StepRecord>> {
        let p = self.plan;
        let order = self.order(objective);
        let end = (self.state.position + p.batch).min(p.n_examples);
        let chunk = &order[self.state.position..end];
        let t0 = Instant::now();
        let seed = dropout_seed(self.cfg.seed, self.state.step);
        let model = self.model;
        let before_pass = |first_row: usize| {
            let rngs = std::iter::once(model.bert.dropout_rng()).chain(extra_rngs.iter().copied());
            for (i, rng) in rngs.enumerate() {
                rng.reseed(if i == 0 { seed } else { seed ^ i as u64 });
                rng.set_first_row(first_row);
            }
        };
        let shard = parallel::shard(chunk.len(), self.world.rank(), self.world.size());
        let local = forward_backward(
            objective,
            &self.vars,
            chunk,
            shard,
            p.micro,
            self.state.step,
            &before_pass,
        )?;
        let asked = self
            .opts
            .stop
            .as_ref()
            .is_some_and(|f| f.load(Ordering::SeqCst));
        let n_terms = objective.terms().len();
        let t_reduce = Instant::now();
        let r = reduce::all_reduce(self.world, &self.vars, local, n_terms, asked)?;
        if self.world.size() > 1 {
            self.reduce_time.0 += t_reduce.elapsed().as_secs_f64();
            self.reduce_time.1 += 1;
        }
        self.stop = r.stop;
        let applied = match (r.grads, r.nonfinite_loss) {
            (Some(g), _) => match self.opt.try_step(&g.grads)? {
                StepOutcome::Applied { lr } => Ok((lr, g)),
                StepOutcome::NonFinite { param, norm } => {
                    Err(format!("gradient of `{param}` (norm {norm})"))
                }
            },
            (None, v) => Err(format!("loss ({})", v.unwrap_or(f32::NAN))),
        };
        let fraction_before = self.state.epoch as f64;
        let mut record = None;
        match applied {
            Ok((lr, g)) => {
                self.state.skipped_in_a_row = 0;
                self.advance(end);
                let terms: Vec<(&'static str, f64)> =
                    objective.terms().iter().copied().zip(g.terms).collect();
                self.window
                    .add(g.loss, &terms, chunk.len(), t0.elapsed().as_secs_f64());
                let last = self.state.step == p.t_total;
                if self.state.step % self.cfg.log_every.max(1) == 0 || last {
                    let means = self.window.take();
                    self.last_loss = means.loss;
                    self.last_rate = means.examples_per_s;
                    let mut r = self.record(fraction_before, end);
                    r.lr = Some(lr);
                    r.loss = Some(means.loss);
                    for (name, v) in means.terms {
                        r.extra.insert(name.to_string(), serde_json::json!(v));
                    }
                    r.extra.insert(
                        "examples_per_s".into(),
                        serde_json::json!(means.examples_per_s),
                    );
                    record = Some(r);
                }
                self.progress.step(self.state.step, g.loss, self.last_rate);
            }
            Err(what) => record = Some(self.non_finite(what, fraction_before, end)?),
        }
        Ok(record)
    }

    /// The step's position after consuming the examples up to `end` of the epoch's order.
    fn advance(&mut self, end: usize) {
        self.state.step += 1;
        self.state.position = end;
        self.epoch_done = self.state.position >= self.plan.n_examples;
        if self.epoch_done {
            self.state.epoch += 1;
            self.state.position = 0;
        }
    }

    /// A record of the current step; `epoch` is the fractional epoch after the step.
    fn record(&self, epoch_before: f64, end: usize) -> StepRecord {
        let mut r = StepRecord::new(self.state.step as u64);
        r.epoch = Some(epoch_before + end as f64 / self.plan.n_examples as f64);
        r
    }

    /// The non-finite policy for a step whose `what` (loss or gradient) was NaN or infinite:
    /// stop (the default), or skip the step until too many are skipped in a row.
    fn non_finite(&mut self, what: String, epoch_before: f64, end: usize) -> Result<StepRecord> {
        let step = self.state.step + 1;
        let stop = |why: String, s: &Self| Error::NonFinite {
            step,
            what: why,
            checkpoint: s.last_checkpoint(),
        };
        if self.cfg.nonfinite == NonFinite::Stop {
            return Err(stop(what, self));
        }
        self.state.skipped_in_a_row += 1;
        if self.state.skipped_in_a_row > self.cfg.max_skipped_steps {
            return Err(stop(
                format!(
                    "{what}, the {} step in a row (max_skipped_steps {})",
                    self.state.skipped_in_a_row, self.cfg.max_skipped_steps
                ),
                self,
            ));
        }
        self.state.skipped_steps += 1;
        let lr = self.opt.skip_step();
        let msg = format!("step {step}: non-finite {what}: step skipped, no update");
        tracing::warn!("{msg}");
        self.progress.message(&msg);
        self.advance(end);
        let mut r = self.record(epoch_before, end);
        r.lr = Some(lr);
        r.extra.insert(
            "skipped".into(),
            serde_json::json!(format!("non-finite {what}")),
        );
        self.progress
            .step(self.state.step, f64::NAN, self.last_rate);
        Ok(r)
    }

    /// Where the last finite checkpoint is, for error messages.
    fn last_checkpoint(&self) -> String {
        match checkpoint::read_state(&self.ckpt_dir) {
            Ok(s) => format!(
                "the last checkpoint (finite) is {} at step {}",
                self.ckpt_dir.display(),
                s.step
            ),
            Err(_) => "no checkpoint was saved before it".into(),
        }
    }

    /// Whether the dev set is evaluated after this step: every `eval_every` steps (0: at the
    /// end of each epoch) and after the last step.
    fn eval_due(&self) -> bool {
        let last = self.state.step == self.plan.t_total;
        match self.cfg.eval_every {
            0 => self.epoch_done || last,
            n => self.state.step % n == 0 || last,
        }
    }

    /// True when the dev score has not improved for `patience` steps (said once, as the run
    /// stops early).
    fn out_of_patience(&self) -> bool {
        let (Some(patience), Some((_, best))) = (self.cfg.patience, self.state.best) else {
            return false;
        };
        let stale = self.state.step - best;
        let stop = patience > 0 && stale >= patience && self.state.step < self.plan.t_total;
        if stop {
            let msg = format!(
                "no dev improvement for {stale} steps (patience {patience}): stopping at step {} \
                 of {}, keeping the best checkpoint (step {best})",
                self.state.step, self.plan.t_total
            );
            tracing::info!("{msg}");
            self.progress.message(&msg);
        }
        stop
    }

    /// Evaluates on dev, keeps the model as `best/` when it improves the best score, and adds
    /// the scores to the step's record.
    fn evaluate(
        &mut self,
        dev: &mut dyn DevEval,
        record: Option<StepRecord>,
    ) -> Result<StepRecord> {
        let (scores, decisive) = self.dev_scores(dev)?;
        let step = self.state.step;
        let improved = self.state.best.is_none_or(|(b, _)| decisive > b);
        self.progress.message(&format!(
            "step {step}: dev score {:.4}{}",
            scores.score,
            if improved { " (best)" } else { "" }
        ));
        if improved {
            self.require_finite()?;
            self.state.best = Some((decisive, step));
            self.best = Some((scores.clone(), step));
            if self.root {
                self.model.save(
                    &self.opts.output.join(BEST_DIR),
                    self.opts.tokenizer_from.as_deref(),
                )?;
            }
        }
        let mut r = record.unwrap_or_else(|| {
            let mut r = StepRecord::new(step as u64);
            r.epoch = Some(
                self.state.epoch as f64 + self.state.position as f64 / self.plan.n_examples as f64,
            );
            r
        });
        r.dev = Some(scores);
        Ok(r)
    }

    /// The dev scores and the selection score the best-step and patience decisions use. With
    /// several ranks, rank 0 alone evaluates and sends the selection score (as f32) to every
    /// rank; all decide on that same value, so they keep the same best step and stop together.
    fn dev_scores(&self, dev: &mut dyn DevEval) -> Result<(Scores, f64)> {
        if self.world.size() == 1 {
            let s = dev.evaluate(self.model)?;
            let score = s.score;
            return Ok((s, score));
        }
        let scores = match self.root {
            true => Some(dev.evaluate(self.model)?),
            false => None,
        };
        let mine = scores.as_ref().map_or(0.0, |s| s.score as f32);
        let device = candle_core::Device::Cpu;
        let sum = self
            .world
            .all_reduce_sum(&Tensor::new(&[mine], &device)?)?
            .to_vec1::<f32>()?;
        let decisive = sum[0] as f64;
        let scores = scores.unwrap_or(Scores {
            score: decisive,
            ..Scores::empty()
        });
        Ok((scores, decisive))
    }

    /// Whether a checkpoint is written after this step: every `save_every` steps, at the end of
    /// each epoch and after the last step.
    fn checkpoint_due(&self) -> bool {
        let s = self.state.step;
        (self.cfg.save_every > 0 && s % self.cfg.save_every == 0)
            || self.epoch_done
            || s == self.plan.t_total
    }

    /// Whether the model is kept in `snapshots/` after this step (every `snapshot_every`).
    fn snapshot_due(&self) -> bool {
        let every = self.cfg.snapshot_every;
        every > 0 && self.state.step % every == 0
    }

    /// Writes the model to `snapshots/step-<step>/` (finite weights only; rank 0).
    fn snapshot(&self) -> Result<()> {
        if !self.root {
            return Ok(());
        }
        self.require_finite()?;
        let dir = snapshot_dir(&self.opts.output, self.state.step);
        tinybert_model::io::replace_dir(&dir, |tmp| -> Result<()> {
            self.model
                .write_files(tmp, self.opts.tokenizer_from.as_deref())?;
            Ok(())
        })
    }

    /// Writes `checkpoint/` (finite weights only; rank 0).
    fn checkpoint(&self) -> Result<()> {
        if !self.root {
            return Ok(());
        }
        self.require_finite()?;
        checkpoint::save(
            &self.ckpt_dir,
            self.model,
            &self.opt,
            &self.state,
            self.opts.tokenizer_from.as_deref(),
        )
    }

    /// An error naming the first parameter that is NaN or infinite, if any.
    fn require_finite(&self) -> Result<()> {
        match first_non_finite(self.model)? {
            None => Ok(()),
            Some(name) => Err(Error::NonFinite {
                step: self.state.step,
                what: format!("parameter `{name}`"),
                checkpoint: self.last_checkpoint(),
            }),
        }
    }

    /// Writes the output model (the best dev checkpoint when evaluating, else the last
    /// weights) and returns the run's result.
    fn finish(mut self) -> Result<RunResult> {
        let out = &self.opts.output;
        let tok = self.opts.tokenizer_from.as_deref();
        let best_dir = out.join(BEST_DIR);
        if !self.root {
            // Rank 0 writes the output; the others only report.
        } else if best_dir.exists() {
            let best = Model::load(&best_dir, &tinybert_model::ModelOptions::default())?;
            best.write_files(out, Some(&best_dir))?;
            std::fs::remove_dir_all(&best_dir).map_err(|e| Error::io(&best_dir, e))?;
        } else {
            self.require_finite()?;
            self.model.write_files(out, tok)?;
        }
        if self.root && self.best.is_none() {
            if let Some((_, step)) = self.state.best {
                // Resumed after the best evaluation: its scores are in metrics.jsonl.
                self.best = dev_at(out, step)?.map(|s| (s, step));
            }
        }
        self.progress.finish();
        Ok(RunResult {
            steps: self.state.step,
            best: self.best,
            last_loss: self.last_loss,
            examples_per_s: self.last_rate,
            skipped_steps: self.state.skipped_steps,
            allreduce: (self.reduce_time.1 > 0).then(|| {
                (
                    1e3 * self.reduce_time.0 / self.reduce_time.1 as f64,
                    reduce::buffer_bytes(&self.vars),
                )
            }),
        })
    }
}

/// Where [`TrainConfig::snapshot_every`] keeps the model of `step`: `out/snapshots/step-<step>`.
pub fn snapshot_dir(out: &Path, step: usize) -> PathBuf {
    out.join(SNAPSHOTS_DIR).join(format!("step-{step}"))
}

/// The folder of a run's snapshots.
pub const SNAPSHOTS_DIR: &str = "snapshots";

/// The dev scores logged at `step` in `out/metrics.jsonl`.
fn dev_at(out: &Path, step: usize) -> Result<Option<Scores>> {
    let records = read_metrics(&out.join(METRICS_FILE))?;
    Ok(records
        .into_iter()
        .filter(|r| r.step == step as u64)
        .find_map(|r| r.dev))
}
