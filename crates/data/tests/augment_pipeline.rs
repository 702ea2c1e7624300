//! The whole augmentation run (SPEC §5 steps 4-6): variants, pairs field by field, outputs in
//! the task's format and as a dataset, determinism and resuming.

mod augment_support;

use augment_support as fx;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tinybert_data::{
    augment_glue, read_glue_file, AugmentOptions, AugmentOutcome, AugmentSummary, GlueDataset,
    Label, NoProgress, ReadOptions, Task,
};

fn run(opts: &AugmentOptions, tok_dir: &Path) -> AugmentSummary {
    let (tok, hash) = fx::tokenizer(tok_dir);
    let teacher = fx::teacher(3);
    match augment_glue(opts, &teacher, &tok, &hash, &NoProgress).unwrap() {
        AugmentOutcome::Done(s) => *s,
        AugmentOutcome::Stopped { .. } => panic!("stopped without a stop flag"),
    }
}

fn tsv(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("train_aug.tsv")).unwrap()
}

#[test]
fn the_same_seed_gives_the_same_output_and_another_seed_another() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let glue = fx::glue_dir(d, Task::SST2, fx::SST2);
    let glove = fx::write_glove(d);
    let a = fx::options(Task::SST2, &glue, &glove, &d.join("a"));
    let mut b = fx::options(Task::SST2, &glue, &glove, &d.join("b"));
    b.chunk_size = 4; // chunking and batching do not change the result
    b.batch_size = 64;
    let mut c = fx::options(Task::SST2, &glue, &glove, &d.join("c"));
    c.seed = 7;
    let sa = run(&a, d);
    run(&b, d);
    run(&c, d);
    assert_eq!(tsv(&d.join("a")), tsv(&d.join("b")));
    assert_ne!(tsv(&d.join("a")), tsv(&d.join("c")));
    assert!(sa.output_rows > 2 * sa.examples, "{sa:?}");
    assert!(sa.mlm_forwards > 0 && sa.glove_lookups > 0, "{sa:?}");
}

#[test]
fn originals_come_first_variants_replace_candidate_words_and_repeat_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let glue = fx::glue_dir(d, Task::SST2, fx::SST2);
    let glove = fx::write_glove(d);
    let opts = fx::options(Task::SST2, &glue, &glove, &d.join("out"));
    let s = run(&opts, d);
    let ds = GlueDataset::open(&d.join("out")).unwrap();
    let text = tsv(&d.join("out"));
    let lines: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(lines.len(), s.output_rows);
    assert_eq!(ds.len(), s.output_rows);
    let originals: Vec<&str> = fx::SST2.lines().skip(1).collect();
    let mut seen = std::collections::HashSet::new();
    for (i, (line, ex)) in lines.iter().zip(&ds.examples).enumerate() {
        let src = ex.source_index.unwrap() as usize;
        let orig = originals[src];
        let first_of_source = i == 0 || ds.examples[i - 1].source_index != ex.source_index;
        if first_of_source {
            assert_eq!(*line, orig, "the original comes first");
        }
        assert!(seen.insert(*line), "repeated row {line}");
        let (sentence, label) = line.split_once('\t').unwrap();
        assert_eq!(label, orig.split_once('\t').unwrap().1, "label copied");
        // Only candidate words change: stop words and punctuation stay where they were.
        let (new, old): (Vec<&str>, Vec<&str>) = (
            sentence.split(' ').collect(),
            orig.split('\t').next().unwrap().split(' ').collect(),
        );
        assert_eq!(new.len(), old.len(), "{line}");
        for (n, o) in new.iter().zip(&old) {
            if !tinybert_data::augment::is_candidate(o) {
                assert_eq!(n, o, "{line}");
            }
        }
    }
    // `dull`, the only word of the last example, was replaced in some variant.
    let last = ds
        .examples
        .iter()
        .filter(|e| e.source_index == Some(5))
        .count();
    assert!(last > 1, "{last}");
}

