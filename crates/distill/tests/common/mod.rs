//! Tiny models, a vocabulary and tokenised task data for the trainer tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tinybert_data::schema::{DatasetKind, DatasetMeta, SCHEMA_VERSION};
use tinybert_data::{Example, Label, Task};
use tinybert_distill::train::TrainProgress;
use tinybert_model::{
    load_tokenizer, tokenizer_hash, BertConfig, Heads, Model, ModelOptions, Trainable, Want,
};

/// Special tokens then the letters `a`..`z`.
pub fn vocab(dir: &Path) -> PathBuf {
    let mut words: Vec<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    words.extend(('a'..='z').map(|c| c.to_string()));
    let out = dir.join("vocab");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("vocab.txt"), words.join("\n")).unwrap();
    out
}

/// A BERT config of `layers` x `hidden` (2 heads) over the test vocabulary.
pub fn config(layers: usize, hidden: usize) -> BertConfig {
    let mut c = BertConfig::student(layers, hidden, hidden * 2, 2);
    c.vocab_size = 31;
    c.max_position_embeddings = 32;
    c
}

/// A fresh trainable model with a classifier of `classes` outputs (none: no classifier).
pub fn model(cfg: &BertConfig, classes: Option<usize>, seed: u64) -> Model {
    let opts = ModelOptions {
        trainable: Trainable::All,
        seed,
        heads: Heads {
            classifier: classes.map_or(Want::Never, Want::Always),
            mlm: Want::Never,
            fit_dense: Want::Never,
        },
        ..Default::default()
    };
    Model::init(cfg, &opts).unwrap()
}

/// `model` saved as a HF folder with the vocabulary of `vocab`.
pub fn save(model: &Model, dir: &Path, vocab: &Path) -> PathBuf {
    model.save(dir, Some(vocab)).unwrap();
    dir.to_path_buf()
}

/// `n` labelled single-sentence examples `[CLS] w.. [SEP]`, class = parity of the first word.
pub fn examples(n: usize) -> Vec<Example> {
    (0..n)
        .map(|i| {
            let len = 2 + i % 5;
            let mut ids = vec![2u32];
            ids.extend((0..len).map(|j| 5 + ((i * 7 + j * 3) % 26) as u32));
            ids.push(3);
            Example {
                guid: i.to_string(),
                token_type_ids: vec![0; ids.len()],
                label: Label::Class(ids[1] % 2),
                input_ids: ids,
                source_index: None,
            }
        })
        .collect()
}

/// `examples(n)` written as a tokenised `task` dataset (tokenizer of `vocab`) in `dir`.
pub fn dataset(dir: &Path, vocab: &Path, task: Task, n: usize) -> PathBuf {
    let hash = tokenizer_hash(&load_tokenizer(vocab).unwrap()).unwrap();
    let meta = DatasetMeta {
        kind: DatasetKind::Glue,
        schema_version: SCHEMA_VERSION,
        tokenizer_hash: hash,
        max_seq_len: 16,
        pad_id: 0,
        task: Some(task),
        split: Some("train".into()),
        labels: task.labels().iter().map(|s| s.to_string()).collect(),
    };
    let mut examples = examples(n);
    // A regression's score: 1 for class 0, 4 for class 1.
    if task.is_regression() {
        for e in &mut examples {
            e.label = Label::Score(1.0 + 3.0 * e.label.class().unwrap() as f32);
        }
    }
    tinybert_data::glue::write_examples(dir, &meta, &examples, 100).unwrap();
    dir.to_path_buf()
}

/// Progress that keeps the messages.
#[derive(Default)]
pub struct Messages(pub Mutex<Vec<String>>);

impl TrainProgress for Messages {
    fn message(&self, msg: &str) {
        self.0.lock().unwrap().push(msg.to_string());
    }
}

impl Messages {
    pub fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}
