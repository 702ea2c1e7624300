//! Behaviour of the whole runner on small pipelines of the hidden test kinds.

use super::lock::Lock;
use super::registry::Registry;
use super::runner::{run, status, RunOptions, Status};
use super::spec::Pipeline;
use super::staleness::Reason;
use super::test_kinds;
use super::ui::Ui;
use std::path::PathBuf;

struct Fixture {
    dir: tempfile::TempDir,
    file: PathBuf,
}

impl Fixture {
    /// `p.toml` with `text` in a fresh folder that also holds `data.txt`.
    fn new(text: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("data.txt"), "data\n").unwrap();
        let file = dir.path().join("p.toml");
        std::fs::write(&file, text).unwrap();
        Fixture { dir, file }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn load(&self, overrides: &[&str]) -> anyhow::Result<Pipeline> {
        let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        Pipeline::load(&self.file, &o, &registry())
    }

    fn run_with(&self, overrides: &[&str], opts: RunOptions) -> Vec<(String, Status)> {
        let p = self.load(overrides).unwrap();
        run(&p, &registry(), &opts, &Ui::new(true), "cpu")
            .unwrap()
            .into_iter()
            .map(|o| (o.name, o.status))
            .collect()
    }

    fn run(&self, overrides: &[&str]) -> Vec<(String, Status)> {
        self.run_with(overrides, RunOptions::default())
    }

    fn locked(&self) -> Vec<String> {
        Lock::load(&Lock::path_for(&self.file))
            .unwrap()
            .stages
            .into_keys()
            .collect()
    }

    fn error(&self, overrides: &[&str]) -> String {
        match self.load(overrides) {
            Ok(_) => panic!("{} loaded without error", self.file.display()),
            Err(e) => format!("{e:#}"),
        }
    }
}

fn registry() -> Registry {
    let mut r = Registry::default();
    test_kinds::register(&mut r);
    r
}

/// Names of the stages with `status`.
fn with(outcomes: &[(String, Status)], status: &Status) -> Vec<String> {
    outcomes
        .iter()
        .filter(|(_, s)| s == status)
        .map(|(n, _)| n.clone())
        .collect()
}

/// `base -> left -> report <- right <- data.txt`; `base` and `right` read `data.txt`.
const DIAMOND: &str = r#"
[params]
base = "b"
left = "l"
note = "n"
[stages.base]
kind = "__test-write"
text = "${params.base}"
note = "${params.note}"
deps = ["data.txt"]
outs = ["out/base.txt"]
[stages.left]
kind = "__test-write"
text = "${params.left}"
deps = ["${stages.base.out}"]
outs = ["out/left.txt"]
[stages.right]
kind = "__test-write"
text = "r"
deps = ["data.txt"]
outs = ["out/right.txt"]
[stages.report]
kind = "__test-write"
text = "report"
deps = ["${stages.left.out}", "${stages.right.out}"]
outs = ["out/report.txt"]
"#;

#[test]
fn second_run_reports_every_stage_up_to_date() {
    let f = Fixture::new(DIAMOND);
    let first = f.run(&[]);
    assert_eq!(
        with(&first, &Status::Ran),
        ["base", "left", "right", "report"]
    );
    let report = std::fs::read_to_string(f.path("out/report.txt")).unwrap();
    assert_eq!(report, "report\nl\nb\ndata\nr\ndata\n");
    let second = f.run(&[]);
    assert_eq!(with(&second, &Status::UpToDate).len(), 4, "{second:?}");
    let p = f.load(&[]).unwrap();
    assert!(status(&p, &registry(), false)
        .unwrap()
        .iter()
        .all(|(_, r)| r.is_none()));
    assert_eq!(f.locked(), ["base", "left", "report", "right"]);
}

#[test]
fn a_stage_computed_by_other_code_is_stale_unless_code_changes_are_ignored() {
    let f = Fixture::new(DIAMOND);
    f.run(&[]);
    // As if `left` had been computed by another build of its kind.
    let lock_path = Lock::path_for(&f.file);
    let mut lock = Lock::load(&lock_path).unwrap();
    lock.stages.get_mut("left").unwrap().code = "0000000000000000".into();
    lock.save(&lock_path).unwrap();
    let p = f.load(&[]).unwrap();
    let rows = status(&p, &registry(), false).unwrap();
    let reason = |name: &str| rows.iter().find(|(n, _)| n == name).unwrap().1.clone();
    let left = reason("left").expect("left is stale").to_string();
    assert!(
        left.starts_with("code changed (code id 0000000000000000 -> test"),
        "{left}"
    );
    assert!(matches!(reason("report"), Some(Reason::Upstream(_))));
    assert_eq!(reason("base"), None);
    let kept = status(&p, &registry(), true).unwrap();
    assert!(kept.iter().all(|(_, r)| r.is_none()), "{kept:?}");
    let opts = RunOptions {
        ignore_code_changes: true,
        ..RunOptions::default()
    };
    assert_eq!(
        with(&f.run_with(&[], opts), &Status::Ran),
        Vec::<String>::new()
    );
    // `left` recomputes the same output, so `report` (which reads it) stays up to date.
    assert_eq!(with(&f.run(&[]), &Status::Ran), ["left"]);
    let relocked = Lock::load(&lock_path).unwrap();
    assert_eq!(relocked.stages["left"].code, "test");
}

