//! Terminal progress: one process-wide `MultiProgress` that every bar joins, and a log writer
//! that suspends the bars while a log line is printed (so logs never garble a bar).

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tinybert_distill::train::TrainProgress;

/// The process-wide bar container.
pub fn multi() -> &'static MultiProgress {
    static MULTI: OnceLock<MultiProgress> = OnceLock::new();
    MULTI.get_or_init(MultiProgress::new)
}

/// `tracing` writer: each formatted event is written to stderr with the bars suspended.
#[derive(Clone, Copy, Default)]
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        multi().suspend(|| std::io::stderr().write_all(buf))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;
    fn make_writer(&'a self) -> Self::Writer {
        LogWriter
    }
}

/// A training bar: steps done of the total, loss and examples/s.
pub struct TrainBar {
    bar: ProgressBar,
}

impl TrainBar {
    pub fn new(label: &str) -> Self {
        let bar = multi().add(ProgressBar::new(0));
        let style = ProgressStyle::with_template(
            "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} steps ({eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix(label.to_string());
        bar.enable_steady_tick(Duration::from_millis(500));
        Self { bar }
    }
}

impl TrainProgress for TrainBar {
    fn start(&self, total_steps: usize, done: usize) {
        self.bar.set_length(total_steps as u64);
        self.bar.set_position(done as u64);
    }
    fn step(&self, step: usize, loss: f64, examples_per_s: f64) {
        self.bar.set_position(step as u64);
        self.bar
            .set_message(format!("loss {loss:.4}, {examples_per_s:.1} ex/s"));
    }
    fn message(&self, msg: &str) {
        tracing::info!("{msg}");
    }
    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// What a [`DataBar`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    /// Input bytes; the rate is in tokens/s.
    Bytes,
    /// Examples; the message shows output rows and examples/s.
    Examples,
}

/// A bar for the data crate's jobs ([`tinybert_data::Progress`]): input bytes read (corpora)
/// or training examples augmented, with the rate.
pub struct DataBar {
    bar: ProgressBar,
    unit: Unit,
    counted: AtomicU64,
    done: AtomicU64,
    started: Instant,
}

impl DataBar {
    /// A bar over input bytes with tokens/s (corpus building).
    pub fn bytes(bars: &MultiProgress, label: &str) -> Self {
        Self::new(bars, label, Unit::Bytes)
    }

    /// A bar over examples with output rows and examples/s (augmentation).
    pub fn examples(bars: &MultiProgress, label: &str) -> Self {
        Self::new(bars, label, Unit::Examples)
    }

    fn new(bars: &MultiProgress, label: &str, unit: Unit) -> Self {
        let bar = bars.add(ProgressBar::new(0));
        let counts = match unit {
            Unit::Bytes => "{bytes}/{total_bytes}",
            Unit::Examples => "{pos}/{len} examples",
        };
        let template =
            format!("{{prefix}} [{{elapsed_precise}}] {{wide_bar}} {counts} ({{eta}}) {{msg}}");
        bar.set_style(
            ProgressStyle::with_template(&template)
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(label.to_string());
        Self {
            bar,
            unit,
            counted: AtomicU64::new(0),
            done: AtomicU64::new(0),
            started: Instant::now(),
        }
    }
}

impl tinybert_data::Progress for DataBar {
    fn start(&self, total: Option<u64>) {
        if let Some(t) = total {
            self.bar.set_length(t);
        }
    }

    /// `amount` more bytes (examples), giving `produced` more tokens (output rows).
    fn advance(&self, amount: u64, produced: u64) {
        let total = self.counted.fetch_add(produced, Ordering::Relaxed) + produced;
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        let msg = match self.unit {
            Unit::Bytes => format!("{total} tokens, {:.0} tokens/s", total as f64 / secs),
            Unit::Examples => {
                // Resumed chunks (no new rows) do not count towards the rate.
                let done = if produced > 0 {
                    self.done.fetch_add(amount, Ordering::Relaxed) + amount
                } else {
                    self.done.load(Ordering::Relaxed)
                };
                format!("{total} rows, {:.2} examples/s", done as f64 / secs)
            }
        };
        self.bar.inc(amount);
        self.bar.set_message(msg);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
