//! What the runner shows: one line per stage (`[n/m] name: ...`) on stderr, a spinner with the
//! running stage's elapsed time (stages add their own bars below it), and the final tables.

use super::outcome::{Outcome, Status};
use super::staleness::Reason;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::fmt::Write;
use std::time::Duration;

/// Progress output of one command.
pub struct Ui {
    mp: MultiProgress,
    quiet: bool,
}

impl Ui {
    /// Draws on stderr; `quiet` shows nothing (the summary table is printed by the caller).
    /// The bars are the process-wide [`crate::progress::multi`], which the trainers' bars and
    /// the log writer use too.
    pub fn new(quiet: bool) -> Self {
        let mp = crate::progress::multi().clone();
        if quiet {
            mp.set_draw_target(ProgressDrawTarget::hidden());
        }
        Ui { mp, quiet }
    }

    /// Prints a line above the progress bars (plain `eprintln` when stderr is not a terminal).
    pub fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        if self.mp.is_hidden() {
            eprintln!("{text}");
        } else {
            let _ = self.mp.println(text);
        }
    }

    /// A spinner `<tag> running for <elapsed>`, until `finish_and_clear`.
    pub fn spinner(&self, tag: &str) -> ProgressBar {
        if self.mp.is_hidden() {
            return ProgressBar::hidden();
        }
        let pb = self.mp.add(ProgressBar::new_spinner());
        pb.set_style(
            ProgressStyle::with_template("{spinner} {prefix} running for {elapsed}")
                .expect("constant template"),
        );
        pb.set_prefix(tag.to_string());
        pb.enable_steady_tick(Duration::from_millis(250));
        pb
    }

    /// Where stages add their progress bars.
    pub fn progress(&self) -> MultiProgress {
        self.mp.clone()
    }
}

/// `12.3s`, `4m05s`, `1h02m`.
pub fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1}s")
    } else if s < 3600.0 {
        format!("{}m{:02}s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!(
            "{}h{:02}m",
            (s / 3600.0) as u64,
            ((s % 3600.0) / 60.0) as u64
        )
    }
}

/// The table printed after `run`: each stage's status and time, then the counts.
pub fn summary_table(outcomes: &[Outcome], total: Duration) -> String {
    let width = outcomes
        .iter()
        .map(|o| o.name.len())
        .max()
        .unwrap_or(0)
        .max(5);
    let mut s = format!(
        "{:<width$}  {:<10}  {:>8}  details\n",
        "stage", "status", "time"
    );
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for o in outcomes {
        let (label, detail) = match &o.status {
            Status::UpToDate => ("up to date", String::new()),
            Status::Ran => (
                "ran",
                o.reason.as_ref().map(Reason::to_string).unwrap_or_default(),
            ),
            Status::WouldRun => (
                "would run",
                o.reason.as_ref().map(Reason::to_string).unwrap_or_default(),
            ),
            Status::Failed(e) => ("FAILED", first_line(e)),
            Status::Skipped(why) => ("skipped", why.clone()),
            Status::NotRun => ("not run", "stopped after a failure".to_string()),
        };
        *counts.entry(label).or_default() += 1;
        let time = o.elapsed.map_or("-".to_string(), fmt_duration);
        let _ = writeln!(s, "{:<width$}  {label:<10}  {time:>8}  {detail}", o.name);
    }
    let counts: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    let _ = writeln!(
        s,
        "{} stages: {} in {}",
        outcomes.len(),
        counts.join(", "),
        fmt_duration(total)
    );
    s
}

/// The table printed by `status`.
pub fn status_table(rows: &[(String, Option<Reason>)]) -> String {
    let width = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let mut s = String::new();
    for (name, reason) in rows {
        let _ = match reason {
            None => writeln!(s, "{name:<width$}  up to date"),
            Some(r) => writeln!(s, "{name:<width$}  stale: {r}"),
        };
    }
    s
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_tables_read_well() {
        assert_eq!(fmt_duration(Duration::from_millis(12_340)), "12.3s");
        assert_eq!(fmt_duration(Duration::from_secs(245)), "4m05s");
        assert_eq!(fmt_duration(Duration::from_secs(3720)), "1h02m");
        let outcomes = [
            Outcome {
                name: "prep".into(),
                status: Status::UpToDate,
                reason: None,
                elapsed: None,
            },
            Outcome {
                name: "train@RTE".into(),
                status: Status::Failed("boom\nmore".into()),
                reason: Some(Reason::NeverRun),
                elapsed: Some(Duration::from_secs(2)),
            },
        ];
        let t = summary_table(&outcomes, Duration::from_secs(3));
        assert!(t.contains("train@RTE  FAILED          2.0s  boom\n"), "{t}");
        assert!(
            t.ends_with("2 stages: 1 FAILED, 1 up to date in 3.0s\n"),
            "{t}"
        );
        let t = status_table(&[("a".into(), None), ("bb".into(), Some(Reason::Forced))]);
        assert_eq!(t, "a   up to date\nbb  stale: forced\n");
    }
}