#[test]
fn changing_one_parameter_reruns_exactly_the_affected_stages() {
    let f = Fixture::new(DIAMOND);
    f.run(&[]);
    // `left` changes its output, so `report` reruns; `base` and `right` do not.
    let out = f.run(&["left=L"]);
    assert_eq!(with(&out, &Status::Ran), ["left", "report"]);
    assert_eq!(with(&out, &Status::UpToDate), ["base", "right"]);
    // The dry run and status name the parameter and the upstream stage.
    let p = f.load(&["base=B", "left=L"]).unwrap();
    let rows = status(&p, &registry(), false).unwrap();
    assert!(
        matches!(&rows[0].1, Some(Reason::ParamChanged { key, .. }) if key == "text"),
        "{rows:?}"
    );
    assert_eq!(rows[1].1, Some(Reason::Upstream("base".into())), "{rows:?}");
    assert_eq!(rows[2].1, None, "right is independent of base");
    let dry = RunOptions {
        dry_run: true,
        ..Default::default()
    };
    let plan = f.run_with(&["base=B", "left=L"], dry);
    assert_eq!(with(&plan, &Status::WouldRun), ["base", "left", "report"]);
    let out = f.run(&["base=B", "left=L"]);
    assert_eq!(with(&out, &Status::Ran), ["base", "left", "report"]);
    // A parameter that does not change the output reruns its stage only: the rest is keyed on
    // content.
    let out = f.run(&["base=B", "left=L", "note=other"]);
    assert_eq!(with(&out, &Status::Ran), ["base"]);
    // An input edited by hand reruns its readers.
    std::fs::write(f.path("data.txt"), "new data").unwrap();
    let out = f.run(&["base=B", "left=L", "note=other"]);
    assert_eq!(
        with(&out, &Status::Ran),
        ["base", "left", "right", "report"]
    );
}

#[test]
fn a_changed_or_missing_output_reruns_its_stage_after_removing_the_old_one() {
    let f = Fixture::new(
        r#"
[stages.gen]
kind = "__test-steps"
steps = 2
outs = ["out/gen"]
"#,
    );
    f.run(&[]);
    std::fs::write(f.path("out/gen/stray.txt"), "x").unwrap();
    let p = f.load(&[]).unwrap();
    assert_eq!(
        status(&p, &registry(), false).unwrap()[0].1,
        Some(Reason::OutputChanged("out/gen".into()))
    );
    assert_eq!(with(&f.run(&[]), &Status::Ran), ["gen"]);
    assert!(
        !f.path("out/gen/stray.txt").exists(),
        "old outputs are removed"
    );
    assert_eq!(
        std::fs::read_to_string(f.path("out/gen/result.txt")).unwrap(),
        "resumed_from=0\n",
        "a finished (not interrupted) stage does not resume"
    );
    std::fs::remove_dir_all(f.path("out/gen")).unwrap();
    let p = f.load(&[]).unwrap();
    assert_eq!(
        status(&p, &registry(), false).unwrap()[0].1,
        Some(Reason::OutputMissing("out/gen".into()))
    );
}

