//! The miniature of each kind and its projection to the full stage (see the module docs of
//! [`super`] for the method).

use super::clock::{Clock, TrainTimes};
use super::sample::{self, linear};
use super::{fmt_count, Estimator, StageEstimate};
use crate::pipeline::stage::ResolvedStage;
use anyhow::{anyhow, bail, Context, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tinybert_distill::train::Plan;
use toml::Value;

/// `corpus`: text bytes in the small and the large sample.
const CORPUS_BYTES: (u64, u64) = (256 << 10, 4 << 20);
/// `glue`: rows of each file in the two samples.
const GLUE_ROWS: (usize, usize) = (50, 20_000);
/// `augment`: training rows in the two samples.
const AUGMENT_ROWS: (usize, usize) = (4, 40);
/// Trainers: timed steps shorter than this in all are timed again with more steps ...
const MIN_TIMED_SECONDS: f64 = 2.0;
/// ... but at most this many.
const MAX_PROBE_STEPS: usize = 60;
/// `augment`: a larger sample when the two differ by less than this ...
const AUGMENT_MIN_SECONDS: f64 = 3.0;
/// ... of at most this many rows.
const AUGMENT_MAX_ROWS: usize = 400;
/// `eval`: rows in the two samples.
const EVAL_ROWS: (usize, usize) = (32, 512);

fn blank() -> StageEstimate {
    StageEstimate {
        name: String::new(),
        kind: String::new(),
        status: String::new(),
        seconds: 0.0,
        examples: 0.0,
        bytes: 0.0,
        probe_seconds: 0.0,
        note: String::new(),
    }
}

fn set(s: &mut ResolvedStage, key: &str, v: Value) {
    s.params.insert(key.to_string(), v);
}

fn int(n: usize) -> Value {
    Value::Integer(n as i64)
}

fn str_param(s: &ResolvedStage, key: &str) -> Option<String> {
    s.params
        .get(key)
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

fn usize_param(s: &ResolvedStage, key: &str) -> Option<usize> {
    match s.params.get(key)? {
        Value::Integer(i) => usize::try_from(*i).ok(),
        Value::String(t) => t.parse().ok(),
        _ => None,
    }
}

/// The task folder of a GLUE `data_dir` (the root holding `<TASK>/`, or the task's folder).
fn task_dir(workdir_path: PathBuf, task: &str) -> PathBuf {
    let sub = workdir_path.join(task);
    if sub.is_dir() {
        sub
    } else {
        workdir_path
    }
}

/// The canonical GLUE task name of a stage's `task` parameter.
fn task_name(s: &ResolvedStage) -> Result<String> {
    let t = str_param(s, "task").ok_or_else(|| anyhow!("no `task` parameter"))?;
    let task: tinybert_data::Task = t.parse().map_err(|e| anyhow!("task `{t}`: {e}"))?;
    Ok(task.name().to_string())
}

/// A copy of a GLUE task folder with every file cut to its first `rows` lines, as
/// `<sample>/<TASK>/`; returns the sample root.
fn glue_sample(from: &Path, task: &str, dir: &Path, rows: usize) -> Result<PathBuf> {
    let to = dir.join(task);
    std::fs::create_dir_all(&to).with_context(|| format!("cannot create {}", to.display()))?;
    for e in std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))? {
        let p = e?.path();
        if p.is_file() {
            let name = p.file_name().expect("a file has a name");
            sample::head_lines(&p, &to.join(name), rows)?;
        }
    }
    Ok(dir.to_path_buf())
}

/// The GLUE files a split folder comes from: `<split>.tsv`, or MNLI's `<split>_matched.tsv`.
fn split_file(task_dir: &Path, folder: &str) -> Option<PathBuf> {
    [format!("{folder}.tsv"), format!("{folder}_matched.tsv")]
        .into_iter()
        .map(|f| task_dir.join(f))
        .find(|p| p.is_file())
}

/// Subfolders of `dir` that hold a dataset (`part-*.parquet`).
fn datasets_in(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut v: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| sample::dataset_rows(p).is_ok())
        .map(|p| {
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            (name, p)
        })
        .collect();
    v.sort();
    v
}

