//! Memoised corpus tokenisation: the real tokenizer's ids for each chunk of text (split at
//! spaces and ASCII punctuation), computed once per distinct chunk.
//!
//! For a BERT tokenizer the ids of a text are the concatenation of the ids of these chunks: the
//! BERT normaliser is character-local (control characters dropped, whitespace mapped to a space,
//! CJK characters spaced, NFD + accent stripping, per-character lower-casing; spaces and ASCII
//! punctuation are starters, so no canonical reordering crosses them), the BERT pre-tokenizer
//! removes every space and isolates every punctuation character, and WordPiece works within
//! the resulting words. Each chunk is tokenised by the `tokenizers` crate itself (no
//! hand-written tokenisation) and looked up afterwards, which makes corpus tokenisation several
//! times faster (words repeat, Zipf). Punctuation that occurs in an added token (`[` `]` of
//! `[SEP]`) is not split on, so added tokens are still matched.
//!
//! The cache is used only when the tokenizer's normaliser is BERT's (or absent), its
//! pre-tokenizer is BERT's, and no added token contains a space; otherwise every text goes to
//! the tokenizer whole. Equality with whole-text tokenisation is tested on tricky text, and on
//! every line of the real corpus sample when `../shared` is present.

use crate::error::{Error, Result};
use rustc_hash::{FxBuildHasher, FxHashMap};
use std::hash::BuildHasher;
use std::sync::Mutex;
use tokenizers::normalizers::NormalizerWrapper;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::Tokenizer;

const SHARDS: usize = 64;
/// Entries per shard before it is emptied: bounds memory (about 64 x 16k chunks in all).
const SHARD_CAPACITY: usize = 16_384;

/// A tokenizer with a bounded, thread-safe cache of chunk ids.
pub struct CachedTokenizer {
    /// A copy of the tokenizer without truncation or padding.
    tok: Tokenizer,
    cacheable: bool,
    /// `splits[b]`: ASCII byte `b` is a chunk boundary (space, or punctuation in no added token).
    splits: [bool; 128],
    /// Ids of each ASCII punctuation character that is a boundary.
    punct_ids: Vec<Vec<u32>>,
    shards: Vec<Shard>,
}

/// One lock-protected part of the cache: chunk -> ids.
type Shard = Mutex<FxHashMap<Box<str>, Box<[u32]>>>;

/// True when space-separated chunks of a text can be tokenised independently by `tok`.
pub fn chunks_are_independent(tok: &Tokenizer) -> bool {
    let normalizer_ok = matches!(
        tok.get_normalizer(),
        None | Some(NormalizerWrapper::BertNormalizer(_))
    );
    let pre_ok = matches!(
        tok.get_pre_tokenizer(),
        Some(PreTokenizerWrapper::BertPreTokenizer(_))
    );
    let added_ok = tok
        .get_added_tokens_decoder()
        .values()
        .all(|t| !t.content.contains(' '));
    normalizer_ok && pre_ok && added_ok
}

impl CachedTokenizer {
    /// Wraps a copy of `tok`; the cache is used only if [`chunks_are_independent`].
    pub fn new(tok: &Tokenizer) -> Result<Self> {
        let mut plain = tok.clone();
        plain.with_padding(None);
        plain
            .with_truncation(None)
            .map_err(|e| Error::Tokenize(e.to_string()))?;
        let in_added: String = tok
            .get_added_tokens_decoder()
            .values()
            .map(|t| t.content.clone())
            .collect();
        let mut splits = [false; 128];
        let mut punct_ids = vec![Vec::new(); 128];
        let mut me = Self {
            cacheable: chunks_are_independent(tok),
            tok: plain,
            splits,
            punct_ids: Vec::new(),
            shards: (0..SHARDS)
                .map(|_| Mutex::new(FxHashMap::default()))
                .collect(),
        };
        splits[usize::from(b' ')] = true;
        for b in 0u8..128 {
            let c = char::from(b);
            if c.is_ascii_punctuation() && !in_added.contains(c) {
                splits[usize::from(b)] = true;
                punct_ids[usize::from(b)] = me.encode(c.encode_utf8(&mut [0; 4]))?;
            }
        }
        me.splits = splits;
        me.punct_ids = punct_ids;
        Ok(me)
    }

