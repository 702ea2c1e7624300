//! Cost before you start: `tinybert run FILE --estimate` (or `tinybert estimate FILE`) projects
//! each stage's wall-clock time, examples processed and disk written on this machine, without
//! touching the pipeline's outputs or its lock file.
//!
//! # How
//! The stages `run` would select (up-to-date ones are reported as such, 0 s, unless `--force`)
//! run in graph order as *miniatures* in a scratch folder next to the pipeline file
//! (`.tinybert/estimate-<pid>/`, removed afterwards); a stage whose upstream stage is estimated
//! reads that stage's miniature output, one whose upstream is up to date reads the real one.
//! Each miniature is timed and projected to the full stage ([`probe`]):
//! - **trainers** (`finetune`, `task-distill`, `general-distill`, `mlm-head`) run
//!   `probe_steps + 1` real optimizer steps with one dev evaluation at the end (when the stage
//!   has a dev set); the first step is a warm-up, excluded. Steps too quick to time that way
//!   (under 2 s in all) are timed again with enough steps for about 3 s (at most 60). The full run's steps come from the
//!   stage's own trainer configuration and the *projected* size of its training set (for
//!   example general distillation: epochs x projected instances / batch, or `max_steps`):
//!   set-up + teacher-logit cache (scaled by rows) + steps x step time + dev evaluations x one
//!   evaluation + checkpoints. Early stopping (`patience`) is not foreseen: the projection runs
//!   to the end (an upper bound).
//! - **data stages** run twice on a sample of their input (`corpus`: the first 256 KiB and
//!   4 MiB of text; `glue`: the first 50 and 20,000 rows of each file; `augment`: the first 4
//!   and 40 rows, or up to 400 when 40 take under 3 s more than 4; `eval`: the first 32 and 512
//!   rows), and the time is the line through both
//!   measurements (a fixed cost plus a cost per unit) at the full size; rows and bytes out
//!   scale with the input. Inputs no larger than the larger sample run whole.
//! - other kinds (`bench`, `report`, `demo-data`) run whole.
//!
//! # What if
//! `-p` overrides flow into the stages as for `run`. Two more options describe what is not
//! here: `--assume STAGE.words=N` (or `.bytes=N`) says how large a `corpus` stage's input is
//! (the sample's measured rate is projected to it; e.g. the paper's 2,500M words of
//! Wikipedia), and `--stand-in ID=SHAPE@TOKENIZER` replaces every model parameter equal to `ID`
//! (a hub id such as `bert-base-uncased`) by a randomly initialised model of `SHAPE` (a preset
//! such as `bert-base`, a config.json, or `{"layers":..,"hidden":..,"heads":..,"ffn":..}`) with
//! the vocabulary of the model folder `TOKENIZER`: timing does not depend on weight values.
//!
//! # Times
//! The times are those of this machine when nothing else shares it: the probes' waits for a
//! core that another process held are not counted ([`clock::Stopwatch`]), so that a compiler
//! running beside the estimate does not make it pessimistic. Other effects of sharing (caches,
//! memory bandwidth) remain.
//!
//! # Output
//! A table per stage (time, examples, disk) and the total; `--estimate-json FILE` writes the
//! same as JSON ([`Estimate`]).

pub mod clock;
pub mod probe;
pub mod sample;

pub use clock::Clock;

use super::fsutil::remove_path;
use super::paths;
use super::registry::Registry;
use super::runner::{self, RunOptions, Status};
use super::spec::Pipeline;
use super::stage::ResolvedStage;
use super::ui::{fmt_duration, Ui};
use crate::jobs::Ctx;
use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use toml::Value;

/// What `--estimate` was asked.
#[derive(Debug, Clone, Default)]
pub struct EstimateOptions {
    /// The selection, as for `run` (`dry_run` is ignored).
    pub run: RunOptions,
    /// `STAGE.words=N` / `STAGE.bytes=N`: the size of a corpus stage's input.
    pub assume: Vec<String>,
    /// `ID=SHAPE@TOKENIZER`: a random model of that shape wherever a model parameter is `ID`.
    pub stand_ins: Vec<String>,
    /// Timed optimizer steps per trainer (one warm-up step more runs).
    pub probe_steps: usize,
    /// Print progress lines on stderr.
    pub verbose: bool,
    /// Count the probes' waits for a core held by other work too (the machine as it is).
    pub wall_clock: bool,
}

