//! `build_corpus` on a small synthetic text: determinism, document separation, counts.

mod common;

use std::path::Path;
use tinybert_data::{
    build_corpus, CorpusOptions, CorpusSummary, DatasetKind, Instance, InstanceShards, NoProgress,
    SentenceSplit,
};

const DOCS: usize = 6;
const LETTERS_PER_DOC: usize = 4;
/// Id of the first letter in the tiny vocabulary (after 5 specials and 4 punctuation marks);
/// letter `i` is `FIRST_LETTER + 2 i` as a word start and `+ 1` as a `##` piece.
const FIRST_LETTER: u32 = 9;

/// Documents whose words use only their own letters (document `d`: letters `4d..4d+4`), a
/// paragraph of several sentences per line, blank lines between documents.
fn write_corpus(path: &Path) -> usize {
    let mut state: u64 = 12345;
    let mut next = |n: u64| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) % n
    };
    let mut text = String::new();
    let mut sentences = 0;
    for d in 0..DOCS {
        let letters: Vec<char> = (0..LETTERS_PER_DOC)
            .map(|i| (b'a' + (d * LETTERS_PER_DOC + i) as u8) as char)
            .collect();
        for _line in 0..(3 + next(4)) {
            let mut para = Vec::new();
            for _ in 0..(1 + next(4)) {
                // Words of 3 to 7 letters: a one-letter word before `.` reads as an initial.
                let words: Vec<String> = (0..(4 + next(10)))
                    .map(|_| {
                        (0..(3 + next(5)))
                            .map(|_| letters[next(4) as usize])
                            .collect()
                    })
                    .collect();
                let mut s = words.join(" ");
                s[..1].make_ascii_uppercase();
                para.push(s + ".");
                sentences += 1;
            }
            text += &para.join(" ");
            text += "\n";
        }
        text += "\n";
    }
    std::fs::write(path, text).unwrap();
    sentences
}

fn run(
    input: &Path,
    out: &Path,
    seed: u64,
    threads: usize,
    block_bytes: u64,
) -> (CorpusSummary, Vec<Instance>) {
    let tokdir = tempfile::tempdir().unwrap();
    let (tok, hash) = common::tiny_tokenizer(tokdir.path());
    let mut opts = CorpusOptions::new(vec![input.to_path_buf()], out.to_path_buf());
    opts.seed = seed;
    opts.shard_size = 7;
    opts.block_bytes = block_bytes;
    opts.instances.max_seq_len = 32;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let summary = pool
        .install(|| build_corpus(&opts, &tok, &hash, &NoProgress))
        .unwrap();
    let shards = InstanceShards::open(out).unwrap();
    assert_eq!(shards.meta.kind, DatasetKind::Pretraining);
    assert_eq!(shards.meta.tokenizer_hash, hash);
    (summary, shards.read_all().unwrap())
}

fn document_of(id: u32) -> Option<usize> {
    (id >= FIRST_LETTER).then(|| ((id - FIRST_LETTER) / 2) as usize / LETTERS_PER_DOC)
}

#[test]
fn output_is_deterministic_for_a_seed_whatever_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("corpus.txt");
    write_corpus(&input);
    let (s1, a) = run(&input, &dir.path().join("a"), 7, 1, 400);
    let (s2, b) = run(&input, &dir.path().join("b"), 7, 2, 400);
    assert_eq!(a, b);
    assert_eq!((s1.instances, s1.tokens), (s2.instances, s2.tokens));
    let (_, c) = run(&input, &dir.path().join("c"), 8, 2, 400);
    assert_ne!(a, c, "another seed gives other instances");
}

#[test]
fn documents_are_never_mixed_except_by_the_random_next_draw() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("corpus.txt");
    write_corpus(&input);
    let (s, instances) = run(&input, &dir.path().join("out"), 1, 2, 1 << 20);
    let mut random = 0;
    for inst in &instances {
        let ids = &inst.input_ids;
        assert!(ids.len() <= 32);
        assert_eq!(ids[0], 2);
        let sep = ids.iter().position(|&t| t == 3).unwrap();
        let docs_of = |part: &[u32]| {
            let mut d: Vec<usize> = part.iter().filter_map(|&t| document_of(t)).collect();
            d.dedup();
            d
        };
        let a = docs_of(&ids[1..sep]);
        let b = docs_of(&ids[sep + 1..ids.len() - 1]);
        assert_eq!(a.len(), 1, "A spans documents: {a:?}");
        assert_eq!(b.len(), 1, "B spans documents: {b:?}");
        assert_eq!(inst.is_random_next, a != b);
        random += usize::from(inst.is_random_next);
        let types_b = inst.token_type_ids[sep + 1..].iter().all(|&t| t == 1);
        assert!(types_b && inst.token_type_ids[..=sep].iter().all(|&t| t == 0));
    }
    assert!(random > 0 && random < instances.len());
    assert_eq!(s.random_next_instances as usize, random);
}

#[test]
fn summary_counts_documents_sentences_tokens_and_instances() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("corpus.txt");
    let sentences = write_corpus(&input);
    let out = dir.path().join("out");
    let (s, instances) = run(&input, &out, 3, 2, 300);
    assert_eq!(s.documents as usize, DOCS);
    assert_eq!(
        s.sentences as usize, sentences,
        "paragraph lines are split into sentences"
    );
    assert_eq!(s.instances as usize, instances.len());
    assert_eq!(
        s.shards.iter().map(|sh| sh.rows).sum::<usize>(),
        instances.len()
    );
    assert!(s.shards.iter().all(|sh| sh.rows <= 7));
    assert_eq!(
        s.instance_tokens as usize,
        instances.iter().map(|i| i.input_ids.len()).sum::<usize>()
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(json["documents"], DOCS);
    assert_eq!(json["tokens"], s.tokens);
    assert_eq!(json["split"], "sentences");
}

#[test]
fn without_splitting_each_line_is_one_segment() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("corpus.txt");
    write_corpus(&input);
    let lines = std::fs::read_to_string(&input)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count();
    let tokdir = tempfile::tempdir().unwrap();
    let (tok, hash) = common::tiny_tokenizer(tokdir.path());
    let mut opts = CorpusOptions::new(vec![input], dir.path().join("out"));
    opts.split = SentenceSplit::Lines;
    let s = build_corpus(&opts, &tok, &hash, &NoProgress).unwrap();
    assert_eq!(s.sentences as usize, lines);
}

#[test]
fn an_empty_or_blank_input_is_an_error_naming_the_file_and_leaves_no_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let tokdir = tempfile::tempdir().unwrap();
    let (tok, hash) = common::tiny_tokenizer(tokdir.path());
    for (name, text) in [("empty.txt", ""), ("blank.txt", "\n  \n\t\n\n")] {
        let input = tmp.path().join(name);
        std::fs::write(&input, text).unwrap();
        let out = tmp.path().join(format!("out-{name}"));
        let opts = CorpusOptions::new(vec![input.clone()], out.clone());
        let err = build_corpus(&opts, &tok, &hash, &NoProgress)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&input.display().to_string()) && err.contains("empty or blank"),
            "{err}"
        );
        let left: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
        assert!(left.is_empty(), "{name}: {left:?}");
    }
}
