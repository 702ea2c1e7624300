//! TinyBERT data (Jiao et al., 2020; SPEC §4, §5, §7): GLUE task files and plain-text corpora
//! tokenised with the model folder's tokenizer into Parquet datasets, and the loaders and
//! batching the trainers use.
//!
//! Entry points:
//! - [`build_glue`]: one GLUE split (`{train,dev,test}.tsv`, all nine task layouts) into a
//!   tokenised dataset with labels ([`Task`] knows each task's labels, metric and lengths);
//! - [`augment_glue`]: a task's training set augmented with the teacher's MLM and GloVe
//!   (SPEC §5) into `train_aug.tsv` and a tokenised dataset with `source_index`;
//! - [`build_corpus`]: text into BERT pre-training instances (`[CLS] A [SEP] B [SEP]`),
//!   streaming, parallel and deterministic;
//! - [`GlueDataset::open`] / [`InstanceShards::open`] load them back, [`batches`] and
//!   [`collate`] pad them into [`Batch`]es (and candle tensors), [`logits_in_order`] runs a
//!   classifier over them.
//!
//! The Parquet schemas and metadata are documented in [`schema`].

pub mod augment;
pub mod batch;
pub mod corpus;
pub mod dataset;
pub mod encode;
pub mod error;
pub mod example;
pub mod glue;
mod json;
pub mod logits;
pub mod own_task;
pub mod parquet_io;
pub mod progress;
pub mod schema;
pub mod table;
pub mod task;
pub mod tsv;

pub use augment::{augment_glue, AugmentOptions, AugmentOutcome, AugmentSummary};
pub use batch::{
    batches, collate, length_grouped_order, length_sorted_batches, shuffled_order, Batch,
    BatchLabels, BatchTensors, Padding, Sequence,
};
pub use corpus::{build_corpus, CorpusOptions, CorpusSummary, InstanceConfig, SentenceSplit};
pub use dataset::{GlueDataset, InstanceShards};
pub use encode::Encoder;
pub use error::{Error, Result};
pub use example::{Example, Instance, Label, RawExample};
pub use glue::{build_glue, read_glue_file, GlueBuildOptions, GlueSummary, ReadOptions};
pub use logits::{logits_in_order, logits_in_order_reporting};
pub use own_task::{read_task_split, task_split_path, OwnTask};
pub use progress::{NoProgress, Progress};
pub use schema::{DatasetKind, DatasetMeta, SCHEMA_VERSION};
pub use task::{Input, MetricKind, Output, Task, TaskDef, TaskSpec};
