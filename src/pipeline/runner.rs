//! Running a pipeline: the selected stages in graph order, each checked against the lock file;
//! a stale stage has its old outputs removed (kept when resumable and interrupted), runs in
//! process, and gets its lock entry only after it succeeded.

use super::fsutil::remove_path;
use super::lock::{Lock, LockEntry};
pub use super::outcome::{Outcome, Status};
use super::registry::Registry;
use super::spec::Pipeline;
use super::stage::ResolvedStage;
use super::staleness::{hash_all, own_reason, Hashes, Reason};
use super::state::State;
use super::ui::Ui;
use crate::jobs::Ctx;
use anyhow::{anyhow, bail, Context, Result};
use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::Instant;

/// What `tinybert run` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Stage names or `foreach` group names; empty: every stage.
    pub targets: Vec<String>,
    /// Only the targets, not their upstream stages.
    pub single: bool,
    /// Run the targets (every stage when none is named) even when up to date.
    pub force: bool,
    /// Report what would run, run nothing.
    pub dry_run: bool,
    /// After a failure, go on with the stages that do not depend on it.
    pub keep_going: bool,
    /// Keep the results of stages computed by other code (a changed code id is not a reason
    /// to rerun).
    pub ignore_code_changes: bool,
}

/// The stages `opts` selects, in run order, and those `--force` applies to.
fn select(p: &Pipeline, opts: &RunOptions) -> Result<(Vec<usize>, BTreeSet<usize>)> {
    let mut targets = Vec::new();
    for t in &opts.targets {
        let found: Vec<usize> = match p.index_of(t) {
            Some(i) => vec![i],
            None => (0..p.stages.len())
                .filter(|&i| p.stages[i].group == *t)
                .collect(),
        };
        if found.is_empty() {
            let names: Vec<&str> = p.stages.iter().map(|s| s.name.as_str()).collect();
            bail!(
                "{}: no stage `{t}` (stages: {})",
                p.file.display(),
                names.join(", ")
            );
        }
        targets.extend(found);
    }
    let selected: BTreeSet<usize> = if targets.is_empty() {
        (0..p.stages.len()).collect()
    } else if opts.single {
        targets.iter().copied().collect()
    } else {
        p.graph.with_upstream(&targets)
    };
    let order = p
        .graph
        .order
        .iter()
        .copied()
        .filter(|i| selected.contains(i))
        .collect();
    let forced = match (opts.force, targets.is_empty()) {
        (false, _) => BTreeSet::new(),
        (true, true) => selected,
        (true, false) => targets.into_iter().collect(),
    };
    Ok((order, forced))
}

/// An input that neither exists nor comes from any stage is an error before anything runs.
fn check_inputs(p: &Pipeline, order: &[usize]) -> Result<()> {
    for &i in order {
        let s = &p.stages[i];
        for (dep, &produced) in s.deps.iter().zip(&p.graph.produced[i]) {
            if !produced && !p.workdir.join(dep).exists() {
                bail!(
                    "{}: stage `{}`: input `{dep}` does not exist and no stage produces it (paths are relative to {})",
                    s.origin,
                    s.name,
                    p.workdir.display()
                );
            }
        }
    }
    Ok(())
}

/// The code id a stage's lock entry must match: its kind's, or none when code changes are
/// ignored.
fn code_of(registry: &Registry, s: &ResolvedStage, ignore: bool) -> Option<String> {
    (!ignore).then(|| registry.get(&s.kind).map(|k| k.code()).unwrap_or_default())
}

/// `tinybert status`: every stage, up to date or why not (a stale upstream makes it stale).
pub fn status(
    p: &Pipeline,
    registry: &Registry,
    ignore_code_changes: bool,
) -> Result<Vec<(String, Option<Reason>)>> {
    let lock = Lock::load(&Lock::path_for(&p.file))?;
    let state_path = State::path_for(&p.file);
    let mut state = State::load(&state_path);
    let mut stale = BTreeSet::new();
    let mut rows = Vec::new();
    for &i in &p.graph.order {
        let s = &p.stages[i];
        let deps = hash_all(&s.deps, &p.workdir, &mut state.hashes)?;
        let code = code_of(registry, s, ignore_code_changes);
        let mut reason = own_reason(s, lock.stages.get(&s.name), code.as_deref(), &deps, || {
            hash_all(&s.outs, &p.workdir, &mut state.hashes)
        })?;
        if matches!(reason, None | Some(Reason::InputMissing(_))) {
            if let Some(&u) = p.graph.upstream[i].iter().find(|u| stale.contains(*u)) {
                reason = Some(Reason::Upstream(p.stages[u].name.clone()));
            }
        }
        if reason.is_some() {
            stale.insert(i);
        }
        rows.push((s.name.clone(), reason));
    }
    if let Err(e) = state.save(&state_path) {
        tracing::warn!("{e:#}");
    }
    Ok(rows)
}