/// One stage's projection.
#[derive(Debug, Clone, Serialize)]
pub struct StageEstimate {
    pub name: String,
    pub kind: String,
    /// `estimated`, or `up to date` (nothing to do).
    pub status: String,
    /// Projected wall-clock seconds.
    pub seconds: f64,
    /// Examples processed: trainer steps x batch, rows read or written by a data stage.
    pub examples: f64,
    /// Bytes its outputs take.
    pub bytes: f64,
    /// Seconds the miniature(s) took here.
    pub probe_seconds: f64,
    /// How it was projected.
    pub note: String,
}

/// The projection of a whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Estimate {
    pub pipeline: String,
    pub stages: Vec<StageEstimate>,
    pub total_seconds: f64,
    pub total_examples: f64,
    pub total_bytes: f64,
    /// Seconds estimating took.
    pub probe_seconds: f64,
    /// Of the time the probes' threads were ready to run, the share they ran (1: nothing else
    /// used the machine); the times above count only that share (see [`clock::Stopwatch`]),
    /// unless `wall_clock`.
    pub share: f64,
    pub wall_clock: bool,
    /// The machine's 1-minute load average before and after estimating, and its cores: a load
    /// above the cores means other work shared the machine and the times are pessimistic.
    pub load: [f64; 2],
    pub cores: usize,
}

/// The 1-minute load average (0 where `/proc/loadavg` is absent).
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// Estimates the stages `opts.run` selects.
pub fn estimate(
    p: &Pipeline,
    registry: &Registry,
    opts: &EstimateOptions,
    device: &str,
) -> Result<Estimate> {
    let started = std::time::Instant::now();
    let load_before = load_average();
    let plan_opts = RunOptions {
        dry_run: true,
        ..opts.run.clone()
    };
    // Which stages `run` would run: the dry run's answer (it reads the lock, writes nothing).
    let outcomes = runner::run(p, registry, &plan_opts, &Ui::new(true), device)?;
    let folder = p
        .file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let folder = folder
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", folder.display()))?;
    let scratch = Scratch::new(
        folder
            .join(".tinybert")
            .join(format!("estimate-{}", std::process::id())),
    )?;
    let mut e = Estimator {
        p,
        registry,
        device: crate::device::parse_device(device)?,
        device_name: device.to_string(),
        scratch: scratch.0.clone(),
        redirect: Vec::new(),
        stand_ins: Vec::new(),
        rows: BTreeMap::new(),
        assume: parse_assume(&opts.assume, p)?,
        probe_steps: opts.probe_steps.max(1),
        waited_ran: std::sync::Mutex::new((0.0, 0.0)),
        wall_clock: opts.wall_clock,
    };
    for s in &opts.stand_ins {
        e.add_stand_in(s)?;
    }
    for o in &outcomes {
        if o.status == Status::WouldRun {
            let s = &p.stages[p.index_of(&o.name).expect("an outcome names a stage")];
            for out in &s.outs {
                e.redirect
                    .push((out.clone(), scratch.0.join("outs").join(out)));
            }
        }
    }
    let m = outcomes.len();
    let mut stages = Vec::with_capacity(m);
    for (n, o) in outcomes.iter().enumerate() {
        let s = &p.stages[p.index_of(&o.name).expect("an outcome names a stage")];
        let tag = format!("[{}/{m}] {}", n + 1, s.name);
        let est = match &o.status {
            Status::WouldRun => {
                if opts.verbose {
                    eprintln!("{tag} [{}]: estimating", s.kind);
                }
                let est = e.stage(s).with_context(|| {
                    format!("estimating stage `{}` (kind `{}`)", s.name, s.kind)
                })?;
                if opts.verbose {
                    eprintln!(
                        "{tag}: {} projected ({}; probes took {})",
                        fmt_secs(est.seconds),
                        est.note,
                        fmt_secs(est.probe_seconds)
                    );
                }
                est
            }
            Status::UpToDate => StageEstimate {
                name: s.name.clone(),
                kind: s.kind.clone(),
                status: "up to date".into(),
                seconds: 0.0,
                examples: 0.0,
                bytes: 0.0,
                probe_seconds: 0.0,
                note: "up to date: nothing to run".into(),
            },
            other => bail!("stage `{}`: unexpected plan {other:?}", s.name),
        };
        stages.push(est);
    }
    drop(scratch);
    let (waited, ran) = *e.waited_ran.lock().expect("not poisoned");
    Ok(Estimate {
        wall_clock: opts.wall_clock,
        share: if waited + ran > 0.0 {
            ran / (waited + ran)
        } else {
            1.0
        },
        pipeline: p.file.display().to_string(),
        total_seconds: stages.iter().map(|s| s.seconds).sum(),
        total_examples: stages.iter().map(|s| s.examples).sum(),
        total_bytes: stages.iter().map(|s| s.bytes).sum(),
        probe_seconds: started.elapsed().as_secs_f64(),
        stages,
        load: [load_before, load_average()],
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
    })
}

