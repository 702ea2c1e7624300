//! The real Wikipedia sample: cached chunk tokenisation equals whole-line tokenisation on every
//! line, and a corpus build works end to end. Skips with a message when `../shared` is absent.

mod common;

use tinybert_data::corpus::word_cache::CachedTokenizer;
use tinybert_data::{build_corpus, CorpusOptions, InstanceShards, NoProgress};

fn sample() -> Option<std::path::PathBuf> {
    tinybert_testkit::shared("data/corpus/enwiki_sample_10MB.txt")
}

#[test]
fn cached_tokenisation_equals_whole_lines_on_real_text() {
    let Some(path) = sample() else {
        return;
    };
    let Some(model) = common::minilm() else {
        return;
    };
    let tok = tinybert_model::load_tokenizer(&model).unwrap();
    let cached = CachedTokenizer::new(&tok).unwrap();
    assert!(cached.is_cached());
    let text = std::fs::read_to_string(path).unwrap();
    let mut tokens = 0;
    for line in text.lines() {
        let whole = tok.encode_fast(line, false).unwrap().get_ids().to_vec();
        let mut ids = Vec::new();
        cached.tokenize_into(line, &mut ids).unwrap();
        assert_eq!(ids, whole, "{line}");
        tokens += ids.len();
    }
    assert_eq!(tokens, 2_156_252, "every token of the sample");
}

#[test]
fn real_corpus_builds_deterministic_instances() {
    let Some(path) = sample() else {
        return;
    };
    let Some(model) = common::minilm() else {
        return;
    };
    let tok = tinybert_model::load_tokenizer(&model).unwrap();
    let hash = tinybert_model::tokenizer_hash(&tok).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str| {
        let mut opts = CorpusOptions::new(vec![path.clone()], dir.path().join(name));
        opts.shard_size = 10_000;
        let s = build_corpus(&opts, &tok, &hash, &NoProgress).unwrap();
        (s, InstanceShards::open(&dir.path().join(name)).unwrap())
    };
    let (s, shards) = run("a");
    assert_eq!(s.documents, 634);
    assert_eq!(shards.num_rows().unwrap() as u64, s.instances);
    assert_eq!(shards.files.len(), s.instances.div_ceil(10_000) as usize);
    let first = shards.read(0).unwrap();
    assert!(first
        .iter()
        .all(|i| i.input_ids.len() <= 128 && i.input_ids[0] == 101));
    let (_, again) = run("b");
    assert_eq!(again.read(0).unwrap(), first);
}