/// Runs (or with `dry_run` plans) the selected stages; one [`Outcome`] per selected stage.
/// Errors are for the pipeline as a whole (unknown target, missing input, unreadable lock);
/// a failing stage is an outcome.
pub fn run(
    p: &Pipeline,
    registry: &Registry,
    opts: &RunOptions,
    ui: &Ui,
    device: &str,
) -> Result<Vec<Outcome>> {
    let ctx = Ctx {
        workdir: p.workdir.clone(),
        device: crate::device::parse_device(device)?,
        device_name: device.to_string(),
        progress: ui.progress(),
        stop: crate::jobs::stop_flag(),
        clock: None,
    };
    let (order, forced) = select(p, opts)?;
    if !opts.dry_run {
        check_inputs(p, &order)?;
    }
    let mut lock = Lock::load(&Lock::path_for(&p.file))?;
    // Entries of stages no longer in the file would never be read again; with `-p` overrides
    // the stages may be a subset of the file's, so entries are kept.
    if !opts.dry_run && !p.overridden {
        let before = lock.stages.len();
        lock.stages.retain(|name, _| p.index_of(name).is_some());
        if lock.stages.len() < before {
            lock.save(&Lock::path_for(&p.file))?;
        }
    }
    let mut run = Run {
        p,
        registry,
        ui,
        lock_path: Lock::path_for(&p.file),
        lock,
        state_path: State::path_for(&p.file),
        state: State::load(&State::path_for(&p.file)),
        ctx,
        ignore_code_changes: opts.ignore_code_changes,
    };
    let m = order.len();
    let mut outcomes = Vec::with_capacity(m);
    // Stages that failed or were skipped, and (dry run) stages that would run.
    let mut unfinished = BTreeSet::new();
    let mut pending = BTreeSet::new();
    let mut stopped = false;
    for (n, &i) in order.iter().enumerate() {
        let s = &p.stages[i];
        let tag = format!("[{}/{m}] {}", n + 1, s.name);
        let mut o = Outcome {
            name: s.name.clone(),
            status: Status::NotRun,
            reason: None,
            elapsed: None,
        };
        if stopped {
            outcomes.push(o);
            continue;
        }
        if let Some(&u) = p.graph.upstream[i].iter().find(|u| unfinished.contains(*u)) {
            let why = format!("upstream `{}` did not finish", p.stages[u].name);
            ui.line(&format!("{tag}: skipped, {why}"));
            o.status = Status::Skipped(why);
            unfinished.insert(i);
            outcomes.push(o);
            continue;
        }
        let started = Instant::now();
        let result = run
            .reason(i, forced.contains(&i), &pending)
            .and_then(|(reason, deps)| {
                o.reason = reason.clone();
                match reason {
                    None => {
                        ui.line(&format!("{tag}: up to date"));
                        Ok(Status::UpToDate)
                    }
                    Some(r) if opts.dry_run => {
                        ui.line(&format!("{tag} [{}]: would run: {r}", s.kind));
                        Ok(Status::WouldRun)
                    }
                    Some(r) => run.execute(s, &tag, &r, &deps).map(|()| Status::Ran),
                }
            });
        o.status = result.unwrap_or_else(|e| Status::Failed(format!("{e:#}")));
        match &o.status {
            Status::Ran => {
                o.elapsed = Some(started.elapsed());
                ui.line(&format!(
                    "{tag}: done in {}",
                    super::ui::fmt_duration(started.elapsed())
                ));
            }
            Status::Failed(e) => {
                o.elapsed = Some(started.elapsed());
                ui.line(&format!("{tag}: FAILED: {e}"));
                // Ctrl-C stops the run, `--keep-going` or not.
                let interrupted = run.ctx.stop.load(std::sync::atomic::Ordering::SeqCst);
                stopped = !opts.keep_going || interrupted;
            }
            _ => {}
        }
        match o.status {
            Status::Failed(_) => {
                unfinished.insert(i);
            }
            Status::WouldRun => {
                pending.insert(i);
            }
            _ => {}
        }
        outcomes.push(o);
    }
    if let Err(e) = run.state.save(&run.state_path) {
        tracing::warn!("{e:#}");
    }
    Ok(outcomes)
}

