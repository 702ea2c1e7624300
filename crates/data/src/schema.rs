//! The Parquet schemas of the datasets this crate writes, and their key-value metadata.
//!
//! # GLUE datasets (`kind = glue`, schema version 1)
//! | column | type | meaning |
//! |---|---|---|
//! | `guid` | utf8 | the file's `index`/`id` column, else the 0-based data-row number |
//! | `input_ids` | `list<u32>` | `[CLS] A [SEP] (B [SEP])`, unpadded, truncated longest-first |
//! | `token_type_ids` | `list<u8>` | 0 for `[CLS] A [SEP]`, 1 for `B [SEP]` |
//! | `length` | u32 | number of tokens; the attention mask is 1 on these and 0 on padding |
//! | `label` | int64 (class id into `labels`) or float32 (STS-B); null on test splits |
//! | `source_index` | uint64, nullable | only in augmented sets: the original example's row |
//!
//! # Pre-training instances (`kind = pretraining`, schema version 1)
//! `input_ids` `list<u32>`, `token_type_ids` `list<u8>`, `length` u32 (as above) and
//! `is_random_next` bool (B was drawn from another document, BERT's next-sentence sampling).
//!
//! # Key-value metadata (every file)
//! `tinybert.kind`, `tinybert.schema_version`, `tinybert.tokenizer_hash`, `tinybert.max_seq_len`,
//! `tinybert.pad_id`; GLUE adds `tinybert.task`, `tinybert.split` and `tinybert.labels` (a JSON
//! list, the class ids' names in order; empty for STS-B), and a task of one's own its definition
//! as `tinybert.task_def` (JSON), so that a process that never read its task file knows it. Sequences are stored unpadded: attention
//! masks and padding are made at batch time ([`crate::batch`]).

use crate::error::{Error, Result};
use crate::task::Task;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::file::metadata::KeyValue;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// Version of the schemas above; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// Metadata keys.
pub mod keys {
    pub const KIND: &str = "tinybert.kind";
    pub const SCHEMA_VERSION: &str = "tinybert.schema_version";
    pub const TOKENIZER_HASH: &str = "tinybert.tokenizer_hash";
    pub const MAX_SEQ_LEN: &str = "tinybert.max_seq_len";
    pub const PAD_ID: &str = "tinybert.pad_id";
    pub const TASK: &str = "tinybert.task";
    pub const SPLIT: &str = "tinybert.split";
    pub const LABELS: &str = "tinybert.labels";
    /// A task of one's own: its definition ([`crate::TaskSpec`] as JSON).
    pub const TASK_DEF: &str = "tinybert.task_def";
}

/// What a dataset holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatasetKind {
    /// A tokenised GLUE split (possibly augmented).
    Glue,
    /// BERT pre-training instances from a text corpus.
    Pretraining,
}

impl DatasetKind {
    fn as_str(self) -> &'static str {
        match self {
            DatasetKind::Glue => "glue",
            DatasetKind::Pretraining => "pretraining",
        }
    }
}

/// The metadata recorded in every Parquet file of a dataset.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DatasetMeta {
    pub kind: DatasetKind,
    pub schema_version: u32,
    /// BLAKE3 of the tokenizer's JSON (`tinybert_model::tokenizer::tokenizer_hash`).
    pub tokenizer_hash: String,
    pub max_seq_len: usize,
    /// Id of `[PAD]`, used when batching.
    pub pad_id: u32,
    /// GLUE task (GLUE datasets only).
    pub task: Option<Task>,
    /// Split name such as `train` or `dev_matched` (GLUE datasets only).
    pub split: Option<String>,
    /// Label names in class-id order (GLUE only; empty for STS-B).
    pub labels: Vec<String>,
}

impl DatasetMeta {
    /// The metadata of a GLUE dataset of `task`'s split `split` (labels: the task's, in id
    /// order), tokenised to at most `max_seq_len` tokens by the tokenizer hashed
    /// `tokenizer_hash`, whose `[PAD]` is `pad_id`.
    pub fn glue(
        task: Task,
        split: &str,
        tokenizer_hash: &str,
        max_seq_len: usize,
        pad_id: u32,
    ) -> Self {
        DatasetMeta {
            kind: DatasetKind::Glue,
            schema_version: SCHEMA_VERSION,
            tokenizer_hash: tokenizer_hash.to_string(),
            max_seq_len,
            pad_id,
            task: Some(task),
            split: Some(split.to_string()),
            labels: task.labels().iter().map(|s| s.to_string()).collect(),
        }
    }

    /// The key-value pairs written into the Parquet footer.
    pub fn to_key_values(&self) -> Vec<KeyValue> {
        let mut m = BTreeMap::new();
        m.insert(keys::KIND, self.kind.as_str().to_string());
        m.insert(keys::SCHEMA_VERSION, self.schema_version.to_string());
        m.insert(keys::TOKENIZER_HASH, self.tokenizer_hash.clone());
        m.insert(keys::MAX_SEQ_LEN, self.max_seq_len.to_string());
        m.insert(keys::PAD_ID, self.pad_id.to_string());
        if let Some(t) = self.task {
            m.insert(keys::TASK, t.name().to_string());
            let labels = serde_json::Value::from(self.labels.clone());
            m.insert(keys::LABELS, labels.to_string());
            if let Some(def) = t.record() {
                m.insert(keys::TASK_DEF, def.to_string());
            }
        }
        if let Some(s) = &self.split {
            m.insert(keys::SPLIT, s.clone());
        }
        m.into_iter()
            .map(|(k, v)| KeyValue::new(k.to_string(), v))
            .collect()
    }

