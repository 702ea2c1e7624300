//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use tokenizers::Tokenizer;

/// `../shared` beside the workspace, if present.
pub fn shared_dir() -> Option<PathBuf> {
    let p = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared"));
    p.is_dir().then(|| p.to_path_buf())
}

/// The real MiniLM tokenizer folder, or `None` with a printed skip message.
pub fn minilm(test: &str) -> Option<PathBuf> {
    match shared_dir().map(|s| s.join("models/all-MiniLM-L6-v2")) {
        Some(p) if p.join("vocab.txt").is_file() => Some(p),
        _ => {
            println!("SKIPPED {test}: ../shared/models/all-MiniLM-L6-v2 is absent");
            None
        }
    }
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
