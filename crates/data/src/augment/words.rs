//! Text fields into words and words into WordPieces, with the teacher tokenizer's own parts.
//!
//! Words are what the tokenizer's normaliser and pre-tokenizer make of a field: for a BERT
//! tokenizer (`BertNormalizer` + `BertPreTokenizer`) exactly BERT's basic tokenizer (control
//! characters dropped, CJK characters spaced, lower-cased with accents stripped for uncased
//! vocabularies, split on whitespace and punctuation). Each word is then split into pieces by
//! the tokenizer's model (WordPiece). Nothing is hand-written: both steps are the `tokenizers`
//! crate's. Added tokens (`[MASK]` written literally in a sentence) are not kept whole, unlike
//! the reference's `never_split`; such text does not occur in GLUE.

use crate::error::{Error, Result};
use tokenizers::{
    Model, NormalizedString, Normalizer, OffsetReferential, OffsetType, PreTokenizedString,
    PreTokenizer, Tokenizer,
};

/// Splits fields into words and words into piece ids with one tokenizer.
#[derive(Clone, Copy)]
pub struct WordSplitter<'a> {
    tok: &'a Tokenizer,
}

impl<'a> WordSplitter<'a> {
    /// Uses `tok`'s normaliser, pre-tokenizer and model.
    pub fn new(tok: &'a Tokenizer) -> Self {
        Self { tok }
    }

    /// The words of `text` (normalised: lower-cased for an uncased tokenizer), in order.
    pub fn words(&self, text: &str) -> Result<Vec<String>> {
        let err = |e: tokenizers::Error| Error::Tokenize(format!("splitting `{text}`: {e}"));
        let mut normalized = NormalizedString::from(text);
        if let Some(n) = self.tok.get_normalizer() {
            n.normalize(&mut normalized).map_err(err)?;
        }
        let mut pre = PreTokenizedString::from(normalized);
        if let Some(p) = self.tok.get_pre_tokenizer() {
            p.pre_tokenize(&mut pre).map_err(err)?;
        }
        Ok(pre
            .get_splits(OffsetReferential::Normalized, OffsetType::None)
            .into_iter()
            .map(|(s, _, _)| s)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect())
    }

    /// The piece ids of one word (as the tokenizer's model splits it; `[UNK]` for a word it
    /// cannot split).
    pub fn pieces(&self, word: &str) -> Result<Vec<u32>> {
        let tokens = self
            .tok
            .get_model()
            .tokenize(word)
            .map_err(|e| Error::Tokenize(format!("word `{word}`: {e}")))?;
        Ok(tokens.into_iter().map(|t| t.id).collect())
    }
}
