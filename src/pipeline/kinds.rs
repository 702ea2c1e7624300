//! The stage kinds built into the binary, one module each; every one calls its library
//! function in process (no shell) and writes one output folder.
//!
//! | kind | what it runs | resumable |
//! |---|---|---|
//! | [`demo-data`](demo_data) | the quickstart's synthetic corpus, task, vocabulary and vectors | no |
//! | [`corpus`](corpus) | text -> pre-training instances (`tinybert data corpus`) | no |
//! | [`glue`](glue) | GLUE splits -> tokenised datasets (`tinybert data glue`) | no |
//! | [`mlm-head`](mlm_head) | masked-LM head fitting, or pre-training a fresh model | yes |
//! | [`general-distill`](general_distill) | general distillation (SPEC §4) | yes |
//! | [`finetune`](finetune) | fine-tuning on gold labels (teacher, baselines) | yes |
//! | [`augment`](augment) | data augmentation (SPEC §5) | yes |
//! | [`task-distill`](task_distill) | task-specific distillation, one phase (SPEC §6) | yes |
//! | [`eval`](eval) | a model on a GLUE split, `summary.json` for reports | no |
//! | [`bench`](bench) | inference latency and speed-up | no |
//! | [`report`](report) | the paper's tables with our runs (`tinybert report`) | no |
//!
//! Parameters are typed: each module documents its keys, an unknown key is an error naming
//! file, stage and key, and the trainers' `train` (and `loss`) tables are the library's
//! `TrainConfig` (`LossConfig`) merged key by key over the stage's paper defaults. Paths are
//! relative to the pipeline's working directory, and a path parameter must be one of the
//! stage's inputs (listed in `deps`, or a `${stages.NAME.out}` reference), so the lock file
//! sees every file a stage reads. A model parameter may also be a hub id (`bert-base-uncased`).

use super::registry::Registry;
use super::test_kinds;

pub mod augment;
pub mod bench;
pub mod common;
pub mod corpus;
pub mod demo_data;
pub mod eval;
pub mod finetune;
pub mod general_distill;
pub mod glue;
pub mod mlm_head;
pub mod report;
pub mod task_distill;

/// Set to `1` to register the hidden `__test-*` kinds (integration tests of the runner).
pub const TEST_KINDS_ENV: &str = "TINYBERT_TEST_KINDS";

/// Every stage kind `tinybert run` knows.
pub fn registry() -> Registry {
    let mut r = Registry::default();
    r.add(demo_data::DemoData)
        .add(corpus::Corpus)
        .add(glue::Glue)
        .add(mlm_head::MlmHead)
        .add(general_distill::GeneralDistill)
        .add(finetune::Finetune)
        .add(augment::Augment)
        .add(task_distill::TaskDistill)
        .add(eval::Eval)
        .add(bench::Bench)
        .add(report::Report);
    if std::env::var_os(TEST_KINDS_ENV).is_some_and(|v| v == "1") {
        test_kinds::register(&mut r);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_the_issue_is_registered_and_trainers_resume() {
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
}
