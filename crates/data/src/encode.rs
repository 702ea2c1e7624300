//! Tokenises GLUE examples into `[CLS] A [SEP] (B [SEP])` ids, truncated to a maximum length.
//!
//! Truncation is the `tokenizers` crate's own `LongestFirst` rule applied to the complete
//! encodings, i.e. exactly what Hugging Face `BertTokenizerFast(..., truncation="longest_first",
//! max_length=N)` computes (checked on every row of the real GLUE files by
//! `scripts/data/check_tokenization.py`). The tokenizer's built-in truncation is not used:
//! `tokenizers` 0.23.2 cuts each sequence to `max_length` while tokenising ("early exit"), which
//! can make two long sequences equally long and hand the odd token to the other side than
//! Python's tokenizer does.

use crate::error::{Error, Result};
use crate::example::{Example, RawExample};
use rayon::prelude::*;
use tokenizers::utils::truncation::truncate_encodings;
use tokenizers::utils::truncation::{TruncationDirection, TruncationParams, TruncationStrategy};
use tokenizers::{PostProcessor, Tokenizer};

/// Smallest accepted maximum length: room for `[CLS] a [SEP] b [SEP]` plus one token each.
pub const MIN_SEQ_LEN: usize = 8;

/// A tokenizer set up to truncate to `max_seq_len` tokens, special tokens included.
pub struct Encoder {
    tok: Tokenizer,
    max_seq_len: usize,
}

/// The tokenised examples of a file.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub examples: Vec<Example>,
    /// How many examples were longer than the maximum length and were truncated.
    pub truncated: usize,
}

impl Encoder {
    /// Wraps a copy of `tok` that truncates longest-first to `max_seq_len`.
    pub fn new(tok: &Tokenizer, max_seq_len: usize) -> Result<Self> {
        if max_seq_len < MIN_SEQ_LEN {
            return Err(Error::Invalid(format!(
                "max sequence length {max_seq_len} is below the minimum {MIN_SEQ_LEN}"
            )));
        }
        let mut tok = tok.clone();
        tok.with_truncation(None)
            .map_err(|e| Error::Tokenize(e.to_string()))?;
        Ok(Self { tok, max_seq_len })
    }

    /// The maximum length, special tokens included.
    pub fn max_seq_len(&self) -> usize {
        self.max_seq_len
    }

    /// Tokenises one example; the flag says whether it was truncated.
    pub fn encode(&self, ex: &RawExample) -> Result<(Example, bool)> {
        let err = |e: tokenizers::Error| {
            Error::Tokenize(format!("example {} (line {}): {e}", ex.guid, ex.line))
        };
        let a = self
            .tok
            .encode_fast(ex.text_a.as_str(), false)
            .map_err(err)?;
        let b = match &ex.text_b {
            Some(b) => Some(self.tok.encode_fast(b.as_str(), false).map_err(err)?),
            None => None,
        };
        let added = self
            .tok
            .get_post_processor()
            .map_or(0, |p| p.added_tokens(b.is_some()));
        let budget = self.max_seq_len.saturating_sub(added);
        let total = a.len() + b.as_ref().map_or(0, |e| e.len());
        let truncated = total > budget;
        let (a, b) = if truncated {
            let params = TruncationParams {
                direction: TruncationDirection::Right,
                max_length: budget,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            };
            truncate_encodings(a, b, &params).map_err(err)?
        } else {
            (a, b)
        };
        let enc = self.tok.post_process(a, b, true).map_err(err)?;
        let example = Example {
            guid: ex.guid.clone(),
            input_ids: enc.get_ids().to_vec(),
            token_type_ids: enc.get_type_ids().iter().map(|&t| t as u8).collect(),
            label: ex.label,
            source_index: None,
        };
        Ok((example, truncated))
    }

    /// Tokenises all examples in parallel, keeping their order.
    pub fn encode_all(&self, examples: &[RawExample]) -> Result<Encoded> {
        let out: Vec<(Example, bool)> = examples
            .par_iter()
            .map(|ex| self.encode(ex))
            .collect::<Result<_>>()?;
        let truncated = out.iter().filter(|(_, t)| *t).count();
        Ok(Encoded {
            examples: out.into_iter().map(|(e, _)| e).collect(),
            truncated,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::example::Label;

    fn encoder(max_seq_len: usize) -> (tempfile::TempDir, Encoder) {
        let dir = tempfile::tempdir().unwrap();
        let words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b"];
        std::fs::write(dir.path().join("vocab.txt"), words.join("\n")).unwrap();
        let tok = tinybert_model::load_tokenizer(dir.path()).unwrap();
        let enc = Encoder::new(&tok, max_seq_len).unwrap();
        (dir, enc)
    }

    fn pair(a: usize, b: usize) -> RawExample {
        RawExample {
            guid: "0".into(),
            text_a: vec!["a"; a].join(" "),
            text_b: Some(vec!["b"; b].join(" ")),
            label: Label::None,
            line: 1,
        }
    }

    fn split(ex: &Example) -> (usize, usize) {
        let a = ex.token_type_ids.iter().filter(|&&t| t == 0).count() - 2;
        let b = ex.token_type_ids.iter().filter(|&&t| t == 1).count() - 1;
        (a, b)
    }

    #[test]
    fn longest_first_gives_the_odd_token_to_the_originally_longer_side() {
        // Both longer than the budget of 29: 14 + 15, the 15 going to the longer input, as
        // Python's tokenizer does (tokenizers 0.23.2's early-exit truncation would give it to B).
        let (_d, enc) = encoder(32);
        let (ex, truncated) = enc.encode(&pair(40, 33)).unwrap();
        assert!(truncated);
        assert_eq!(split(&ex), (15, 14));
        let (ex, _) = enc.encode(&pair(33, 40)).unwrap();
        assert_eq!(split(&ex), (14, 15));
    }

    #[test]
    fn longest_first_trims_only_the_longer_side_when_that_suffices() {
        let (_d, enc) = encoder(32);
        let (ex, _) = enc.encode(&pair(5, 40)).unwrap();
        assert_eq!(split(&ex), (5, 24));
        let (ex, truncated) = enc.encode(&pair(5, 6)).unwrap();
        assert!(!truncated);
        assert_eq!(split(&ex), (5, 6));
    }

    #[test]
    fn single_sentences_are_cut_at_the_end() {
        let (_d, enc) = encoder(8);
        let ex = RawExample {
            text_b: None,
            ..pair(20, 0)
        };
        let (out, truncated) = enc.encode(&ex).unwrap();
        assert!(truncated);
        assert_eq!(out.input_ids, vec![2, 5, 5, 5, 5, 5, 5, 3]);
    }
}