#[test]
fn a_failed_stage_is_never_locked_and_its_dependants_do_not_run() {
    let text = r#"
[params]
panic = false
[stages.ok]
kind = "__test-write"
text = "ok"
outs = ["ok.txt"]
[stages.bad]
kind = "__test-fail"
message = "no luck"
panic = "${params.panic}"
deps = ["${stages.ok.out}"]
outs = ["bad.txt"]
[stages.after]
kind = "__test-write"
text = "after"
deps = ["${stages.bad.out}"]
outs = ["after.txt"]
[stages.other]
kind = "__test-write"
text = "other"
outs = ["other.txt"]
"#;
    let f = Fixture::new(text);
    let out = f.run(&[]);
    assert_eq!(out[1], ("bad".into(), Status::Failed("no luck".into())));
    assert_eq!(
        with(&out, &Status::NotRun),
        ["after", "other"],
        "stops at the failure"
    );
    assert_eq!(f.locked(), ["ok"]);

    let keep_going = RunOptions {
        keep_going: true,
        ..Default::default()
    };
    let out = f.run_with(&["panic=true"], keep_going);
    assert!(
        matches!(&out[1].1, Status::Failed(e) if e.contains("panicked: no luck")),
        "{out:?}"
    );
    assert!(
        matches!(&out[2].1, Status::Skipped(w) if w.contains("`bad`")),
        "{out:?}"
    );
    assert_eq!(out[3], ("other".into(), Status::Ran));
    assert_eq!(
        f.locked(),
        ["ok", "other"],
        "the partial bad.txt is not recorded"
    );
}

#[test]
fn named_stages_run_with_their_stale_upstream_unless_single() {
    let f = Fixture::new(DIAMOND);
    let only = |targets: &[&str], single: bool, force: bool| RunOptions {
        targets: targets.iter().map(|s| s.to_string()).collect(),
        single,
        force,
        ..Default::default()
    };
    let out = f.run_with(&[], only(&["left"], true, false));
    assert!(
        matches!(&out[..], [(n, Status::Failed(e))] if n == "left" && e.contains("drop --single")),
        "{out:?}"
    );
    let out = f.run_with(&[], only(&["left"], false, false));
    assert_eq!(with(&out, &Status::Ran), ["base", "left"]);
    let out = f.run_with(&[], only(&["left"], false, true));
    assert_eq!(
        with(&out, &Status::Ran),
        ["left"],
        "--force applies to the named stages"
    );
    let p = f.load(&[]).unwrap();
    let e = run(
        &p,
        &registry(),
        &only(&["nope"], false, false),
        &Ui::new(true),
        "cpu",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("no stage `nope`") && e.contains("p.toml"), "{e}");
}

#[test]
fn foreach_expands_one_stage_per_item_and_groups_can_be_referenced() {
    let f = Fixture::new(
        r#"
[params]
tasks = ["RTE", "MRPC"]
seed = 7
[stages.ft]
kind = "__test-write"
foreach = "${params.tasks}"
text = "${item}-${params.seed}"
deps = ["data.txt"]
outs = ["runs/ft/${item}.txt"]
[stages.distill]
kind = "__test-write"
foreach = "${params.tasks}"
text = "from ${stages.ft@${item}.out}"
outs = ["runs/distill/${item}.txt"]
[stages.report]
kind = "__test-write"
text = "all"
deps = "${stages.distill.outs}"
outs = ["report.txt"]
"#,
    );
    let p = f.load(&[]).unwrap();
    let names: Vec<&str> = p.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["ft@RTE", "ft@MRPC", "distill@RTE", "distill@MRPC", "report"]
    );
    assert_eq!(
        p.stages[2].deps,
        ["runs/ft/RTE.txt"],
        "a referenced output is an input"
    );
    assert_eq!(
        p.stages[4].deps,
        ["runs/distill/RTE.txt", "runs/distill/MRPC.txt"]
    );
    f.run(&[]);
    assert_eq!(
        std::fs::read_to_string(f.path("runs/ft/MRPC.txt")).unwrap(),
        "MRPC-7\ndata\n"
    );
    let out = f.run_with(
        &["tasks=RTE"],
        RunOptions {
            targets: vec!["distill".into()],
            force: true,
            ..Default::default()
        },
    );
    assert_eq!(
        out,
        [
            ("ft@RTE".into(), Status::UpToDate),
            ("distill@RTE".into(), Status::Ran)
        ]
    );
}

