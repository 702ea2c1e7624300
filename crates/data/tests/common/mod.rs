//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use tokenizers::Tokenizer;

/// The real MiniLM tokenizer folder, or `None` with a printed skip message (a failure under
/// `TINYBERT_REQUIRE_SHARED=1`).
pub fn minilm() -> Option<PathBuf> {
    tinybert_testkit::shared("models/all-MiniLM-L6-v2/vocab.txt")
        .and_then(|p| p.parent().map(Path::to_path_buf))
}

/// The committed GLUE-format fixtures.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/glue")
}

/// A tiny uncased WordPiece vocabulary: the specials, every letter `a`-`z` as a word start and
/// as a `##` continuation, and `.`/`,`/`?`/`!`. Every lower-case word tokenises into pieces.
pub fn tiny_tokenizer(dir: &Path) -> (Tokenizer, String) {
    let mut words: Vec<String> = [
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "?", "!",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for c in 'a'..='z' {
        words.push(c.to_string());
        words.push(format!("##{c}"));
    }
    std::fs::write(dir.join("vocab.txt"), words.join("\n")).unwrap();
    let tok = tinybert_model::load_tokenizer(dir).unwrap();
    let hash = tinybert_model::tokenizer_hash(&tok).unwrap();
    (tok, hash)
}
