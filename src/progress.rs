//! Terminal progress: one process-wide `MultiProgress` that every bar joins, and a log writer
//! that suspends the bars while a log line is printed (so logs never garble a bar).

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::io::Write;
use std::sync::OnceLock;
use std::time::Duration;
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