/// The scratch folder, removed when dropped (also on errors).
struct Scratch(PathBuf);

impl Scratch {
    fn new(dir: PathBuf) -> Result<Self> {
        remove_path(&dir)?;
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(e) = remove_path(&self.0) {
            tracing::warn!("cannot remove the scratch folder: {e:#}");
        }
        // `.tinybert/` itself stays when it holds other things (the runner's state).
        if let Some(parent) = self.0.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }
}

/// `--assume` values by stage and key.
fn parse_assume(items: &[String], p: &Pipeline) -> Result<BTreeMap<(String, String), f64>> {
    let mut out = BTreeMap::new();
    for item in items {
        let (key, value) = item
            .split_once('=')
            .ok_or_else(|| anyhow!("--assume {item}: expected STAGE.words=N or STAGE.bytes=N"))?;
        let (stage, what) = key
            .rsplit_once('.')
            .ok_or_else(|| anyhow!("--assume {item}: expected STAGE.words=N or STAGE.bytes=N"))?;
        if !matches!(what, "words" | "bytes") {
            bail!("--assume {item}: `{what}` is not words or bytes");
        }
        if p.index_of(stage).is_none() {
            bail!("--assume {item}: no stage `{stage}`");
        }
        let v = parse_count(value).ok_or_else(|| {
            anyhow!("--assume {item}: `{value}` is not a count (2500000000, 2.5e9, 2500M, 2.5G)")
        })?;
        out.insert((stage.to_string(), what.to_string()), v);
    }
    Ok(out)
}

/// A count: a number, optionally with a suffix K, M or G (10^3, 10^6, 10^9).
fn parse_count(s: &str) -> Option<f64> {
    let s = s.trim().replace(['_', ','], "");
    let (num, mult) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1e3),
        'm' | 'M' => (&s[..s.len() - 1], 1e6),
        'g' | 'G' => (&s[..s.len() - 1], 1e9),
        _ => (&s[..], 1.0),
    };
    let v: f64 = num.parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v * mult)
}

/// The estimating run's state.
pub struct Estimator<'a> {
    p: &'a Pipeline,
    registry: &'a Registry,
    device: candle_core::Device,
    device_name: String,
    /// The scratch folder (absolute).
    scratch: PathBuf,
    /// The outputs of estimated stages and where their miniatures write them.
    redirect: Vec<(String, PathBuf)>,
    /// Model parameters replaced by random stand-ins.
    stand_ins: Vec<(String, PathBuf)>,
    /// Projected rows of the datasets miniatures wrote (absolute paths).
    rows: BTreeMap<PathBuf, f64>,
    assume: BTreeMap<(String, String), f64>,
    probe_steps: usize,
    /// Seconds the probes' threads waited for a core held by other work, and ran.
    waited_ran: std::sync::Mutex<(f64, f64)>,
    /// Count the waits for a core too.
    wall_clock: bool,
}