impl Estimator<'_> {
    /// Kinds without a sample: run whole.
    pub(super) fn whole(&mut self, m: &ResolvedStage) -> Result<StageEstimate> {
        let t = self.run(m, None)?;
        Ok(StageEstimate {
            seconds: t,
            bytes: self.out_bytes(m),
            probe_seconds: t,
            note: "ran whole".into(),
            ..blank()
        })
    }

    /// Trainers: a few real steps, projected to the full plan.
    pub(super) fn trainer(&mut self, m: &ResolvedStage) -> Result<StageEstimate> {
        let kind = self
            .registry
            .get(&m.kind)
            .ok_or_else(|| anyhow!("unknown kind `{}`", m.kind))?;
        let ctx = self.ctx(None);
        let Some(plan) = kind.training(m, &ctx)? else {
            return self.whole(m);
        };
        let cfg = plan.config;
        let n_full = (self.rows_of(&plan.data)? - plan.held_out as f64).max(1.0);
        let n_probe = (sample::dataset_rows(&plan.data)? as f64 - plan.held_out as f64).max(1.0);
        let full = Plan::new(n_full.round() as usize, &cfg).map_err(|e| anyhow!("{e}"))?;

        let mut probe = m.clone();
        let mut steps = self.probe_steps + 1;
        set(&mut probe, "save_every", int(0));
        set(&mut probe, "log_every", int(1));
        for key in ["patience", "resume", "keep_checkpoint"] {
            probe.params.remove(key);
        }
        if probe.kind == "task-distill" {
            // A teacher fine-tuned for a few steps is no better than the majority class.
            set(&mut probe, "force_weak_teacher", Value::Boolean(true));
        }
        let mut secs = 0.0;
        let t = loop {
            set(&mut probe, "max_steps", int(steps));
            set(&mut probe, "eval_every", int(steps));
            let clock = Arc::new(Clock::new(self.wall_clock));
            secs += self.run(&probe, Some(clock.clone()))?;
            let end = clock.now();
            let Some(t) = TrainTimes::read(&clock.events(), end) else {
                return Ok(StageEstimate {
                    seconds: secs,
                    bytes: self.out_bytes(m),
                    probe_seconds: secs,
                    note: "trained nothing: ran whole".into(),
                    ..blank()
                });
            };
            // Steps too short to time in a few: once more, with enough of them.
            let timed = t.steps.saturating_sub(1) as f64 * t.step;
            let want = ((MIN_TIMED_SECONDS * 1.5 / t.step.max(1e-3)).ceil() as usize + 1)
                .min(MAX_PROBE_STEPS)
                .min(full.t_total);
            if t.steps == steps && timed < MIN_TIMED_SECONDS && want > steps {
                steps = want;
                continue;
            }
            break t;
        };
        let (seconds, evals) = project_training(&t, &full, &cfg, n_full / n_probe);
        let total = full.t_total as f64;
        let examples = if full.t_total == full.steps_per_epoch * cfg.epochs {
            n_full * cfg.epochs as f64
        } else {
            total * full.batch as f64
        };
        let mut note = format!(
            "{} steps x {:.2} s (timed {} of {}), {} evals x {:.1} s, set-up {:.1} s",
            full.t_total,
            t.step,
            t.steps.saturating_sub(1).max(1),
            t.steps,
            evals,
            t.eval.unwrap_or(0.0),
            t.setup
        );
        if t.cache > 0.0 {
            note += &format!(", teacher cache {:.1} s", t.cache * n_full / n_probe);
        }
        if cfg.patience.is_some() {
            note += ", to the end (patience may stop it earlier)";
        }
        Ok(StageEstimate {
            seconds,
            examples,
            bytes: self.out_bytes(m),
            probe_seconds: secs,
            note,
            ..blank()
        })
    }

    /// `corpus`: two text samples; the full size is the input's, or `--assume`'s.
    pub(super) fn corpus(&mut self, m: &ResolvedStage) -> Result<StageEstimate> {
        let inputs: Vec<PathBuf> = match m.params.get("input") {
            Some(Value::String(s)) => vec![self.path(s)],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str())
                .map(|s| self.path(s))
                .collect(),
            _ => bail!("no `input` parameter"),
        };
        let files = sample::input_files(&inputs)?;
        let real_bytes: u64 = files
            .iter()
            .map(|f| f.metadata().map(|m| m.len()).unwrap_or(0))
            .sum();
        let dir = self.sample_dir(m, "text")?;
        let (small, large) = CORPUS_BYTES;
        let (b1, _) = sample::text_sample(&files, small, &dir.join("small.txt"))?;
        let (b2, w2) = sample::text_sample(&files, large, &dir.join("large.txt"))?;
        let words = self.assume.get(&(m.name.clone(), "words".into())).copied();
        let bytes = self.assume.get(&(m.name.clone(), "bytes".into())).copied();
        let full = match (words, bytes) {
            (Some(w), _) => w * b2 as f64 / w2.max(1) as f64,
            (None, Some(b)) => b,
            (None, None) => real_bytes as f64,
        };
        let out = self.path(m.out()?);
        let mut note = String::new();
        let (seconds, probe_seconds, scale) =
            if words.is_none() && bytes.is_none() && real_bytes <= large {
                let t = self.run(m, None)?;
                note.push_str("ran whole");
                (t, t, 1.0)
            } else {
                let mut p = m.clone();
                set(
                    &mut p,
                    "input",
                    Value::String(dir.join("small.txt").display().to_string()),
                );
                let t1 = self.run(&p, None)?;
                set(
                    &mut p,
                    "input",
                    Value::String(dir.join("large.txt").display().to_string()),
                );
                let t2 = self.run(&p, None)?;
                note = format!(
                    "{} of text (~{} words) from samples of {} and {}",
                    super::fmt_bytes(full),
                    fmt_count(full * w2 as f64 / b2.max(1) as f64),
                    super::fmt_bytes(b1 as f64),
                    super::fmt_bytes(b2 as f64)
                );
                (
                    linear(full, (b1 as f64, t1), (b2 as f64, t2)),
                    t1 + t2,
                    full / b2.max(1) as f64,
                )
            };
        let rows = sample::dataset_rows(&out)? as f64 * scale;
        self.rows.insert(out.clone(), rows);
        Ok(StageEstimate {
            seconds,
            examples: rows,
            bytes: self.out_bytes(m) * scale,
            probe_seconds,
            note: format!("{note}; {} instances", fmt_count(rows)),
            ..blank()
        })
    }

    /// `glue`: the first rows of each file, twice.
    pub(super) fn glue(&mut self, m: &ResolvedStage) -> Result<StageEstimate> {
        let task = task_name(m)?;
        let data_dir = str_param(m, "data_dir").ok_or_else(|| anyhow!("no `data_dir`"))?;
        let from = task_dir(self.path(&data_dir), &task);
        let splits: Vec<String> = match m.params.get("splits") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => vec!["train".into(), "dev".into()],
        };
        // Lines each split's file has, and the caps on rows.
        let mut lines = Vec::new();
        for s in &splits {
            for folder in [s.clone(), format!("{s}_mismatched")] {
                if let Some(f) = split_file(&from, &folder) {
                    lines.push((folder, sample::count_lines(&f)?));
                }
            }
        }
        let full_lines: usize = lines.iter().map(|(_, n)| n).sum();
        let caps: Vec<(String, usize)> = match m.params.get("max_rows") {
            Some(Value::Table(t)) => t
                .iter()
                .filter_map(|(k, v)| {
                    let n = match v {
                        Value::Integer(i) => usize::try_from(*i).ok(),
                        Value::String(s) => s.parse().ok(),
                        _ => None,
                    }?;
                    (n > 0).then(|| (k.clone(), n))
                })
                .collect(),
            _ => Vec::new(),
        };
        let (small, large) = GLUE_ROWS;
        let out = self.path(m.out()?);
        let (seconds, probe_seconds, note) = if lines.iter().all(|(_, n)| *n <= large) {
            let t = self.run(m, None)?;
            (t, t, "ran whole".to_string())
        } else {
            let mut p = m.clone();
            let mut times = Vec::new();
            for rows in [small, large] {
                let root =
                    glue_sample(&from, &task, &self.sample_dir(m, &rows.to_string())?, rows)?;
                set(
                    &mut p,
                    "data_dir",
                    Value::String(root.display().to_string()),
                );
                let x: usize = lines.iter().map(|(_, n)| (*n).min(rows)).sum();
                times.push((x as f64, self.run(&p, None)?));
            }
            (
                linear(full_lines as f64, times[0], times[1]),
                times[0].1 + times[1].1,
                format!("{full_lines} lines from samples of {small} and {large} per file"),
            )
        };
        // Each split folder's rows at full size.
        let mut total_rows = 0.0;
        let mut probe_rows = 0.0;
        for (folder, path) in datasets_in(&out) {
            let got = sample::dataset_rows(&path)? as f64;
            let file_lines = lines.iter().find(|(f, _)| *f == folder).map(|(_, n)| *n);
            let rows = match file_lines {
                Some(n) if n > large => {
                    let in_file = read_rows_in_file(&path).unwrap_or(got);
                    let r = in_file * n as f64 / large as f64;
                    match caps.iter().find(|(k, _)| *k == folder) {
                        Some((_, cap)) => r.min(*cap as f64),
                        None => r,
                    }
                }
                _ => got,
            };
            self.rows.insert(path, rows);
            total_rows += rows;
            probe_rows += got;
        }
        let scale = if probe_rows > 0.0 {
            total_rows / probe_rows
        } else {
            1.0
        };
        Ok(StageEstimate {
            seconds,
            examples: full_lines as f64,
            bytes: self.out_bytes(m) * scale,
            probe_seconds,
            note: format!("{note}; {} rows out", fmt_count(total_rows)),
            ..blank()
        })
    }

    /// `augment`: the first training rows, twice.
    pub(super) fn augment(&mut self, m: &ResolvedStage) -> Result<StageEstimate> {
        let task = task_name(m)?;
        let data_dir = str_param(m, "data_dir").ok_or_else(|| anyhow!("no `data_dir`"))?;
        let from = task_dir(self.path(&data_dir), &task);
        let train = from.join("train.tsv");
        let in_file = sample::count_lines(&train)?.saturating_sub(1);
        let rows = match usize_param(m, "limit") {
            Some(l) if l > 0 => l.min(in_file),
            _ => in_file,
        };
        let out = self.path(m.out()?);
        let (small, large) = AUGMENT_ROWS;
        let (seconds, probe_seconds, scale, note) = if rows <= large {
            let t = self.run(m, None)?;
            (t, t, 1.0, "ran whole".to_string())
        } else {
            let mut p = m.clone();
            set(&mut p, "limit", int(small));
            let t1 = self.run(&p, None)?;
            set(&mut p, "limit", int(large));
            let mut t2 = self.run(&p, None)?;
            let mut probe = t1 + t2;
            let mut large = large;
            // Rows too quick to tell the cost per row from the fixed cost: a larger sample.
            if t2 - t1 < AUGMENT_MIN_SECONDS && rows > large {
                let per_row = ((t2 - t1) / (large - small) as f64).max(1e-3);
                let n = ((large as f64 + AUGMENT_MIN_SECONDS / per_row).ceil() as usize)
                    .min(AUGMENT_MAX_ROWS)
                    .min(rows);
                if n > large {
                    large = n;
                    set(&mut p, "limit", int(large));
                    t2 = self.run(&p, None)?;
                    probe += t2;
                }
            }
            (
                linear(rows as f64, (small as f64, t1), (large as f64, t2)),
                probe,
                rows as f64 / large as f64,
                format!("{rows} rows from samples of {small} and {large}"),
            )
        };
        let out_rows = sample::dataset_rows(&out)? as f64 * scale;
        self.rows.insert(out, out_rows);
        Ok(StageEstimate {
            seconds,
            examples: rows as f64,
            bytes: self.out_bytes(m) * scale,
            probe_seconds,
            note: format!("{note}; {} rows out", fmt_count(out_rows)),
            ..blank()
        })
    }

    /// `eval`: the first rows of the split, twice.
    pub(super) fn eval(&mut self, m: &ResolvedStage) -> Result<StageEstimate> {
        let (small, large) = EVAL_ROWS;
        let mut p = m.clone();
        let mut times = Vec::new();
        let rows;
        if let Some(data) = str_param(m, "data") {
            let path = self.path(&data);
            rows = self.rows_of(&path)?;
            if rows > large as f64 {
                let ds = tinybert_data::GlueDataset::open(&path)?;
                for n in [small, large] {
                    let dir = self.sample_dir(m, &n.to_string())?.join("data");
                    std::fs::create_dir_all(&dir)?;
                    let k = n.min(ds.examples.len());
                    tinybert_data::glue::write_examples(
                        &dir,
                        &ds.meta,
                        &ds.examples[..k],
                        1 << 20,
                    )?;
                    set(&mut p, "data", Value::String(dir.display().to_string()));
                    times.push((k as f64, self.run(&p, None)?));
                }
            }
        } else {
            let task = task_name(m)?;
            let data_dir =
                str_param(m, "data_dir").ok_or_else(|| anyhow!("no `data` or `data_dir`"))?;
            let from = task_dir(self.path(&data_dir), &task);
            let split = str_param(m, "split").unwrap_or_else(|| "dev".into());
            let mut n = 0;
            for folder in [split.clone(), format!("{split}_mismatched")] {
                if let Some(f) = split_file(&from, &folder) {
                    n += sample::count_lines(&f)?.saturating_sub(1);
                }
            }
            rows = n as f64;
            if n > large {
                for k in [small, large] {
                    // One line more: the header.
                    let root =
                        glue_sample(&from, &task, &self.sample_dir(m, &k.to_string())?, k + 1)?;
                    set(
                        &mut p,
                        "data_dir",
                        Value::String(root.display().to_string()),
                    );
                    times.push((k as f64, self.run(&p, None)?));
                }
            }
        }
        if times.is_empty() {
            let t = self.run(m, None)?;
            return Ok(StageEstimate {
                seconds: t,
                examples: rows,
                bytes: self.out_bytes(m),
                probe_seconds: t,
                note: format!("ran whole ({} rows)", fmt_count(rows)),
                ..blank()
            });
        }
        Ok(StageEstimate {
            seconds: linear(rows, times[0], times[1]),
            examples: rows,
            bytes: self.out_bytes(m) * rows / large as f64,
            probe_seconds: times[0].1 + times[1].1,
            note: format!(
                "{} rows from samples of {small} and {large}",
                fmt_count(rows)
            ),
            ..blank()
        })
    }
}

