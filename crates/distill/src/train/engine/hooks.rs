//! Test-only fault injection, compiled in with the `test-hooks` feature only (the workspace's
//! tests enable it; release builds do not contain it): with `TINYBERT_TEST_KILL_AFTER_STEP=N`
//! the process kills itself with SIGKILL right after step N, to test exact resume (with
//! `TINYBERT_TEST_KILL_RANK=r` too, only data-parallel rank r does).

#[cfg(feature = "test-hooks")]
mod enabled {
    /// The variable naming the step after which the process dies.
    pub const KILL_ENV: &str = "TINYBERT_TEST_KILL_AFTER_STEP";

    /// The variable naming the one rank that dies (default: every rank).
    pub const KILL_RANK_ENV: &str = "TINYBERT_TEST_KILL_RANK";

    /// The step to die after, if the variables are set for this rank.
    pub fn kill_after() -> Option<usize> {
        let rank = std::env::var(KILL_RANK_ENV)
            .ok()
            .and_then(|v| v.parse().ok());
        if rank.is_some_and(|r: usize| r != crate::parallel::world().rank()) {
            return None;
        }
        std::env::var(KILL_ENV).ok().and_then(|v| v.parse().ok())
    }

    /// Sends SIGKILL to this process (and waits for it).
    pub fn kill_self() {
        let pid = std::process::id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid])
            .status();
        std::thread::sleep(std::time::Duration::from_secs(5));
    }
}

#[cfg(feature = "test-hooks")]
pub use enabled::{kill_after, kill_self};

/// Without the `test-hooks` feature: never.
#[cfg(not(feature = "test-hooks"))]
pub fn kill_after() -> Option<usize> {
    None
}

/// Without the `test-hooks` feature: nothing (never called, [`kill_after`] being `None`).
#[cfg(not(feature = "test-hooks"))]
pub fn kill_self() {}
