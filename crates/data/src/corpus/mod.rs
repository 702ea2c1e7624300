//! Stage A data (SPEC §4): a plain-text corpus into BERT pre-training instances.

pub mod documents;
pub mod instances;
pub mod pipeline;
pub mod split;
pub mod word_cache;

pub use instances::{
    document_instances, Document, DocumentSampler, InstanceBuffer, InstanceConfig, SpecialIds,
};
pub use pipeline::{build_corpus, CorpusOptions, CorpusSummary, DEFAULT_BLOCK_BYTES};
pub use split::SentenceSplit;
