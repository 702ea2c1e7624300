//! The real GLUE files in `../shared/data/glue`: official row counts and labels, and the whole
//! build (tokenise + Parquet) on a few of them. Skips with a message when `../shared` is absent.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use tinybert_data::glue::glue_file_path;
use tinybert_data::{
    build_glue, read_glue_file, GlueBuildOptions, GlueDataset, Label, ReadOptions, Task,
};

fn glue_dir() -> Option<PathBuf> {
    tinybert_testkit::shared("data/glue")
}

fn label_counts(
    task: Task,
    split: &str,
    dir: &std::path::Path,
) -> (usize, BTreeMap<String, usize>) {
    let path = glue_file_path(dir, task, split).unwrap();
    let f = read_glue_file(task, split, &path, ReadOptions::default()).unwrap();
    let mut counts = BTreeMap::new();
    for e in &f.examples {
        let key = match e.label {
            Label::Class(c) => task.labels()[c as usize].to_string(),
            Label::Score(_) => "score".into(),
            Label::None => "none".into(),
        };
        *counts.entry(key).or_insert(0) += 1;
    }
    (f.examples.len(), counts)
}

#[test]
fn real_files_have_the_official_row_counts() {
    let Some(dir) = glue_dir() else {
        return;
    };
    let expected = [
        (Task::SST2, "train", 67_349),
        (Task::SST2, "dev", 872),
        (Task::SST2, "test", 1_821),
        (Task::MRPC, "train", 3_668),
        (Task::MRPC, "dev", 408),
        (Task::MRPC, "test", 1_725),
        (Task::RTE, "train", 2_490),
        (Task::RTE, "dev", 277),
        (Task::RTE, "test", 3_000),
        (Task::WNLI, "train", 635),
        (Task::WNLI, "dev", 71),
        (Task::WNLI, "test", 146),
        (Task::QNLI, "dev", 5_463),
        (Task::QNLI, "test", 5_463),
    ];
    for (task, split, rows) in expected {
        let (n, counts) = label_counts(task, split, &dir);
        assert_eq!(n, rows, "{task} {split}");
        if split == "test" {
            assert_eq!(
                counts.keys().collect::<Vec<_>>(),
                ["none"],
                "{task} {split}"
            );
        } else {
            let names: Vec<&str> = counts.keys().map(String::as_str).collect();
            assert_eq!(
                names,
                task.labels(),
                "{task} {split}: every label occurs, no other"
            );
        }
    }
}

#[test]
fn real_label_distributions_match_the_official_files() {
    let Some(dir) = glue_dir() else {
        return;
    };
    // Counts of the official files (label 1 / entailment first).
    let (_, sst2) = label_counts(Task::SST2, "dev", &dir);
    assert_eq!((sst2["1"], sst2["0"]), (444, 428));
    let (_, mrpc) = label_counts(Task::MRPC, "train", &dir);
    assert_eq!((mrpc["1"], mrpc["0"]), (2_474, 1_194));
    let (_, rte) = label_counts(Task::RTE, "dev", &dir);
    assert_eq!((rte["entailment"], rte["not_entailment"]), (146, 131));
}

#[test]
fn real_mrpc_with_bom_builds_a_dataset() {
    let Some(dir) = glue_dir() else {
        return;
    };
    let Some(model) = common::minilm() else {
        return;
    };
    let tok = tinybert_model::load_tokenizer(&model).unwrap();
    let hash = tinybert_model::tokenizer_hash(&tok).unwrap();
    let out = tempfile::tempdir().unwrap();
    let opts = GlueBuildOptions {
        task: Task::MRPC,
        data_dir: dir,
        split: "dev".into(),
        max_seq_len: None,
        output: out.path().to_path_buf(),
        skip_bad_rows: false,
        shard_size: 100,
    };
    let s = build_glue(&opts, &tok, &hash).unwrap();
    assert_eq!((s.rows, s.shards.len()), (408, 5));
    let ds = GlueDataset::open(out.path()).unwrap();
    assert_eq!(ds.len(), 408);
    assert_eq!(
        ds.examples[0].input_ids[0], 101,
        "[CLS] of bert-base-uncased"
    );
    assert!(ds.examples.iter().all(|e| e.len() <= 128));
}
