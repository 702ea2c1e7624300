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
    /// Whether the tokens of a text cut at a whitespace are the first tokens of the whole
    /// text (BERT's normaliser, pre-tokeniser and WordPiece: each word is tokenised alone), so
    /// that a long single text need only be tokenised as far as it is kept.
    prefix_safe: bool,
}

/// Bytes of text tokenised first, per token kept, when a long single text is cut
/// ([`Encoder::encode`]): English averages under 5 bytes per WordPiece token; a cut that gives
/// too few tokens is doubled until it gives enough or reaches the whole text.
const PREFIX_BYTES_PER_TOKEN: usize = 6;

/// Whether `tok` tokenises each whitespace-separated word on its own (see
/// [`Encoder::prefix_safe`](Encoder)).
fn words_are_independent(tok: &Tokenizer) -> bool {
    use tokenizers::{ModelWrapper, NormalizerWrapper, PreTokenizerWrapper};
    let normalizer = matches!(
        tok.get_normalizer(),
        None | Some(NormalizerWrapper::BertNormalizer(_))
    );
    let pre = matches!(
        tok.get_pre_tokenizer(),
        Some(PreTokenizerWrapper::BertPreTokenizer(_))
    );
    let model = matches!(tok.get_model(), ModelWrapper::WordPiece(_));
    normalizer && pre && model
}

/// `text` cut at the first whitespace at or after byte `at`, if it is longer than that.
fn cut_at_whitespace(text: &str, at: usize) -> Option<&str> {
    if text.len() <= at {
        return None;
    }
    let start = (at..=text.len()).find(|&i| text.is_char_boundary(i))?;
    let ws = text[start..].find(char::is_whitespace)?;
    Some(&text[..start + ws])
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
        let prefix_safe = words_are_independent(&tok);
        Ok(Self {
            tok,
            max_seq_len,
            prefix_safe,
        })
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
        let added = self
            .tok
            .get_post_processor()
            .map_or(0, |p| p.added_tokens(ex.text_b.is_some()));
        let budget = self.max_seq_len.saturating_sub(added);
        // A single text far longer than the budget: its first words give the tokens kept (a
        // pair's truncation needs both whole lengths).
        let mut cut = (budget + 1) * PREFIX_BYTES_PER_TOKEN;
        let a = loop {
            let prefix = match (&ex.text_b, self.prefix_safe) {
                (None, true) => cut_at_whitespace(&ex.text_a, cut),
                _ => None,
            };
            let Some(prefix) = prefix else {
                break self
                    .tok
                    .encode_fast(ex.text_a.as_str(), false)
                    .map_err(err)?;
            };
            let a = self.tok.encode_fast(prefix, false).map_err(err)?;
            if a.len() > budget {
                break a;
            }
            cut *= 2;
        };
        let b = match &ex.text_b {
            Some(b) => Some(self.tok.encode_fast(b.as_str(), false).map_err(err)?),
            None => None,
        };
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

    #[test]
    fn a_long_single_text_tokenised_from_its_first_words_gives_the_whole_texts_tokens() {
        let (_d, mut enc) = encoder(16);
        assert!(enc.prefix_safe);
        let words = ["a", "b", "ab", "ba", "aab", "x", "A", "é", "b,a", "中"];
        for n in [1, 5, 14, 15, 16, 40, 200] {
            for start in 0..4 {
                let text: Vec<&str> = (0..n)
                    .map(|i| words[(i * 7 + start) % words.len()])
                    .collect();
                let sep = if start % 2 == 0 { " " } else { "  \t" };
                let ex = RawExample {
                    text_b: None,
                    text_a: text.join(sep),
                    ..pair(0, 0)
                };
                enc.prefix_safe = true;
                let fast = enc.encode(&ex).unwrap();
                enc.prefix_safe = false;
                let whole = enc.encode(&ex).unwrap();
                assert_eq!(fast, whole, "{n} words: {:?}", ex.text_a);
            }
        }
        assert_eq!(cut_at_whitespace("ab cd ef", 3), Some("ab cd"));
        assert_eq!(cut_at_whitespace("ab cd", 5), None);
        assert_eq!(cut_at_whitespace("abcdef", 2), None);
        assert_eq!(cut_at_whitespace("é é é", 1), Some("é"));
    }

    #[test]
    fn long_sst2_texts_give_the_same_tokens_cut_or_whole_with_the_minilm_tokenizer() {
        let Some(model) = tinybert_testkit::shared("models/all-MiniLM-L6-v2") else {
            return;
        };
        let Some(data) = tinybert_testkit::shared("data/glue/SST-2/dev.tsv") else {
            return;
        };
        let tok = tinybert_model::load_tokenizer(&model).unwrap();
        let text = std::fs::read_to_string(data).unwrap();
        let rows: Vec<&str> = text
            .lines()
            .skip(1)
            .filter_map(|l| l.split('\t').next())
            .collect();
        for max in [16, 64, 128] {
            let mut enc = Encoder::new(&tok, max).unwrap();
            assert!(enc.prefix_safe);
            for i in 0..150 {
                let n = 1 + i % 30;
                let joined: Vec<&str> = (0..n)
                    .map(|k| rows[(i * 13 + k * 7) % rows.len()])
                    .collect();
                let ex = RawExample {
                    text_b: None,
                    text_a: joined.join(if i % 3 == 0 { "\n" } else { " " }),
                    ..pair(0, 0)
                };
                enc.prefix_safe = true;
                let fast = enc.encode(&ex).unwrap();
                enc.prefix_safe = false;
                assert_eq!(fast, enc.encode(&ex).unwrap(), "max {max}, row {i}");
            }
        }
    }
}
