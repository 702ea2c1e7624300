//! [`Clock`]: what a probed trainer reports while it runs (the start of its loop, each optimizer
//! step, its messages such as a dev evaluation), with the time of each event, so that the probe
//! can tell the set-up, the warm-up step, the timed steps, a dev evaluation and the tail apart.

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

/// Events with their times in seconds since the clock was made.
pub struct Clock {
    t0: Instant,
    events: Mutex<Vec<(f64, Event)>>,
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock {
    /// A clock starting now (just before the probed stage runs).
    pub fn new() -> Self {
        Self {
            t0: Instant::now(),
            events: Mutex::new(Vec::new()),
        }
    }

    /// Seconds since the clock was made.
    pub fn now(&self) -> f64 {
        self.t0.elapsed().as_secs_f64()
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