#[test]
fn a_run_of_the_file_as_written_drops_lock_entries_of_removed_stages() {
    let text = r#"
[params]
tasks = ["RTE", "MRPC"]
[stages.ft]
kind = "__test-write"
foreach = "${params.tasks}"
text = "${item}"
outs = ["runs/ft/${item}.txt"]
"#;
    let f = Fixture::new(text);
    f.run(&[]);
    assert_eq!(f.locked(), ["ft@MRPC", "ft@RTE"]);
    // With -p the stages may be a subset of the file's: nothing is dropped.
    f.run(&["tasks=RTE"]);
    assert_eq!(f.locked(), ["ft@MRPC", "ft@RTE"]);
    std::fs::write(&f.file, text.replace(r#", "MRPC""#, "")).unwrap();
    f.run(&[]);
    assert_eq!(f.locked(), ["ft@RTE"]);
}

#[test]
fn a_table_foreach_runs_every_combination_and_items_are_read_by_key() {
    let f = Fixture::new(
        r#"
[params]
tasks = ["RTE", "MRPC"]
[stages.ft]
kind = "__test-write"
foreach = "${params.tasks}"
text = "${item}"
outs = ["runs/ft/${item}.txt"]
[stages.seeds]
kind = "__test-write"
foreach = { task = "${params.tasks}", seed = [1, 2] }
text = "${item.task} seed ${item.seed} from ${stages.ft@${item.task}.out}"
outs = ["runs/seeds/${item.task}-${item.seed}.txt"]
"#,
    );
    let p = f.load(&[]).unwrap();
    let names: Vec<&str> = p.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "ft@RTE",
            "ft@MRPC",
            "seeds@1-RTE",
            "seeds@1-MRPC",
            "seeds@2-RTE",
            "seeds@2-MRPC"
        ]
    );
    assert_eq!(p.stages[5].deps, ["runs/ft/MRPC.txt"]);
    f.run(&[]);
    assert_eq!(
        std::fs::read_to_string(f.path("runs/seeds/MRPC-2.txt")).unwrap(),
        "MRPC seed 2 from runs/ft/MRPC.txt\nMRPC\n"
    );

    let bad = |foreach: &str, text: &str| {
        let f = Fixture::new(&format!(
            "[stages.s]\nkind = \"__test-write\"\nforeach = {foreach}\ntext = \"{text}\"\n\
             outs = [\"o/${{item.a}}\"]\n"
        ));
        f.load(&[]).err().map(|e| e.to_string()).unwrap_or_default()
    };
    let e = bad("{ a = [1], b = 2 }", "x");
    assert!(
        e.contains("foreach") && e.contains("`b`: expected a list"),
        "{e}"
    );
    let e = bad("{ a = [1, 2] }", "${item.c}");
    assert!(e.contains("`${item.c}`: the item has a"), "{e}");
    let e = bad("[1, 2]", "x");
    assert!(e.contains("not a table"), "{e}");
}

#[test]
fn parameters_can_reference_parameters_and_overrides_keep_types() {
    let f = Fixture::new(
        r#"
[params]
root = "runs"
dir = "${params.root}/x"
lr = 5e-5
tasks = ["a", "b"]
nested = { epochs = 3 }
[stages.s]
kind = "__test-steps"
steps = "${params.nested.epochs}"
step_ms = 0
outs = ["${params.dir}"]
"#,
    );
    let p = f.load(&["root=out", "nested.epochs=4"]).unwrap();
    assert_eq!(p.stages[0].outs, ["out/x"]);
    assert_eq!(p.stages[0].param::<u64>("steps").unwrap(), 4);
    assert!(
        f.load(&["lr=1"]).is_ok(),
        "an integer for a float parameter is accepted"
    );
    assert!(f.load(&["tasks=a,b,c"]).is_ok());
    let e = f.error(&["nested.epoch=4"]);
    assert!(
        e.contains("p.toml") && e.contains("no parameter `nested.epoch`"),
        "{e}"
    );
    let e = f.error(&["nested.epochs=0"]);
    assert!(e.contains("stage `s`") && e.contains("at least 1"), "{e}");
    let e = f.error(&["nested.epochs=-1"]);
    assert_eq!(e.matches("stage `s`").count(), 1, "{e}");
    assert!(e.contains("p.toml:") && e.contains("steps"), "{e}");
}

/// A pipeline file's error must name the file, the stage and (where there is one) the key.
fn assert_error(text: &str, expected: &[&str]) {
    let f = Fixture::new(text);
    let e = f.error(&[]);
    assert!(
        e.contains(&f.file.display().to_string()),
        "file not named: {e}"
    );
    for x in expected {
        assert!(e.contains(x), "`{x}` missing from: {e}");
    }
    assert_eq!(e.lines().count(), 1, "one line: {e}");
}

#[test]
fn a_cycle_is_an_error_naming_the_stages() {
    assert_error(
        r#"
[stages.a]
kind = "__test-write"
text = "a"
deps = ["b.txt"]
outs = ["a.txt"]
[stages.b]
kind = "__test-write"
text = "b"
deps = ["a.txt"]
outs = ["b.txt"]
"#,
        &["stage `b`", "cycle between stages: b -> a -> b"],
    );
}

#[test]
fn a_duplicate_output_is_an_error_naming_both_stages() {
    assert_error(
        r#"
[stages.a]
kind = "__test-write"
text = "a"
outs = ["out/x.txt"]
[stages.b]
kind = "__test-write"
text = "b"
outs = ["./out/x.txt"]
"#,
        &[
            "p.toml:6: stage `b`",
            "output `out/x.txt` is also an output of stage `a`",
        ],
    );
}

