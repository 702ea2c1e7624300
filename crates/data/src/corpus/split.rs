//! Sentence splitting of corpus lines.
//!
//! Uses the `sentencex` crate (Wikimedia's rule-based segmenter: English abbreviation lists,
//! decimals, initials, quotes; it prefers not splitting to splitting wrongly). A line that is
//! already one sentence comes back whole, so the same setting serves both corpus layouts
//! (sentence per line and paragraph per line).

use sentencex::languages::{English, Language};

/// How lines become segments (the sentences that instances are packed from).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SentenceSplit {
    /// Split each line into sentences (English rules).
    #[default]
    Sentences,
    /// Each line is one segment, as the reference script does.
    Lines,
}

impl SentenceSplit {
    /// The segments of one line (pieces may carry surrounding whitespace).
    pub fn split(self, line: &str) -> Vec<&str> {
        match self {
            SentenceSplit::Lines => vec![line],
            SentenceSplit::Sentences => English {}.segment(line),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentences(text: &str) -> Vec<String> {
        SentenceSplit::Sentences
            .split(text)
            .into_iter()
            .map(|s| s.trim().to_string())
            .collect()
    }

    #[test]
    fn abbreviations_and_decimals_do_not_end_sentences() {
        let got = sentences(
            "Mr. Smith paid $3.50 for it, e.g. a coffee. The U.S. Army arrived at 5 p.m. on time. \
             Was it late? No!",
        );
        assert_eq!(
            got,
            vec![
                "Mr. Smith paid $3.50 for it, e.g. a coffee.",
                "The U.S. Army arrived at 5 p.m. on time.",
                "Was it late?",
                "No!",
            ]
        );
    }

    #[test]
    fn line_mode_keeps_the_line_whole() {
        assert_eq!(SentenceSplit::Lines.split("A. B. C."), vec!["A. B. C."]);
    }
}