/// A trainer's full time from its probe's timings `t`, for the full run's plan and trainer
/// configuration, the training set being `rows_ratio` times the probe's; and the number of dev
/// evaluations it makes.
pub fn project_training(
    t: &TrainTimes,
    full: &Plan,
    cfg: &tinybert_distill::TrainConfig,
    rows_ratio: f64,
) -> (f64, f64) {
    let epoch_ends = full.t_total.div_ceil(full.steps_per_epoch) as f64;
    let evals = match (t.eval, cfg.eval_every) {
        (None, _) => 0.0,
        (Some(_), 0) => epoch_ends,
        (Some(_), n) => full.t_total.div_ceil(n) as f64,
    };
    let ckpts = full.t_total.checked_div(cfg.save_every).unwrap_or(0) as f64 + epoch_ends;
    // The tail holds a checkpoint and the output model: about half each.
    let seconds = t.setup
        + t.cache * rows_ratio
        + full.t_total as f64 * t.step
        + evals * t.eval.unwrap_or(0.0)
        + (ckpts + 1.0) * t.tail / 2.0;
    (seconds, evals)
}

/// The rows a `glue` output had in its file before `max_rows` (`rows_in_file` in its
/// summary.json, else `rows`).
fn read_rows_in_file(dir: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(dir.join("summary.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("rows_in_file")
        .or_else(|| v.get("rows"))
        .and_then(|r| r.as_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinybert_distill::TrainConfig;

    #[test]
    fn a_trainer_is_projected_from_its_steps_evaluations_and_checkpoints() {
        let t = TrainTimes {
            setup: 2.0,
            cache: 1.0,
            steps: 5,
            step: 0.5,
            eval: Some(3.0),
            tail: 0.2,
        };
        let cfg = TrainConfig {
            batch_size: 32,
            epochs: 2,
            eval_every: 50,
            save_every: 0,
            max_steps: None,
            ..TrainConfig::default()
        };
        // 3,200 examples: 100 steps per epoch, 200 steps, 4 evaluations, 2 epoch checkpoints.
        let full = Plan::new(3200, &cfg).unwrap();
        let (secs, evals) = project_training(&t, &full, &cfg, 10.0);
        assert_eq!(evals, 4.0);
        let want = 2.0 + 10.0 + 200.0 * 0.5 + 4.0 * 3.0 + 3.0 * 0.1;
        assert!((secs - want).abs() < 1e-9, "{secs} vs {want}");
        // max_steps caps the steps, and without a dev set there is no evaluation.
        let capped = TrainConfig {
            max_steps: Some(20),
            ..cfg.clone()
        };
        let full = Plan::new(3200, &capped).unwrap();
        let no_dev = TrainTimes { eval: None, ..t };
        let (secs, evals) = project_training(&no_dev, &full, &capped, 1.0);
        assert_eq!(evals, 0.0);
        assert!(
            (secs - (2.0 + 1.0 + 20.0 * 0.5 + 2.0 * 0.1)).abs() < 1e-9,
            "{secs}"
        );
    }
}
