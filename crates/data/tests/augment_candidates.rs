//! Candidate words and their candidates (SPEC §5 steps 1-3): which positions are replaceable,
//! what the teacher's MLM head offers for a single-piece word, and GloVe neighbours for a
//! multi-piece word.

mod augment_support;

use augment_support as fx;
use candle_core::{Device, Tensor};
use std::sync::Arc;
use tinybert_data::augment::{is_candidate, GloveIndex, MlmPredictor, MlmQuery, WordSplitter};

#[test]
fn stop_words_and_non_alphabetic_words_are_not_candidates() {
    let dir = tempfile::tempdir().unwrap();
    let (tok, _) = fx::tokenizer(dir.path());
    let words = WordSplitter::new(&tok)
        .words("The Movie's plot, in 3D, was NOT naïve -- it WHO-knows!")
        .unwrap();
    assert_eq!(
        words,
        [
            "the", "movie", "'", "s", "plot", ",", "in", "3d", ",", "was", "not", "naive", "-",
            "-", "it", "who", "-", "knows", "!"
        ],
        "BERT basic tokenizer: lower-cased, accents stripped, split on punctuation"
    );
    let candidates: Vec<&str> = words
        .iter()
        .map(String::as_str)
        .filter(|w| is_candidate(w))
        .collect();
    // `who` is not a stop word in the reference list (the wh-words were removed from NLTK's).
    assert_eq!(candidates, ["movie", "plot", "naive", "who", "knows"]);
}

#[test]
fn mlm_candidates_are_the_top_k_without_continuation_pieces_or_special_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let (tok, _) = fx::tokenizer(dir.path());
    let mut teacher = fx::teacher(1);
    // Make the head's ranking known: a large bias dominates the tiny random logits.
    let id = |t: &str| tok.token_to_id(t).unwrap() as usize;
    let mut bias = vec![0f32; fx::VOCAB.len()];
    for (t, b) in [
        ("##s", 100.0),
        ("good", 90.0),
        ("[SEP]", 80.0),
        ("##ing", 70.0),
        ("great", 60.0),
        ("fine", 50.0),
        ("nice", 40.0),
    ] {
        bias[id(t)] = b;
    }
    let head = teacher.mlm_head.as_mut().unwrap();
    head.bias = Tensor::from_vec(bias, fx::VOCAB.len(), &Device::Cpu).unwrap();
    let k = 5;
    let mlm = MlmPredictor::new(&teacher, &tok, k, 4).unwrap();
    let split = WordSplitter::new(&tok);
    let pieces: Vec<u32> = ["the", "movie", "was", "good"]
        .iter()
        .flat_map(|w| split.pieces(w).unwrap())
        .collect();
    let pieces: Arc<[u32]> = pieces.into();
    let queries: Vec<MlmQuery> = (0..4)
        .map(|position| MlmQuery {
            pieces: pieces.clone(),
            position,
        })
        .collect();
    let (found, stats) = mlm.predict(&queries).unwrap();
    // Top 5 = ##s, good, [SEP], ##ing, great: the `##` pieces and [SEP] are dropped, and
    // `fine` (6th) is not promoted into their place.
    for f in &found {
        assert_eq!(f, &["good", "great"]);
    }
    assert_eq!(stats.sequences, 4);
    assert_eq!(stats.batches, 1, "same-length queries share one forward");
}

#[test]
fn batched_mlm_candidates_equal_one_query_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let (tok, _) = fx::tokenizer(dir.path());
    let teacher = fx::teacher(7);
    let split = WordSplitter::new(&tok);
    let mut queries = Vec::new();
    for sentence in ["the movie was good", "a long and boring film", "sad"] {
        let pieces: Vec<u32> = split
            .words(sentence)
            .unwrap()
            .iter()
            .flat_map(|w| split.pieces(w).unwrap())
            .collect();
        let pieces: Arc<[u32]> = pieces.into();
        for position in 0..pieces.len() {
            queries.push(MlmQuery {
                pieces: pieces.clone(),
                position,
            });
        }
    }
    let batched = MlmPredictor::new(&teacher, &tok, 8, 64).unwrap();
    let single = MlmPredictor::new(&teacher, &tok, 8, 1).unwrap();
    let (a, sa) = batched.predict(&queries).unwrap();
    let (b, sb) = single.predict(&queries).unwrap();
    assert_eq!(a, b);
    assert!(a.iter().all(|c| !c.is_empty()));
    assert_eq!(sa.batches, 3, "one forward per distinct length");
    assert_eq!(sb.batches, queries.len() as u64);
}

#[test]
fn glove_neighbours_follow_cosine_order_and_exclude_the_word() {
    let dir = tempfile::tempdir().unwrap();
    let glove = GloveIndex::load(&fx::write_glove(dir.path()), 100).unwrap();
    assert_eq!((glove.len(), glove.dim()), (9, 3));
    // Dot products would rank `astonishing` (norm 64) first; cosine ranks it third.
    assert_eq!(
        glove.neighbours("unbelievable", 3).unwrap(),
        ["incredible", "amazing", "astonishing"]
    );
    let all = glove.neighbours("films", 20).unwrap();
    assert_eq!(all.len(), 8, "every other word, never the word itself");
    assert_eq!(&all[..2], ["movies", "pictures"]);
    assert!(!all.contains(&"films".to_string()));
    assert_eq!(
        glove.neighbours("cinema", 3),
        None,
        "no vector: no candidates"
    );
}

#[test]
fn glove_reads_only_the_first_words() {
    let dir = tempfile::tempdir().unwrap();
    let glove = GloveIndex::load(&fx::write_glove(dir.path()), 4).unwrap();
    assert_eq!(glove.len(), 4);
    assert_eq!(
        glove.neighbours("unbelievable", 15).unwrap(),
        ["incredible", "amazing", "the"],
        "lines after the 4th (`astonishing`, ...) are not read"
    );
}

#[test]
fn a_glove_line_of_another_dimension_is_an_error_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("g.txt");
    std::fs::write(&p, "a 1 2 3\nb 1 2\n").unwrap();
    let err = GloveIndex::load(&p, 10).err().unwrap().to_string();
    assert!(
        err.contains("g.txt:2:") && err.contains("2 values"),
        "{err}"
    );
}

#[test]
fn the_last_layer_at_the_masked_rows_equals_the_full_encoder() {
    let teacher = fx::teacher(11);
    let (b, len) = (3, 7);
    let ids: Vec<u32> = (0..b * len).map(|i| (5 + (i * 7) % 40) as u32).collect();
    let types: Vec<u32> = (0..b * len).map(|i| u32::from(i % len >= 4)).collect();
    let ids = Tensor::from_vec(ids, (b, len), &Device::Cpu).unwrap();
    let types = Tensor::from_vec(types, (b, len), &Device::Cpu).unwrap();
    let rows =
        Tensor::from_vec(vec![2u32, len as u32 + 5, 2 * len as u32], b, &Device::Cpu).unwrap();
    let fast = tinybert_data::augment::encoder::hidden_at_rows(&teacher.bert, &ids, &types, &rows)
        .unwrap();
    let mask = Tensor::ones((b, len), candle_core::DType::U32, &Device::Cpu).unwrap();
    let full = teacher.forward_t(&ids, &types, &mask, false).unwrap();
    let h = full.sequence_output.dim(2).unwrap();
    let want = full
        .sequence_output
        .reshape((b * len, h))
        .unwrap()
        .index_select(&rows, 0)
        .unwrap();
    tinybert_testkit::assert_close(
        "hidden rows",
        &fast,
        &want,
        tinybert_testkit::Tol::abs(1e-5),
    );
}