    /// True when chunk caching is in use.
    pub fn is_cached(&self) -> bool {
        self.cacheable
    }

    fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .tok
            .encode_fast(text, false)
            .map_err(|e| Error::Tokenize(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Appends the ids of `text` (no special tokens) to `out`.
    pub fn tokenize_into(&self, text: &str, out: &mut Vec<u32>) -> Result<()> {
        if !self.cacheable {
            out.extend(self.encode(text)?);
            return Ok(());
        }
        let bytes = text.as_bytes();
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if b < 128 && self.splits[usize::from(b)] {
                if start < i {
                    self.word_into(&text[start..i], out)?;
                }
                out.extend_from_slice(&self.punct_ids[usize::from(b)]);
                start = i + 1;
            }
        }
        if start < bytes.len() {
            self.word_into(&text[start..], out)?;
        }
        Ok(())
    }

    /// Appends the ids of one chunk (no space, no split punctuation), through the cache.
    fn word_into(&self, chunk: &str, out: &mut Vec<u32>) -> Result<()> {
        {
            let shard = &self.shards[FxBuildHasher.hash_one(chunk) as usize % SHARDS];
            if let Some(ids) = lock(shard).get(chunk) {
                out.extend_from_slice(ids);
                return Ok(());
            }
            let ids = self.encode(chunk)?;
            out.extend_from_slice(&ids);
            let mut map = lock(shard);
            if map.len() >= SHARD_CAPACITY {
                map.clear();
            }
            map.insert(chunk.into(), ids.into_boxed_slice());
        }
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a map half-updated in a way that matters
    // (entries are only ever complete): keep using it.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bert_tokenizer(dir: &std::path::Path) -> Tokenizer {
        let words = [
            "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cafe", "naive", "a", "b", "c",
            "##s", ",", ".", "(", ")", "\u{4e2d}", "\u{6587}", "σ", "##σ", "ς", "##ς", "α", "##α",
        ];
        std::fs::write(dir.join("vocab.txt"), words.join("\n")).unwrap();
        tinybert_model::load_tokenizer(dir).unwrap()
    }

    #[test]
    fn cached_ids_equal_whole_text_ids_on_tricky_text() {
        let dir = tempfile::tempdir().unwrap();
        let tok = bert_tokenizer(dir.path());
        let cached = CachedTokenizer::new(&tok).unwrap();
        assert!(cached.is_cached());
        let texts = [
            "The Café  naïve (cafés), a\u{0301}b.",
            "\u{4e2d}\u{6587}the cafe\u{4e2d} a\u{00a0}b\u{2009}c",
            "ΑΣ ΣΑΣ σς. a\u{200b}b a\u{0085}b a\tb\u{000b}c  ",
            " \u{0301}a [SEP]the [MASK] x\u{0000}y \u{fffd}",
            "a,\u{0301}b (c)[SEP]. x;\u{037e}y a--b...c \"q\" 'x' [a] [MASK],a",
        ];
        for text in texts {
            let whole = tok.encode_fast(text, false).unwrap().get_ids().to_vec();
            // Twice: once filling the cache, once reading it.
            for _ in 0..2 {
                let mut ids = Vec::new();
                cached.tokenize_into(text, &mut ids).unwrap();
                assert_eq!(ids, whole, "{text:?}");
            }
        }
    }

    #[test]
    fn a_non_bert_pre_tokenizer_disables_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let mut tok = bert_tokenizer(dir.path());
        tok.with_pre_tokenizer(Some(
            tokenizers::pre_tokenizers::metaspace::Metaspace::default(),
        ));
        assert!(!CachedTokenizer::new(&tok).unwrap().is_cached());
    }
}
