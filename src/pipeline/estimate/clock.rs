//! [`Clock`]: what a probed trainer reports while it runs (the start of its loop, each optimizer
//! step, its messages such as a dev evaluation), with the time of each event, so that the probe
//! can tell the set-up, the warm-up step, the timed steps, a dev evaluation and the tail apart.
//!
//! Times are those of the machine when no other work shares it ([`Stopwatch`]): over each
//! interval, the wall-clock time is scaled by the share of the time this process's threads were
//! ready to run that they actually ran (Linux `schedstat`: time on a core / (time on a core +
//! time waiting for one)). On a machine with nothing else running the share is 1 and the time is
//! the wall-clock time; with a compiler beside it, the waits for a core are not counted.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;
use tinybert_distill::train::TrainProgress;

/// One event a trainer reported.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The training loop starts (model, data and teacher cache are ready).
    Start,
    /// Optimizer step `n` (1-based) finished.
    Step(usize),
    /// A message (`step 5: dev score ...`, `caching teacher logits`, ...).
    Message(String),
}

/// Nanoseconds each live thread of this process has spent on a core and ready but waiting for
/// one (the first two fields of `/proc/self/task/<tid>/schedstat`), by thread id; empty where
/// that is not available.
fn thread_times() -> BTreeMap<u64, (u64, u64)> {
    let mut out = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for t in tasks.flatten() {
        let Some(tid) = t.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(t.path().join("schedstat")) else {
            continue;
        };
        let mut f = text.split_whitespace().map(|w| w.parse::<u64>().ok());
        if let (Some(Some(cpu)), Some(Some(wait))) = (f.next(), f.next()) {
            out.insert(tid, (cpu, wait));
        }
    }
    out
}

struct Lap {
    at: Instant,
    threads: BTreeMap<u64, (u64, u64)>,
    /// Unshared seconds up to `at`.
    unshared: f64,
}

/// Wall-clock seconds, and the seconds the same work takes when nothing else shares the
/// machine: each interval between two readings counts `wall x ran / (ran + waited)`, summed over
/// the process's threads.
pub struct Stopwatch {
    t0: Instant,
    /// Count the waits too (the machine as it is).
    wall_clock: bool,
    last: Mutex<Lap>,
    /// Seconds the threads waited for a core (summed over threads), and ran.
    pub(crate) waited_ran: Mutex<(f64, f64)>,
}

impl Stopwatch {
    /// Starts now; `wall_clock`: count the waits for a core too.
    pub fn new(wall_clock: bool) -> Self {
        let at = Instant::now();
        Self {
            t0: at,
            wall_clock,
            last: Mutex::new(Lap {
                at,
                threads: thread_times(),
                unshared: 0.0,
            }),
            waited_ran: Mutex::new((0.0, 0.0)),
        }
    }

    /// Wall-clock seconds since the start.
    pub fn wall(&self) -> f64 {
        self.t0.elapsed().as_secs_f64()
    }

    /// Seconds since the start on the machine when nothing else shares it.
    pub fn unshared(&self) -> f64 {
        let now = Instant::now();
        let threads = thread_times();
        let Ok(mut last) = self.last.lock() else {
            return self.wall();
        };
        let (mut ran, mut waited) = (0u64, 0u64);
        for (tid, (cpu, wait)) in &threads {
            let (cpu0, wait0) = last.threads.get(tid).copied().unwrap_or((0, 0));
            ran += cpu.saturating_sub(cpu0);
            waited += wait.saturating_sub(wait0);
        }
        let wall = now.duration_since(last.at).as_secs_f64();
        let share = if self.wall_clock {
            1.0
        } else if ran + waited > 0 {
            ran as f64 / (ran + waited) as f64
        } else {
            1.0
        };
        if let Ok(mut w) = self.waited_ran.lock() {
            w.0 += waited as f64 * 1e-9;
            w.1 += ran as f64 * 1e-9;
        }
        *last = Lap {
            at: now,
            threads,
            unshared: last.unshared + wall * share,
        };
        last.unshared
    }
}

