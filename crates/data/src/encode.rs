//! Tokenises GLUE examples into `[CLS] A [SEP] (B [SEP])` ids, truncated to a maximum length.
//!
//! Truncation is the `tokenizers` crate's own `LongestFirst` strategy, i.e. exactly what
//! Hugging Face `BertTokenizerFast(..., truncation="longest_first", max_length=N)` computes
//! (checked on every row of the real GLUE files by `scripts/data/check_tokenization.py`).

use crate::error::{Error, Result};
use crate::example::{Example, RawExample};
use rayon::prelude::*;
use tokenizers::utils::truncation::{TruncationDirection, TruncationParams, TruncationStrategy};
use tokenizers::Tokenizer;

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
        tok.with_truncation(Some(TruncationParams {
            direction: TruncationDirection::Right,
            max_length: max_seq_len,
            strategy: TruncationStrategy::LongestFirst,
            stride: 0,
        }))
        .map_err(|e| Error::Tokenize(e.to_string()))?;
        Ok(Self { tok, max_seq_len })
    }

    /// The maximum length, special tokens included.
    pub fn max_seq_len(&self) -> usize {
        self.max_seq_len
    }

    /// Tokenises one example; the flag says whether it was truncated.
    pub fn encode(&self, ex: &RawExample) -> Result<(Example, bool)> {
        let enc = match &ex.text_b {
            Some(b) => self.tok.encode((ex.text_a.as_str(), b.as_str()), true),
            None => self.tok.encode(ex.text_a.as_str(), true),
        }
        .map_err(|e| Error::Tokenize(format!("example {} (line {}): {e}", ex.guid, ex.line)))?;
        let truncated = !enc.get_overflowing().is_empty();
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