#[test]
fn pairs_are_augmented_field_by_field_with_the_other_field_original() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let glue = fx::glue_dir(d, Task::MRPC, fx::MRPC);
    let glove = fx::write_glove(d);
    let opts = fx::options(Task::MRPC, &glue, &glove, &d.join("out"));
    let s = run(&opts, d);
    let text = tsv(&d.join("out"));
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String",
        "header copied (without the byte-order mark)"
    );
    let originals: Vec<Vec<&str>> = fx::MRPC
        .lines()
        .skip(1)
        .map(|l| l.split('\t').collect())
        .collect();
    let ds = GlueDataset::open(&d.join("out")).unwrap();
    let (mut a_changed, mut b_changed) = (0, 0);
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), s.output_rows);
    for (row, ex) in rows.iter().zip(&ds.examples) {
        let orig = &originals[ex.source_index.unwrap() as usize];
        assert_eq!(row[..3], orig[..3], "label and ids copied");
        match (row[3] != orig[3], row[4] != orig[4]) {
            (true, false) => a_changed += 1,
            (false, true) => b_changed += 1,
            (false, false) => {}
            (true, true) => panic!("both fields changed: {row:?}"),
        }
    }
    assert!(a_changed > 0 && b_changed > 0, "{a_changed} {b_changed}");
    // Each example: 1 original + its first-field variants + its second-field variants.
    assert_eq!(rows.len(), originals.len() + a_changed + b_changed);
}

#[test]
fn an_interrupted_run_resumes_to_the_same_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let glue = fx::glue_dir(d, Task::SST2, fx::SST2);
    let glove = fx::write_glove(d);
    let whole = fx::options(Task::SST2, &glue, &glove, &d.join("whole"));
    run(&whole, d);

    let out = d.join("resumed");
    let mut first = fx::options(Task::SST2, &glue, &glove, &out);
    first.stop = Some(Arc::new(AtomicBool::new(true))); // as if Ctrl-C came during chunk 0
    let (tok, hash) = fx::tokenizer(d);
    let teacher = fx::teacher(3);
    match augment_glue(&first, &teacher, &tok, &hash, &NoProgress).unwrap() {
        AugmentOutcome::Stopped {
            chunks_done,
            chunks,
        } => assert_eq!((chunks_done, chunks), (1, 3)),
        AugmentOutcome::Done(_) => panic!("the stop flag was ignored"),
    }
    assert!(out.join("partial/chunk-000000.tsv").is_file());
    assert!(!out.join("train_aug.tsv").exists());
    // A crash while writing chunk 1 leaves a temporary file, which is ignored.
    std::fs::write(out.join("partial/chunk-000001.tsv.tmp"), "garbage").unwrap();

    let second = fx::options(Task::SST2, &glue, &glove, &out);
    let s = run(&second, d);
    assert_eq!(s.resumed_chunks, 1);
    assert_eq!(
        s.work.examples, 4,
        "only the two missing chunks were augmented"
    );
    assert_eq!(tsv(&out), tsv(&d.join("whole")));
    let a = GlueDataset::open(&out).unwrap();
    let b = GlueDataset::open(&d.join("whole")).unwrap();
    assert_eq!(a.examples, b.examples);
    assert!(
        !out.join("partial").exists(),
        "partial/ is removed when done"
    );

    // Other settings do not reuse chunks of another run.
    let mut third = fx::options(Task::SST2, &glue, &glove, &out);
    third.stop = Some(Arc::new(AtomicBool::new(true)));
    third.seed = 9;
    let teacher = fx::teacher(3);
    augment_glue(&third, &teacher, &tok, &hash, &NoProgress).unwrap();
    let mut fourth = fx::options(Task::SST2, &glue, &glove, &out);
    fourth.seed = 9;
    let s = run(&fourth, d);
    assert_eq!(s.resumed_chunks, 1);
    let mut fifth = fx::options(Task::SST2, &glue, &glove, &d.join("fresh9"));
    fifth.seed = 9;
    run(&fifth, d);
    assert_eq!(tsv(&out), tsv(&d.join("fresh9")));
}