    /// Parses the key-value pairs of the file at `path`; checks kind and schema version.
    pub fn from_key_values(path: &Path, kv: &[KeyValue]) -> Result<Self> {
        let get = |key: &str| {
            kv.iter()
                .find(|e| e.key == key)
                .and_then(|e| e.value.clone())
        };
        let need = |key: &str| {
            get(key).ok_or_else(|| {
                Error::schema(path, format!("not a tinybert dataset: no `{key}` metadata"))
            })
        };
        let number = |key: &str| -> Result<u64> {
            let v = need(key)?;
            v.parse().map_err(|_| {
                Error::schema(path, format!("metadata `{key}` = `{v}` is not a number"))
            })
        };
        let version = number(keys::SCHEMA_VERSION)? as u32;
        if version != SCHEMA_VERSION {
            return Err(Error::schema(
                path,
                format!("schema version {version}, this build reads version {SCHEMA_VERSION}"),
            ));
        }
        let kind = match need(keys::KIND)?.as_str() {
            "glue" => DatasetKind::Glue,
            "pretraining" => DatasetKind::Pretraining,
            other => {
                return Err(Error::schema(
                    path,
                    format!("unknown dataset kind `{other}`"),
                ))
            }
        };
        // A task of one's own is defined from its recorded definition (the same definition
        // again is the same task).
        if let Some(def) = get(keys::TASK_DEF) {
            let record = serde_json::from_str(&def).map_err(|e| Error::Json {
                path: path.to_path_buf(),
                source: e,
            })?;
            Task::from_record(&record).map_err(|e| Error::schema(path, e.to_string()))?;
        }
        let task = get(keys::TASK).map(|t| t.parse::<Task>()).transpose()?;
        let labels = match get(keys::LABELS) {
            None => Vec::new(),
            Some(s) => serde_json::from_str(&s).map_err(|e| Error::Json {
                path: path.to_path_buf(),
                source: e,
            })?,
        };
        Ok(Self {
            kind,
            schema_version: version,
            tokenizer_hash: need(keys::TOKENIZER_HASH)?,
            max_seq_len: number(keys::MAX_SEQ_LEN)? as usize,
            pad_id: number(keys::PAD_ID)? as u32,
            task,
            split: get(keys::SPLIT),
            labels,
        })
    }

    /// Fails unless the dataset was tokenised by the tokenizer with hash `expected`.
    pub fn require_tokenizer(&self, expected: &str) -> Result<()> {
        if self.tokenizer_hash == expected {
            Ok(())
        } else {
            Err(Error::Invalid(format!(
                "dataset was tokenised with tokenizer {}, the model's tokenizer is {expected}: \
                 regenerate the dataset with this model's folder",
                self.tokenizer_hash
            )))
        }
    }
}

fn list_of(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(item, false)))
}

/// Arrow schema of a GLUE dataset; `regression` picks a float32 label, `augmented` adds
/// `source_index`.
pub fn glue_schema(regression: bool, augmented: bool) -> SchemaRef {
    let label = if regression {
        DataType::Float32
    } else {
        DataType::Int64
    };
    let mut fields = vec![
        Field::new("guid", DataType::Utf8, false),
        Field::new("input_ids", list_of(DataType::UInt32), false),
        Field::new("token_type_ids", list_of(DataType::UInt8), false),
        Field::new("length", DataType::UInt32, false),
        Field::new("label", label, true),
    ];
    if augmented {
        fields.push(Field::new("source_index", DataType::UInt64, true));
    }
    Arc::new(Schema::new(fields))
}

/// Arrow schema of pre-training instances.
pub fn pretraining_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("input_ids", list_of(DataType::UInt32), false),
        Field::new("token_type_ids", list_of(DataType::UInt8), false),
        Field::new("length", DataType::UInt32, false),
        Field::new("is_random_next", DataType::Boolean, false),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinybert_testkit::assert_mentions;

    #[test]
    fn metadata_round_trips_through_key_values() {
        let meta = DatasetMeta {
            kind: DatasetKind::Glue,
            schema_version: SCHEMA_VERSION,
            tokenizer_hash: "abc".into(),
            max_seq_len: 128,
            pad_id: 0,
            task: Some(Task::MNLI),
            split: Some("dev_matched".into()),
            labels: Task::MNLI.labels().iter().map(|s| s.to_string()).collect(),
        };
        let kv = meta.to_key_values();
        assert_eq!(
            DatasetMeta::from_key_values(Path::new("x"), &kv).unwrap(),
            meta
        );
    }

    #[test]
    fn another_schema_version_is_rejected() {
        let kv = vec![
            KeyValue::new(keys::SCHEMA_VERSION.into(), "99".to_string()),
            KeyValue::new(keys::KIND.into(), "glue".to_string()),
        ];
        let err = DatasetMeta::from_key_values(Path::new("p.parquet"), &kv)
            .unwrap_err()
            .to_string();
        assert_mentions(&err, &["p.parquet", "schema version 99"]);
    }
}
