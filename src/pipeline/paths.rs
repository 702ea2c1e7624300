//! Pipeline paths: lexical normalisation, nesting and the safety rules for outputs.
//!
//! Paths in a pipeline file are relative to its working directory and compared as text after
//! normalisation (`a/./b/../c` is `a/c`), so `runs/x` and `./runs/x/` name the same output.

use anyhow::{bail, Result};
use std::path::{Component, Path};

/// The `/`-separated lexical normal form of `p` (no `.`, `..` only at the start).
pub fn normalize(p: &str) -> Result<String> {
    if p.trim().is_empty() {
        bail!("empty path");
    }
    let mut absolute = false;
    let mut parts: Vec<String> = Vec::new();
    for c in Path::new(p).components() {
        match c {
            Component::RootDir | Component::Prefix(_) => absolute = true,
            Component::CurDir => {}
            Component::ParentDir => match parts.last() {
                Some(last) if last != ".." => {
                    parts.pop();
                }
                _ if absolute => {}
                _ => parts.push("..".into()),
            },
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
        }
    }
    let joined = parts.join("/");
    Ok(match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    })
}

/// Whether normalised path `inner` is `outer` or lies inside it.
pub fn is_within(inner: &str, outer: &str) -> bool {
    if outer == "." {
        return !inner.starts_with('/') && !inner.starts_with("..");
    }
    inner == outer
        || (inner.len() > outer.len()
            && inner.starts_with(outer)
            && inner.as_bytes()[outer.len()] == b'/')
}

/// Whether two normalised paths are equal or one contains the other.
pub fn overlap(a: &str, b: &str) -> bool {
    is_within(a, b) || is_within(b, a)
}

/// Outputs are removed before their stage runs, so they must lie strictly inside the working
/// directory: relative, not `.`, not escaping with `..`.
pub fn check_output(normalized: &str) -> Result<()> {
    if normalized.starts_with('/') {
        bail!("output `{normalized}` must be relative to the working directory (outputs are removed before a run)");
    }
    if normalized == "." || normalized == ".." || normalized.starts_with("../") {
        bail!("output `{normalized}` must lie inside the working directory (outputs are removed before a run)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_removes_dots_and_trailing_slashes() {
        assert_eq!(normalize("./runs//a/../b/").unwrap(), "runs/b");
        assert_eq!(normalize("../shared/glue").unwrap(), "../shared/glue");
        assert_eq!(normalize("/abs/./x").unwrap(), "/abs/x");
        assert_eq!(normalize("a/..").unwrap(), ".");
        assert!(normalize(" ").is_err());
    }

    #[test]
    fn nesting_is_by_whole_components() {
        assert!(is_within("runs/a/model", "runs/a"));
        assert!(is_within("runs/a", "runs/a"));
        assert!(!is_within("runs/ab", "runs/a"));
        assert!(overlap("runs", "runs/a"));
        assert!(is_within("x", "."));
    }

    #[test]
    fn outputs_outside_the_working_directory_are_refused() {
        assert!(check_output("runs/x").is_ok());
        for bad in [".", "..", "../x", "/tmp/x"] {
            assert!(check_output(bad).is_err(), "{bad}");
        }
    }
}