impl Estimator<'_> {
    /// A context for a probe: the pipeline's working directory, with `clock` if given.
    fn ctx(&self, clock: Option<Arc<Clock>>) -> Ctx {
        Ctx {
            workdir: self.p.workdir.clone(),
            device: self.device.clone(),
            device_name: self.device_name.clone(),
            progress: crate::progress::multi().clone(),
            stop: crate::jobs::stop_flag(),
            clock,
        }
    }

    /// A path parameter as a path to open.
    fn path(&self, p: &str) -> PathBuf {
        self.p.workdir.join(p)
    }

    /// The projected rows of a dataset: a miniature's projection, else counted.
    fn rows_of(&self, path: &Path) -> Result<f64> {
        match self.rows.get(path) {
            Some(&r) => Ok(r),
            None => Ok(sample::dataset_rows(path)? as f64),
        }
    }

    /// A folder for a probe's samples.
    fn sample_dir(&self, stage: &ResolvedStage, what: &str) -> Result<PathBuf> {
        let dir = self
            .scratch
            .join("samples")
            .join(stage.name.replace(['/', '@'], "_"))
            .join(what);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(dir)
    }

    /// `ID=SHAPE@TOKENIZER`: writes the random model and records the replacement.
    fn add_stand_in(&mut self, spec: &str) -> Result<()> {
        let bad = || anyhow!("--stand-in {spec}: expected ID=SHAPE@TOKENIZER_DIR");
        let (id, rest) = spec.split_once('=').ok_or_else(bad)?;
        let (shape, tokenizer) = rest.rsplit_once('@').ok_or_else(bad)?;
        let tok_dir = self.path(tokenizer);
        let tok = tinybert_model::load_tokenizer(&tok_dir).with_context(|| {
            format!("--stand-in {spec}: the tokenizer of {}", tok_dir.display())
        })?;
        let vocab = tok.get_vocab_size(true);
        let mut config = match crate::jobs::values::model_spec(shape) {
            Ok(crate::jobs::values::ModelSpec::Shape(s)) => s.config(vocab)?,
            _ => {
                tinybert_model::BertConfig::from_preset_or_file(&self.path(shape).to_string_lossy())
                    .or_else(|_| tinybert_model::BertConfig::from_preset_or_file(shape))
                    .with_context(|| format!("--stand-in {spec}: shape `{shape}`"))?
            }
        };
        config.vocab_size = vocab;
        let dir = self
            .scratch
            .join("stand-in")
            .join(self.stand_ins.len().to_string());
        let opts = tinybert_model::ModelOptions {
            heads: tinybert_model::Heads {
                mlm: tinybert_model::Want::Always(()),
                ..tinybert_model::Heads::NONE
            },
            ..Default::default()
        };
        tinybert_model::Model::init(&config, &opts)?
            .save(&dir, Some(&tok_dir))
            .with_context(|| format!("--stand-in {spec}: writing the random model"))?;
        self.stand_ins.push((id.to_string(), dir));
        Ok(())
    }

    /// A parameter string with stand-ins and redirected outputs replaced.
    fn rewrite_str(&self, s: &str) -> String {
        if let Some((_, dir)) = self.stand_ins.iter().find(|(id, _)| id == s) {
            return dir.display().to_string();
        }
        if let Ok(n) = paths::normalize(s) {
            for (out, dst) in &self.redirect {
                if paths::is_within(&n, out) {
                    let rest = Path::new(&n).strip_prefix(out).unwrap_or(Path::new(""));
                    return dst.join(rest).display().to_string();
                }
            }
        }
        s.to_string()
    }

    fn rewrite(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.rewrite_str(s)),
            Value::Array(a) => Value::Array(a.iter().map(|v| self.rewrite(v)).collect()),
            Value::Table(t) => Value::Table(
                t.iter()
                    .map(|(k, v)| (k.clone(), self.rewrite(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// The stage as its miniature runs it: outputs in the scratch folder, inputs from the
    /// miniatures of estimated stages, stand-ins for absent models.
    fn miniature(&self, s: &ResolvedStage) -> ResolvedStage {
        let mut m = s.clone();
        m.params = s
            .params
            .iter()
            .map(|(k, v)| (k.clone(), self.rewrite(v)))
            .collect();
        m.outs = s.outs.iter().map(|o| self.rewrite_str(o)).collect();
        m
    }

    /// Runs a (miniature) stage, its outputs removed first; returns the seconds it took.
    fn run(&self, s: &ResolvedStage, clock: Option<Arc<Clock>>) -> Result<f64> {
        let kind = self
            .registry
            .get(&s.kind)
            .ok_or_else(|| anyhow!("unknown kind `{}`", s.kind))?;
        // Every probe has a clock, which also sends the job's result lines to the debug log.
        let ctx = self.ctx(Some(
            clock.unwrap_or_else(|| Arc::new(Clock::new(self.wall_clock))),
        ));
        for o in &s.outs {
            let path = ctx.path(o);
            remove_path(&path)?;
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
        }
        let watch = clock::Stopwatch::new(self.wall_clock);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| kind.run(s, &ctx)));
        let secs = watch.unshared();
        if let (Ok(mut total), Ok(w)) = (self.waited_ran.lock(), watch.waited_ran.lock()) {
            total.0 += w.0;
            total.1 += w.1;
        }
        match result {
            Ok(r) => r.map(|()| secs).map_err(|e| {
                let hint = if format!("{e:#}").contains("hub") && self.stand_ins.is_empty() {
                    " (a model that is not here can be timed with random weights: --stand-in ID=SHAPE@TOKENIZER_DIR)"
                } else {
                    ""
                };
                anyhow!("the miniature failed: {e:#}{hint}")
            }),
            Err(_) => bail!("the miniature panicked"),
        }
    }

    /// Bytes the stage's (miniature) outputs take.
    fn out_bytes(&self, s: &ResolvedStage) -> f64 {
        s.outs
            .iter()
            .map(|o| sample::disk_bytes(&self.path(o)) as f64)
            .sum()
    }

    /// Estimates one stage.
    fn stage(&mut self, s: &ResolvedStage) -> Result<StageEstimate> {
        let m = self.miniature(s);
        let mut est = match s.kind.as_str() {
            "finetune" | "task-distill" | "general-distill" | "mlm-head" => self.trainer(&m)?,
            "corpus" => self.corpus(&m)?,
            "glue" => self.glue(&m)?,
            "augment" => self.augment(&m)?,
            "eval" => self.eval(&m)?,
            _ => self.whole(&m)?,
        };
        est.name = s.name.clone();
        est.kind = s.kind.clone();
        est.status = "estimated".into();
        Ok(est)
    }
}

/// Seconds as `12.3s`, `4m05s`, `1h02m`; beyond 10 days in days.
pub fn fmt_secs(s: f64) -> String {
    if !s.is_finite() {
        return "?".into();
    }
    if s >= 864_000.0 {
        return format!("{:.0} days", s / 86_400.0);
    }
    fmt_duration(Duration::from_secs_f64(s.max(0.0)))
}

/// A count as `12`, `3.4k`, `5.6M`, `7.8G`.
pub fn fmt_count(n: f64) -> String {
    match n {
        n if n >= 1e9 => format!("{:.1}G", n / 1e9),
        n if n >= 1e6 => format!("{:.1}M", n / 1e6),
        n if n >= 1e4 => format!("{:.1}k", n / 1e3),
        n => format!("{n:.0}"),
    }
}

/// Bytes as `12 B`, `3.4 MB`, `5.6 GB`, `7.8 TB`.
pub fn fmt_bytes(n: f64) -> String {
    match n {
        n if n >= 1e12 => format!("{:.1} TB", n / 1e12),
        n if n >= 1e9 => format!("{:.1} GB", n / 1e9),
        n if n >= 1e6 => format!("{:.1} MB", n / 1e6),
        n if n >= 1e3 => format!("{:.1} kB", n / 1e3),
        n => format!("{n:.0} B"),
    }
}

/// The table `tinybert run --estimate` prints.
pub fn table(e: &Estimate) -> String {
    use std::fmt::Write;
    let w = e
        .stages
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{:<w$}  {:<15}  {:>14}  {:>9}  {:>9}  how",
        "stage", "kind", "time", "examples", "disk"
    );
    for s in &e.stages {
        let time = if s.status == "up to date" {
            "up to date".to_string()
        } else {
            fmt_secs(s.seconds)
        };
        let _ = writeln!(
            t,
            "{:<w$}  {:<15}  {:>14}  {:>9}  {:>9}  {}",
            s.name,
            s.kind,
            time,
            fmt_count(s.examples),
            fmt_bytes(s.bytes),
            s.note
        );
    }
    let busy = e.load.iter().any(|&l| l > e.cores as f64 + 0.5);
    let _ = writeln!(
        t,
        "{:<w$}  {:<15}  {:>14}  {:>9}  {:>9}  (estimating took {}; load {:.1} -> {:.1} on {} cores{})",
        "total",
        format!("{} stages", e.stages.len()),
        fmt_secs(e.total_seconds),
        fmt_count(e.total_examples),
        fmt_bytes(e.total_bytes),
        fmt_secs(e.probe_seconds),
        e.load[0],
        e.load[1],
        e.cores,
        if (busy || e.share < 0.9) && !e.wall_clock {
            format!(
                "; other work shared the machine: its probes ran {:.0}% of the time they were ready to, and only that time is counted",
                100.0 * e.share
            )
        } else {
            String::new()
        }
    );
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_take_k_m_g_suffixes() {
        assert_eq!(parse_count("2500M"), Some(2.5e9));
        assert_eq!(parse_count("2.5e9"), Some(2.5e9));
        assert_eq!(parse_count("1_000"), Some(1000.0));
        assert_eq!(parse_count("12k"), Some(12_000.0));
        assert_eq!(parse_count("x"), None);
        assert_eq!(parse_count("-1"), None);
    }
}