/// One `run` invocation's mutable state.
struct Run<'a> {
    p: &'a Pipeline,
    registry: &'a Registry,
    ui: &'a Ui,
    lock_path: PathBuf,
    lock: Lock,
    state_path: PathBuf,
    state: State,
    ctx: Ctx,
    ignore_code_changes: bool,
}

impl Run<'_> {
    /// Why stage `i` must run (`None`: up to date), and its input hashes. In a dry run, stages in
    /// `pending` (would run) make their dependants run.
    fn reason(
        &mut self,
        i: usize,
        forced: bool,
        pending: &BTreeSet<usize>,
    ) -> Result<(Option<Reason>, Hashes)> {
        let s = &self.p.stages[i];
        let workdir = &self.p.workdir;
        let deps = hash_all(&s.deps, workdir, &mut self.state.hashes)?;
        if forced {
            return Ok((Some(Reason::Forced), deps));
        }
        let hashes = &mut self.state.hashes;
        let code = code_of(self.registry, s, self.ignore_code_changes);
        let mut reason = own_reason(
            s,
            self.lock.stages.get(&s.name),
            code.as_deref(),
            &deps,
            || hash_all(&s.outs, workdir, hashes),
        )?;
        if matches!(reason, None | Some(Reason::InputMissing(_))) {
            if let Some(&u) = self.p.graph.upstream[i]
                .iter()
                .find(|u| pending.contains(*u))
            {
                reason = Some(Reason::Upstream(self.p.stages[u].name.clone()));
            }
        }
        Ok((reason, deps))
    }

    /// Removes (or, resuming, keeps) the outputs, runs the kind, records the lock entry.
    fn execute(
        &mut self,
        s: &ResolvedStage,
        tag: &str,
        reason: &Reason,
        deps: &Hashes,
    ) -> Result<()> {
        let kind = self
            .registry
            .get(&s.kind)
            .ok_or_else(|| anyhow!("unknown kind `{}`", s.kind))?;
        if let Some((path, _)) = deps.iter().find(|(_, h)| h.is_none()) {
            bail!(
                "input `{path}` is missing (its stage has not run: drop --single or run it first)"
            );
        }
        let spec = kind.spec();
        let code = kind.code();
        let fingerprint = fingerprint(s, &code, deps);
        let resume = spec.resumable
            && self.state.attempts.get(&s.name) == Some(&fingerprint)
            && s.outs.iter().any(|o| self.ctx.path(o).exists());
        for o in &s.outs {
            let path = self.ctx.path(o);
            if !resume {
                remove_path(&path)?;
            }
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
        }
        if self.lock.stages.remove(&s.name).is_some() {
            self.lock.save(&self.lock_path)?;
        }
        if spec.resumable {
            self.state.attempts.insert(s.name.clone(), fingerprint);
            self.state.save(&self.state_path)?;
        }
        let what = if resume {
            format!("resuming an interrupted run ({reason})")
        } else {
            format!("running: {reason}")
        };
        self.ui.line(&format!("{tag} [{}]: {what}", s.kind));
        let spinner = self.ui.spinner(tag);
        let result = match s.ranks {
            1 => catch_unwind(AssertUnwindSafe(|| kind.run(s, &self.ctx))),
            _ => Ok(super::ranks::launch(kind, s, &self.ctx)),
        };
        spinner.finish_and_clear();
        result.unwrap_or_else(|panic| {
            let text = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(anyhow!("the stage panicked: {text}"))
        })?;

        let outs = hash_all(&s.outs, &self.p.workdir, &mut self.state.hashes)?;
        if let Some((path, _)) = outs.iter().find(|(_, h)| h.is_none()) {
            bail!("the stage finished without writing its output `{path}`");
        }
        let entry = LockEntry {
            code,
            deps: flatten(deps),
            kind: s.kind.clone(),
            outs: flatten(&outs),
            params: s
                .params
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            version: None,
        };
        self.lock.stages.insert(s.name.clone(), entry);
        self.lock.save(&self.lock_path)?;
        if self.state.attempts.remove(&s.name).is_some() {
            self.state.save(&self.state_path)?;
        }
        Ok(())
    }
}

/// Identifies an attempt: the same fingerprint means the same kind, code, parameters, inputs
/// and outputs, so a resumable stage may continue from what the attempt left.
fn fingerprint(s: &ResolvedStage, code: &str, deps: &Hashes) -> String {
    let params: toml::Table = s
        .params
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let text = format!("{}\n{code}\n{params}\n{deps:?}\n{:?}", s.kind, s.outs);
    blake3::hash(text.as_bytes()).to_hex().to_string()
}

fn flatten(h: &Hashes) -> std::collections::BTreeMap<String, String> {
    h.iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
        .collect()
}