#[test]
fn train_aug_tsv_reads_back_with_the_glue_reader_and_matches_the_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let glue = fx::glue_dir(d, Task::MRPC, fx::MRPC);
    let glove = fx::write_glove(d);
    let opts = fx::options(Task::MRPC, &glue, &glove, &d.join("out"));
    let s = run(&opts, d);
    let file = read_glue_file(
        Task::MRPC,
        "train",
        &d.join("out/train_aug.tsv"),
        ReadOptions::default(),
    )
    .unwrap();
    assert_eq!(file.examples.len(), s.output_rows);
    let ds = GlueDataset::open(&d.join("out")).unwrap();
    assert_eq!(ds.meta.task, Some(Task::MRPC));
    assert_eq!(ds.meta.tokenizer_hash, s.tokenizer_hash);
    let (tok, _) = fx::tokenizer(d);
    for (raw, ex) in file.examples.iter().zip(&ds.examples) {
        assert_eq!(
            raw.guid, ex.guid,
            "the dataset is what `data glue` makes of the file"
        );
        assert_eq!(raw.label, ex.label);
        assert!(matches!(ex.label, Label::Class(0 | 1)));
        let enc = tok
            .encode((raw.text_a.as_str(), raw.text_b.as_deref().unwrap()), true)
            .unwrap();
        assert_eq!(enc.get_ids(), ex.input_ids.as_slice());
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("out/summary.json")).unwrap())
            .unwrap();
    for key in [
        "examples",
        "output_rows",
        "mlm_forwards",
        "glove_lookups",
        "seconds",
        "examples_per_s",
    ] {
        assert!(summary.get(key).is_some(), "summary.json lacks {key}");
    }
}

#[test]
fn a_teacher_without_an_mlm_head_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let glue = fx::glue_dir(d, Task::SST2, fx::SST2);
    let glove = fx::write_glove(d);
    let (tok, hash) = fx::tokenizer(d);
    let mut teacher = fx::teacher(3);
    teacher.mlm_head = None;
    let opts = fx::options(Task::SST2, &glue, &glove, &d.join("out"));
    let err = augment_glue(&opts, &teacher, &tok, &hash, &NoProgress)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("masked-LM head"), "{err}");
}

#[test]
fn the_candidate_log_lists_every_candidate_position() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let glue = fx::glue_dir(d, Task::SST2, fx::SST2);
    let glove_path = fx::write_glove(d);
    let mut opts = fx::options(Task::SST2, &glue, &glove_path, &d.join("out"));
    opts.log_candidates = Some(d.join("candidates.jsonl"));
    let s = run(&opts, d);
    let glove = tinybert_data::augment::GloveIndex::load(&glove_path, 100).unwrap();
    let text = std::fs::read_to_string(d.join("candidates.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len() as u64, s.work.candidate_positions);
    let mut sources = std::collections::BTreeSet::new();
    let (mut mlm_candidates, mut new_words) = (0, 0);
    for r in &records {
        let word = r["word"].as_str().unwrap();
        assert!(tinybert_data::augment::is_candidate(word), "{word}");
        let cands: Vec<String> = r["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect();
        let source = r["source"].as_str().unwrap();
        sources.insert(source.to_string());
        match source {
            "glove" => assert_eq!(Some(cands), glove.neighbours(word, opts.k), "{word}"),
            "mlm" => {
                assert!(cands.len() <= opts.k);
                assert!(cands
                    .iter()
                    .all(|c| !c.starts_with("##") && !c.starts_with('[')));
                mlm_candidates += cands.len() as u64;
                new_words += cands
                    .iter()
                    .filter(|c| c.chars().all(char::is_alphabetic) && **c != word.to_lowercase())
                    .count() as u64;
            }
            other => panic!("unexpected source {other}"),
        }
    }
    assert_eq!(
        sources.len(),
        2,
        "both MLM and GloVe words occur: {sources:?}"
    );
    // The summary's measure of the MLM candidates: new whole words among them.
    assert_eq!(
        (s.work.mlm_candidates, s.work.mlm_new_words),
        (mlm_candidates, new_words)
    );
    assert!(mlm_candidates > 0);
}
