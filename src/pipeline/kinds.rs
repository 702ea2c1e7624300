//! The stage kinds built into the binary.
//!
//! A real kind (corpus, glue, finetune, general-distill, ...) implements
//! [`StageKind`](super::registry::StageKind) next to its command and is added in [`registry`]
//! with `r.add(MyKind)`. None is built in yet, so a pipeline naming any kind fails to load
//! with an "unknown kind" error.

use super::registry::Registry;
use super::test_kinds;

/// Set to `1` to register the hidden `__test-*` kinds (integration tests of the runner).
pub const TEST_KINDS_ENV: &str = "TINYBERT_TEST_KINDS";

/// Every stage kind `tinybert run` knows.
pub fn registry() -> Registry {
    let mut r = Registry::default();
    if std::env::var_os(TEST_KINDS_ENV).is_some_and(|v| v == "1") {
        test_kinds::register(&mut r);
    }
    r
}
