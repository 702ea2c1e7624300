//! GLUE splits written to Parquet and loaded back: schema, metadata, labels, truncation, batches.

mod common;

use tinybert_data::parquet_io::{dataset_files, read_meta};
use tinybert_data::{
    batches, build_glue, BatchLabels, DatasetKind, GlueBuildOptions, GlueDataset, Label, Padding,
    Task, SCHEMA_VERSION,
};

fn build(
    task: Task,
    split: &str,
    max_seq_len: Option<usize>,
    shard_size: usize,
) -> (tempfile::TempDir, tinybert_data::GlueSummary, String) {
    let tokdir = tempfile::tempdir().unwrap();
    let (tok, hash) = common::tiny_tokenizer(tokdir.path());
    let out = tempfile::tempdir().unwrap();
    let opts = GlueBuildOptions {
        task,
        data_dir: common::fixtures(),
        split: split.into(),
        max_seq_len,
        output: out.path().to_path_buf(),
        skip_bad_rows: false,
        shard_size,
    };
    let s = build_glue(&opts, &tok, &hash).unwrap();
    (out, s, hash)
}

#[test]
fn every_shard_records_tokenizer_hash_schema_version_and_labels() {
    let (out, s, hash) = build(Task::MNLI, "train", None, 2);
    assert_eq!(s.rows, 5);
    let files = dataset_files(out.path()).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "part-00000.parquet",
            "part-00001.parquet",
            "part-00002.parquet"
        ]
    );
    for f in &files {
        let meta = read_meta(f).unwrap();
        assert_eq!(meta.kind, DatasetKind::Glue);
        assert_eq!(meta.schema_version, SCHEMA_VERSION);
        assert_eq!(meta.tokenizer_hash, hash);
        assert_eq!(meta.task, Some(Task::MNLI));
        assert_eq!(meta.split.as_deref(), Some("train"));
        assert_eq!(meta.labels, ["contradiction", "entailment", "neutral"]);
        assert_eq!(meta.max_seq_len, 128);
    }
    assert_eq!(s.label_distribution["entailment"], 3);
}

#[test]
fn a_dataset_loads_back_in_file_order_with_labels() {
    let (out, _, hash) = build(Task::QQP, "train", None, 1000);
    let ds = GlueDataset::open(out.path()).unwrap();
    ds.meta.require_tokenizer(&hash).unwrap();
    assert!(ds.meta.require_tokenizer("another").is_err());
    let guids: Vec<&str> = ds.examples.iter().map(|e| e.guid.as_str()).collect();
    assert_eq!(guids, ["133273", "402555", "360472"]);
    let labels: Vec<Label> = ds.examples.iter().map(|e| e.label).collect();
    assert_eq!(labels, [Label::Class(0), Label::Class(1), Label::Class(0)]);
    let e = &ds.examples[1];
    assert_eq!(e.input_ids[0], 2, "[CLS]");
    assert_eq!(e.input_ids.len(), e.token_type_ids.len());
    let sep = e.input_ids.iter().position(|&t| t == 3).unwrap();
    assert!(e.token_type_ids[..=sep].iter().all(|&t| t == 0));
    assert!(e.token_type_ids[sep + 1..].iter().all(|&t| t == 1));
}

#[test]
fn stsb_scores_are_floats_and_test_labels_are_null() {
    let (out, s, _) = build(Task::STSB, "dev", None, 1000);
    let ds = GlueDataset::open(out.path()).unwrap();
    assert_eq!(ds.examples[1].label, Label::Score(0.6));
    assert_eq!(s.scores.as_ref().unwrap().max, 5.0);
    let (out, _, _) = build(Task::STSB, "test", None, 1000);
    let ds = GlueDataset::open(out.path()).unwrap();
    assert!(ds.examples.iter().all(|e| e.label == Label::None));
    assert_eq!(ds.examples[1].guid, "1");
}

#[test]
fn pairs_are_truncated_to_the_maximum_length() {
    let (out, s, _) = build(Task::QQP, "dev", Some(16), 1000);
    assert_eq!(s.truncated, 2);
    let ds = GlueDataset::open(out.path()).unwrap();
    for e in &ds.examples {
        assert_eq!(e.input_ids.len(), 16);
        assert_eq!(
            e.input_ids.iter().filter(|&&t| t == 3).count(),
            2,
            "two [SEP]"
        );
    }
}

#[test]
fn batches_pad_dynamically_and_carry_labels() {
    let (out, _, _) = build(Task::COLA, "train", None, 1000);
    let ds = GlueDataset::open(out.path()).unwrap();
    let order: Vec<usize> = (0..ds.len()).collect();
    let all: Vec<_> = batches(&ds.examples, &order, 2, Padding::Longest, ds.meta.pad_id)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(all.len(), 3);
    let b = &all[0];
    let longest = ds.examples[..2].iter().map(|e| e.len()).max().unwrap();
    assert_eq!(b.seq_len, longest);
    assert_eq!(b.labels, BatchLabels::Classes(vec![1, 1]));
    let mask_sum: u32 = b.attention_mask.iter().sum();
    assert_eq!(
        mask_sum as usize,
        ds.examples[0].len() + ds.examples[1].len()
    );
}