/// Events with their (unshared, see [`Stopwatch`]) times in seconds since the clock was made.
pub struct Clock {
    watch: Stopwatch,
    events: Mutex<Vec<(f64, Event)>>,
}

impl Clock {
    /// A clock starting now (just before the probed stage runs); `wall_clock`: see
    /// [`Stopwatch::new`].
    pub fn new(wall_clock: bool) -> Self {
        Self {
            watch: Stopwatch::new(wall_clock),
            events: Mutex::new(Vec::new()),
        }
    }

    /// Unshared seconds since the clock was made.
    pub fn now(&self) -> f64 {
        self.watch.unshared()
    }

    fn push(&self, e: Event) {
        let t = self.now();
        if let Ok(mut v) = self.events.lock() {
            v.push((t, e));
        }
    }

    /// The events so far, in order.
    pub fn events(&self) -> Vec<(f64, Event)> {
        self.events.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl TrainProgress for Clock {
    fn start(&self, _total_steps: usize, _done: usize) {
        self.push(Event::Start);
    }
    fn step(&self, step: usize, _loss: f64, _examples_per_s: f64) {
        self.push(Event::Step(step));
    }
    fn message(&self, msg: &str) {
        self.push(Event::Message(msg.to_string()));
    }
}

/// A trainer probe's timings, read from its clock: everything the projection needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainTimes {
    /// From the job's start to the training loop's, less the teacher cache.
    pub setup: f64,
    /// Computing the teacher's logits for the cache (prediction phase), 0 without one.
    pub cache: f64,
    /// Steps run, the first (warm-up) included.
    pub steps: usize,
    /// Mean seconds per step after the first (the first when there was only one).
    pub step: f64,
    /// One dev evaluation, when the probe evaluated.
    pub eval: Option<f64>,
    /// From the last step (or its evaluation) to the job's end: a checkpoint, the output model.
    pub tail: f64,
}

impl TrainTimes {
    /// Reads the events of a probe that ended at `end` seconds; `None` when the training loop
    /// never started (a kind that trained nothing, e.g. `mlm-head` with `fit = false`).
    pub fn read(events: &[(f64, Event)], end: f64) -> Option<Self> {
        let start = events.iter().find(|(_, e)| *e == Event::Start)?.0;
        let cache_from = events.iter().find_map(|(t, e)| match e {
            Event::Message(m) if m.starts_with("caching teacher logits") && *t <= start => Some(*t),
            _ => None,
        });
        let cache = cache_from.map_or(0.0, |c| start - c);
        let steps: Vec<f64> = events
            .iter()
            .filter_map(|(t, e)| matches!(e, Event::Step(_)).then_some(*t))
            .collect();
        let (&first, &last) = (steps.first()?, steps.last()?);
        let step = if steps.len() > 1 {
            (last - first) / (steps.len() - 1) as f64
        } else {
            first - start
        };
        let n = steps.len();
        let eval_end = events.iter().rev().find_map(|(t, e)| match e {
            Event::Message(m) if m.contains("dev score") && *t >= last => Some(*t),
            _ => None,
        });
        let eval = eval_end.map(|t| t - last);
        let tail = (end - eval_end.unwrap_or(last)).max(0.0);
        Some(Self {
            setup: start - cache,
            cache,
            steps: n,
            step,
            eval,
            tail,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timings_separate_setup_cache_steps_evaluation_and_tail() {
        let ev = vec![
            (1.0, Event::Message("caching teacher logits".into())),
            (3.0, Event::Start),
            (5.0, Event::Step(1)),
            (6.0, Event::Step(2)),
            (7.0, Event::Step(3)),
            (8.0, Event::Step(4)),
            (8.5, Event::Message("step 4: dev score 0.5 (best)".into())),
        ];
        let t = TrainTimes::read(&ev, 9.0).unwrap();
        assert_eq!(
            t,
            TrainTimes {
                setup: 1.0,
                cache: 2.0,
                steps: 4,
                step: 1.0,
                eval: Some(0.5),
                tail: 0.5
            }
        );
        assert!(TrainTimes::read(&[(1.0, Event::Message("copied".into()))], 2.0).is_none());
    }
}
