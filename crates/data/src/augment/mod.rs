//! Stage B data augmentation (SPEC §5; TinyBERT's `data_augmentation.py`), batched and parallel.
//!
//! Each text field of a training example is split into words by the teacher tokenizer's BERT
//! basic tokenizer ([`words`]); purely alphabetic non-stop words are candidate positions
//! ([`stopwords`]). A single-piece word gets the teacher MLM's top-K predictions for
//! `[CLS] masked [SEP] original [SEP]` ([`mlm`], batched by length, head at the masked rows
//! only); a multi-piece word gets its K nearest GloVe neighbours ([`glove`], parallel, cached
//! per word). N_a rounds replace each position with probability p ([`variants`]); the original
//! comes first and repeats are dropped. Pair tasks are augmented field by field, the other field
//! kept original (not the reference's pairing with the last variant of the first field). Every
//! field draws from its own generator seeded by (seed, example, field), so the output depends on
//! the seed only, not on chunking or threads.
//!
//! Entry point: [`augment_glue`]. Work is done in chunks saved under `partial/` ([`partial`]),
//! so an interrupted run resumes where it stopped with an identical result.

pub mod candidate_log;
pub mod chunk;
pub mod encoder;
pub mod glove;
pub mod mlm;
pub mod options;
pub mod output;
pub mod partial;
pub mod pipeline;
pub mod source;
pub mod stopwords;
pub mod variants;
pub mod words;

pub use chunk::ChunkStats;
pub use glove::GloveIndex;
pub use mlm::{MlmPredictor, MlmQuery, MlmStats};
pub use options::{AugmentOptions, AugmentSettings};
pub use output::{AUGMENTED_SPLIT, TSV_NAME};
pub use pipeline::{augment_glue, AugmentOutcome, AugmentSummary};
pub use stopwords::{is_candidate, STOP_WORDS};
pub use variants::{field_variants, Slot};
pub use words::WordSplitter;
