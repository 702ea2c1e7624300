//! Which words may be replaced (SPEC §5 step 1): purely alphabetic and not a stop word.
//!
//! The stop-word list is the reference TinyBERT script's: NLTK's English list without the eight
//! wh-words (what which who whom when where why how), plus `'s` and `'re`. Entries with an
//! apostrophe can never match a word of the BERT basic tokenizer (it splits on the apostrophe)
//! and are kept only so that the membership is exactly the reference's.

/// The reference stop words (lower case).
pub const STOP_WORDS: &[&str] = &[
    "i",
    "me",
    "my",
    "myself",
    "we",
    "our",
    "ours",
    "ourselves",
    "you",
    "you're",
    "you've",
    "you'll",
    "you'd",
    "your",
    "yours",
    "yourself",
    "yourselves",
    "he",
    "him",
    "his",
    "himself",
    "she",
    "she's",
    "her",
    "hers",
    "herself",
    "it",
    "it's",
    "its",
    "itself",
    "they",
    "them",
    "their",
    "theirs",
    "themselves",
    "this",
    "that",
    "that'll",
    "these",
    "those",
    "am",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "being",
    "have",
    "has",
    "had",
    "having",
    "do",
    "does",
    "did",
    "doing",
    "a",
    "an",
    "the",
    "and",
    "but",
    "if",
    "or",
    "because",
    "as",
    "until",
    "while",
    "of",
    "at",
    "by",
    "for",
    "with",
    "about",
    "against",
    "between",
    "into",
    "through",
    "during",
    "before",
    "after",
    "above",
    "below",
    "to",
    "from",
    "up",
    "down",
    "in",
    "out",
    "on",
    "off",
    "over",
    "under",
    "again",
    "further",
    "then",
    "once",
    "here",
    "there",
    "all",
    "any",
    "both",
    "each",
    "few",
    "more",
    "most",
    "other",
    "some",
    "such",
    "no",
    "nor",
    "not",
    "only",
    "own",
    "same",
    "so",
    "than",
    "too",
    "very",
    "s",
    "t",
    "can",
    "will",
    "just",
    "don",
    "don't",
    "should",
    "should've",
    "now",
    "d",
    "ll",
    "m",
    "o",
    "re",
    "ve",
    "y",
    "ain",
    "aren",
    "aren't",
    "couldn",
    "couldn't",
    "didn",
    "didn't",
    "doesn",
    "doesn't",
    "hadn",
    "hadn't",
    "hasn",
    "hasn't",
    "haven",
    "haven't",
    "isn",
    "isn't",
    "ma",
    "mightn",
    "mightn't",
    "mustn",
    "mustn't",
    "needn",
    "needn't",
    "shan",
    "shan't",
    "shouldn",
    "shouldn't",
    "wasn",
    "wasn't",
    "weren",
    "weren't",
    "won",
    "won't",
    "wouldn",
    "wouldn't",
    "'s",
    "'re",
];

/// True when `word` is in [`STOP_WORDS`] (compared lower-cased).
pub fn is_stop_word(word: &str) -> bool {
    let low = word.to_lowercase();
    STOP_WORDS.contains(&low.as_str())
}

/// True when `word` is a candidate position: non-empty, only ASCII letters (after lower-casing,
/// as the reference's `[^a-z]` test), and not a stop word.
pub fn is_candidate(word: &str) -> bool {
    let low = word.to_lowercase();
    !low.is_empty() && low.bytes().all(|b| b.is_ascii_lowercase()) && !is_stop_word(&low)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_has_the_reference_size() {
        // NLTK English (179) - 8 wh-words + 's + 're = 173.
        assert_eq!(STOP_WORDS.len(), 173);
        let mut sorted = STOP_WORDS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), STOP_WORDS.len(), "duplicates in the list");
    }

    #[test]
    fn wh_words_are_candidates() {
        for w in [
            "what", "which", "who", "whom", "when", "where", "why", "how",
        ] {
            assert!(is_candidate(w), "{w}");
        }
    }
}
