//! The tokenizer of a model folder, via the `tokenizers` crate (never a hand-written WordPiece).
//!
//! `tokenizer.json` is used when present, with any fixed padding/truncation it carries turned
//! off (callers pad and truncate themselves); otherwise `vocab.txt` becomes a BERT WordPiece
//! tokenizer with BERT normalisation (lower-cased unless `tokenizer_config.json` says
//! `do_lower_case: false`).

use crate::error::{Error, Result};
use std::path::Path;
use tokenizers::decoders::wordpiece::WordPiece as WordPieceDecoder;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::bert::BertProcessing;
use tokenizers::Tokenizer;

/// Loads the tokenizer of the model folder `dir`.
pub fn load_tokenizer(dir: &Path) -> Result<Tokenizer> {
    let json = dir.join("tokenizer.json");
    let err = |path: &Path, msg: String| Error::Tokenizer {
        path: path.to_path_buf(),
        msg,
    };
    if json.exists() {
        let mut tok = Tokenizer::from_file(&json).map_err(|e| err(&json, e.to_string()))?;
        tok.with_padding(None);
        tok.with_truncation(None)
            .map_err(|e| err(&json, e.to_string()))?;
        return Ok(tok);
    }
    let vocab = dir.join("vocab.txt");
    if !vocab.exists() {
        return Err(err(
            dir,
            "neither tokenizer.json nor vocab.txt is present".into(),
        ));
    }
    let lowercase = read_do_lower_case(dir).unwrap_or(true);
    let vocab_str = vocab.to_string_lossy().to_string();
    let wordpiece = WordPiece::from_file(&vocab_str)
        .unk_token("[UNK]".into())
        .build()
        .map_err(|e| err(&vocab, e.to_string()))?;
    let id = |t: &str| {
        wordpiece_id(&wordpiece, t).ok_or_else(|| err(&vocab, format!("vocabulary has no `{t}`")))
    };
    let sep = id("[SEP]")?;
    let cls = id("[CLS]")?;
    let mut tok = Tokenizer::new(wordpiece);
    tok.with_normalizer(Some(BertNormalizer::new(true, true, None, lowercase)))
        .map_err(|e| err(&vocab, e.to_string()))?;
    tok.with_pre_tokenizer(Some(BertPreTokenizer));
    tok.with_post_processor(Some(BertProcessing::new(
        ("[SEP]".into(), sep),
        ("[CLS]".into(), cls),
    )));
    tok.with_decoder(Some(WordPieceDecoder::default()));
    Ok(tok)
}

fn wordpiece_id(wp: &WordPiece, token: &str) -> Option<u32> {
    use tokenizers::Model;
    wp.token_to_id(token)
}

fn read_do_lower_case(dir: &Path) -> Option<bool> {
    let text = std::fs::read_to_string(dir.join("tokenizer_config.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("do_lower_case")?.as_bool()
}

/// The BLAKE3 hash (hex) of the tokenizer's JSON serialisation; recorded in datasets so that a
/// dataset made with another tokenizer is detected.
pub fn tokenizer_hash(tok: &Tokenizer) -> Result<String> {
    let json = tok
        .to_string(false)
        .map_err(|e| Error::Invalid(format!("cannot serialise tokenizer: {e}")))?;
    Ok(blake3::hash(json.as_bytes()).to_hex().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_vocab(dir: &Path) {
        let words = [
            "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "##s",
            ".", "un", "##believ", "##able",
        ];
        std::fs::write(dir.join("vocab.txt"), words.join("\n")).unwrap();
    }

    #[test]
    fn vocab_txt_gives_lowercased_wordpiece_with_cls_and_sep() {
        let dir = tempfile::tempdir().unwrap();
        write_vocab(dir.path());
        let tok = load_tokenizer(dir.path()).unwrap();
        let enc = tok.encode(("The cats sat.", "Unbelievable"), true).unwrap();
        assert_eq!(
            enc.get_tokens(),
            [
                "[CLS]", "the", "cat", "##s", "sat", ".", "[SEP]", "un", "##believ", "##able",
                "[SEP]"
            ]
        );
        assert_eq!(enc.get_type_ids(), [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1]);
    }

    #[test]
    fn a_folder_without_vocab_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = load_tokenizer(dir.path()).unwrap_err().to_string();
        assert!(err.contains("vocab.txt"), "{err}");
    }
}
