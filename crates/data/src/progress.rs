//! Progress reporting from long-running jobs. Libraries only call this trait; the binary draws
//! the bar (indicatif), tests pass [`NoProgress`].

/// Receives progress of a job that consumes input bytes and produces tokens.
pub trait Progress: Sync {
    /// The job starts; `total_bytes` is the input size when known.
    fn start(&self, _total_bytes: Option<u64>) {}
    /// `bytes` more input were consumed, producing `tokens` more tokens.
    fn advance(&self, _bytes: u64, _tokens: u64) {}
    /// The job finished.
    fn finish(&self) {}
}

/// Ignores all progress.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}
