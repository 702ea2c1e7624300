//! Examples before and after tokenisation.

/// The gold label of an example.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Label {
    /// A class id: an index into the task's label list.
    Class(u32),
    /// A regression target (STS-B score).
    Score(f32),
    /// No label (test splits).
    None,
}

impl Label {
    /// The class id, if this is a class label.
    pub fn class(self) -> Option<u32> {
        match self {
            Label::Class(c) => Some(c),
            _ => None,
        }
    }

    /// The score, if this is a regression label.
    pub fn score(self) -> Option<f32> {
        match self {
            Label::Score(s) => Some(s),
            _ => None,
        }
    }
}

/// One row of a GLUE file, as text.
#[derive(Debug, Clone, PartialEq)]
pub struct RawExample {
    /// The file's `index`/`id` column where it has one, else the 0-based data-row number.
    pub guid: String,
    /// First (or only) sentence.
    pub text_a: String,
    /// Second sentence of a pair task.
    pub text_b: Option<String>,
    pub label: Label,
    /// 1-based line number in the source file.
    pub line: usize,
}

/// A tokenised example: unpadded `[CLS] A [SEP] (B [SEP])` ids. Its attention mask is 1 on
/// every stored token; padding is added only when batching.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub guid: String,
    pub input_ids: Vec<u32>,
    /// Segment ids: 0 for `[CLS] A [SEP]`, 1 for `B [SEP]`.
    pub token_type_ids: Vec<u8>,
    pub label: Label,
    /// Index of the original training example this one was derived from (augmented data).
    pub source_index: Option<u64>,
}

impl Example {
    /// Number of tokens (the attention-mask length).
    pub fn len(&self) -> usize {
        self.input_ids.len()
    }

    /// True when the example has no tokens.
    pub fn is_empty(&self) -> bool {
        self.input_ids.is_empty()
    }
}

/// A BERT pre-training instance: `[CLS] A [SEP] B [SEP]` (or `[CLS] A [SEP]` when a document
/// offers no second segment), unpadded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub input_ids: Vec<u32>,
    /// 0 for `[CLS] A [SEP]`, 1 for `B [SEP]`.
    pub token_type_ids: Vec<u8>,
    /// B was sampled from another document (BERT's random next sentence) rather than being A's
    /// continuation.
    pub is_random_next: bool,
}
