//! The stage kinds built into the binary: one per [job](crate::jobs) (see the table there), each
//! run in process (no shell), writing one output folder. Paths are relative to the pipeline's
//! working directory, and a path parameter must be one of the stage's inputs (listed in `deps`,
//! or a `${stages.NAME.out}` reference), so the lock file sees every file a stage reads. A
//! model parameter may also be a hub id (`bert-base-uncased`). `tinybert kinds NAME` lists a
//! kind's parameters.

use super::registry::Registry;
use crate::jobs::{augment, bench, corpus, demo, eval, finetune, general, glue, mlm_head};
use crate::jobs::{predict, report, task};

/// Every stage kind `tinybert run` knows.
pub fn registry() -> Registry {
    let mut r = Registry::default();
    r.job::<demo::DemoData>()
        .job::<corpus::Corpus>()
        .job::<glue::Glue>()
        .job::<mlm_head::MlmHead>()
        .job::<general::GeneralDistill>()
        .job::<finetune::Finetune>()
        .job::<augment::Augment>()
        .job::<task::TaskDistill>()
        .job::<eval::Eval>()
        .job::<predict::Predict>()
        .job::<bench::Bench>()
        .job::<report::Report>();
    if tinybert_distill::TEST_HOOKS
        && std::env::var_os(super::test_kinds::ENV).is_some_and(|v| v == "1")
    {
        super::test_kinds::register(&mut r);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_job_is_a_kind_and_trainers_resume() {
        let r = registry();
        let names = r.names();
        for kind in [
            "augment",
            "bench",
            "corpus",
            "demo-data",
            "eval",
            "finetune",
            "general-distill",
            "glue",
            "mlm-head",
            "predict",
            "report",
            "task-distill",
        ] {
            assert!(names.contains(&kind), "{kind} missing from {names:?}");
        }
        for kind in [
            "mlm-head",
            "general-distill",
            "finetune",
            "task-distill",
            "augment",
        ] {
            assert!(r.get(kind).unwrap().spec().resumable, "{kind}");
        }
        assert!(!r.get("eval").unwrap().spec().resumable);
    }

    #[test]
    fn a_kinds_parameters_are_its_jobs_arguments_without_the_runners() {
        let spec = registry().get("finetune").unwrap().spec();
        for key in [
            "model",
            "data",
            "dev",
            "label",
            "epochs",
            "learning_rate",
            "threads",
        ] {
            assert!(spec.allows(key), "{key}: {}", spec.names());
        }
        assert!(!spec.allows("output") && !spec.allows("resume") && !spec.allows("help"));
        assert_eq!(spec.required().collect::<Vec<_>>(), ["model", "data"]);
    }
}
