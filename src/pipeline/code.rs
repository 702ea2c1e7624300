//! The code identity of each stage kind, computed from the sources when the binary was built
//! (`build/code_id.rs`: the job's file, the modules it reaches, the workspace crates they use,
//! `Cargo.lock`). The lock file records it per stage; a stage computed by other code is
//! reported stale ("code changed") unless `--ignore-code-changes` keeps its results.

include!(concat!(env!("OUT_DIR"), "/code_ids.rs"));

/// The code id of `kind` (`"unknown"` for a kind that is not a job).
pub fn of_kind(kind: &str) -> String {
    KIND_CODES
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or("unknown", |(_, id)| id)
        .to_string()
}

#[cfg(test)]
#[path = "../../build/code_id.rs"]
mod compute;

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn ids(root: &Path) -> Vec<(String, String)> {
        compute::kind_codes(root).unwrap()
    }

    #[test]
    fn every_job_of_this_build_has_a_code_id() {
        for kind in [
            "corpus",
            "glue",
            "augment",
            "finetune",
            "task-distill",
            "report",
        ] {
            let id = of_kind(kind);
            assert_eq!(id.len(), 16, "{kind}: {id}");
        }
        assert_eq!(of_kind("nonsense"), "unknown");
    }

    #[test]
    fn a_kinds_code_id_changes_with_the_code_it_runs_and_only_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "Cargo.lock", "lock");
        // a depends on b; c is only a's dev-dependency.
        let deps = "\n[dependencies]\ntinybert-b.workspace = true\n\n[dev-dependencies]\ntinybert-c.workspace = true\n";
        for (c, extra) in [("a", deps), ("b", ""), ("c", "")] {
            let manifest = format!("[package]\nname = \"tinybert-{c}\"\n{extra}");
            write(root, &format!("crates/{c}/Cargo.toml"), &manifest);
            write(
                root,
                &format!("crates/{c}/src/lib.rs"),
                &format!("pub fn {c}() {{}}"),
            );
        }
        write(root, "src/jobs/mod.rs", "pub trait Job {}");
        write(root, "src/jobs/shared.rs", "use tinybert_c::c;");
        write(
            root,
            "src/jobs/one.rs",
            "use tinybert_a::a;\nconst KIND: &'static str = \"one\";",
        );
        write(
            root,
            "src/jobs/two.rs",
            "use super::shared::x;\nconst KIND: &'static str = \"two\";",
        );
        let before = ids(root);
        assert_eq!(before.len(), 2, "{before:?}");
        // `one` uses crate a, which depends on b: a change in b reaches it, not `two`.
        write(root, "crates/b/src/lib.rs", "pub fn b() { }");
        let after = ids(root);
        assert_ne!(before[0], after[0]);
        assert_eq!(before[1], after[1]);
        // `two` reaches crate c through `super::shared`; a's dev-dependency on c does not count.
        write(root, "crates/c/src/lib.rs", "pub fn c() { }");
        let last = ids(root);
        assert_eq!(after[0], last[0]);
        assert_ne!(after[1], last[1]);
        // The shared job module and the lock file reach every kind.
        write(root, "Cargo.lock", "lock 2");
        let locked = ids(root);
        assert!(locked[0] != last[0] && locked[1] != last[1]);
    }
}