#[test]
fn an_unknown_kind_is_an_error_naming_the_stage_and_known_kinds() {
    assert_error(
        "[stages.train]\nkind = \"trian\"\n",
        &[
            "p.toml:2: stage `train`",
            "unknown kind `trian`",
            "__test-steps",
        ],
    );
}

#[test]
fn an_unknown_key_is_an_error_naming_the_stage_and_key() {
    assert_error(
        "[stages.gen]\nkind = \"__test-steps\"\nsteps = 2\nstpe_ms = 3\n",
        &[
            "p.toml:4: stage `gen`",
            "unknown key `stpe_ms`",
            "step_ms, steps",
        ],
    );
    assert_error(
        "[stages.gen]\nkind = \"__test-steps\"\n",
        &["stage `gen`", "missing parameter `steps`"],
    );
    assert_error(
        "[stage.gen]\nkind = \"x\"\n",
        &["p.toml:1:", "unknown field `stage`"],
    );
}

#[test]
fn an_undefined_parameter_reference_is_an_error_naming_stage_and_key() {
    assert_error(
        "[params]\nx = 1\n[stages.w]\nkind = \"__test-write\"\ntext = \"${params.y}\"\n",
        &["stage `w`", "text", "undefined parameter `${params.y}`"],
    );
    assert_error(
        "[params]\na = \"${params.b}\"\nb = \"${params.a}\"\n",
        &["[params]", "circular reference"],
    );
}

#[test]
fn an_output_outside_the_working_directory_is_an_error() {
    assert_error(
        "[stages.w]\nkind = \"__test-write\"\ntext = \"\"\nouts = [\"../x\"]\n",
        &["stage `w`", "outs", "inside the working directory"],
    );
}

#[test]
fn a_missing_input_is_an_error_before_anything_runs() {
    let f = Fixture::new(
        DIAMOND
            .replace(
                "deps = [\"data.txt\"]\nouts = [\"out/right.txt\"]",
                "deps = [\"nope.txt\"]\nouts = [\"out/right.txt\"]",
            )
            .as_str(),
    );
    let p = f.load(&[]).unwrap();
    let e = run(
        &p,
        &registry(),
        &RunOptions::default(),
        &Ui::new(true),
        "cpu",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("p.toml:")
            && e.contains("stage `right`")
            && e.contains("input `nope.txt` does not exist and no stage produces it"),
        "{e}"
    );
    assert!(!f.path("out").exists(), "nothing ran");
    assert!(!Lock::path_for(&f.file).exists());
}

#[test]
fn paths_are_relative_to_the_workdir_and_the_lock_sits_next_to_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("pipelines")).unwrap();
    std::fs::write(dir.path().join("data.txt"), "data\n").unwrap();
    let file = dir.path().join("pipelines/p.toml");
    std::fs::write(
        &file,
        "workdir = \"..\"\n[stages.w]\nkind = \"__test-write\"\ntext = \"t\"\ndesc = \"writes ${params.x}\"\ndeps = [\"data.txt\"]\nouts = [\"runs/w.txt\"]\n[params]\nx = 3\n",
    )
    .unwrap();
    let p = Pipeline::load(&file, &[], &registry()).unwrap();
    assert_eq!(p.stages[0].desc.as_deref(), Some("writes 3"));
    let out = run(
        &p,
        &registry(),
        &RunOptions::default(),
        &Ui::new(true),
        "cpu",
    )
    .unwrap();
    assert_eq!(out[0].status, Status::Ran);
    assert!(dir.path().join("runs/w.txt").exists());
    assert!(dir.path().join("pipelines/p.lock").exists());
    assert!(dir.path().join("pipelines/.tinybert/p.state.json").exists());
}

#[test]
fn ranks_must_be_a_whole_number_and_only_data_parallel_kinds_take_more_than_one() {
    let table = |ranks: &str| {
        format!("[stages.w]\nkind = \"__test-write\"\ntext = \"t\"\nranks = {ranks}\ndeps = [\"data.txt\"]\nouts = [\"w.txt\"]\n")
    };
    let f = Fixture::new(&table("1"));
    assert_eq!(f.load(&[]).unwrap().stages[0].ranks, 1);
    let err = Fixture::new(&table("2")).error(&[]);
    assert!(
        err.contains("ranks") && err.contains("does not run as several ranks"),
        "{err}"
    );
    let err = Fixture::new(&table("0")).error(&[]);
    assert!(err.contains("`ranks` must be a whole number"), "{err}");
}
