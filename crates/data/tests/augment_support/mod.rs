//! Fixtures of the augmentation tests: a tiny WordPiece vocabulary, a tiny random teacher with
//! an MLM head, a tiny GloVe file and small SST-2 / MRPC training files.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use tinybert_data::{AugmentOptions, Task};
use tinybert_model::{BertConfig, Heads, Model, ModelOptions, Want};
use tokenizers::Tokenizer;

/// Vocabulary: specials, then whole words, then continuation pieces. `unbelievable`, `films`
/// and `actors` split into several pieces (GloVe words); the rest are single pieces (MLM words).
pub const VOCAB: &[&str] = &[
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "!", "'", "the", "a", "is", "was",
    "and", "not", "movie", "film", "plot", "story", "actor", "good", "great", "bad", "fine",
    "nice", "fun", "boring", "dull", "funny", "sad", "long", "short", "new", "old", "un",
    "##believ", "##able", "##s", "##ing", "##ed", "##ly", "3", "##d", "s", "t", "don",
];

/// Writes `vocab.txt` into `dir` and loads it as the teacher tokenizer (with its hash).
pub fn tokenizer(dir: &Path) -> (Tokenizer, String) {
    std::fs::write(dir.join("vocab.txt"), VOCAB.join("\n")).unwrap();
    let tok = tinybert_model::load_tokenizer(dir).unwrap();
    let hash = tinybert_model::tokenizer_hash(&tok).unwrap();
    (tok, hash)
}

/// A random 2-layer teacher (hidden 32) with an MLM head over [`VOCAB`].
pub fn teacher(seed: u64) -> Model {
    let mut cfg = BertConfig::student(2, 32, 64, 2);
    cfg.vocab_size = VOCAB.len();
    cfg.max_position_embeddings = 64;
    let opts = ModelOptions {
        seed,
        heads: Heads {
            mlm: Want::Always(()),
            ..Heads::default()
        },
        ..ModelOptions::default()
    };
    Model::init(&cfg, &opts).unwrap()
}

/// GloVe lines: `word v1 v2 v3`.
pub const GLOVE: &str = "\
the 0.1 0.1 0.1
unbelievable 1.0 0.0 0.0
incredible 9.0 1.0 0.0
amazing 1.0 0.5 0.0
astonishing 50.0 40.0 0.0
films 0.0 1.0 0.0
movies 0.0 2.0 0.1
pictures 0.1 1.0 0.3
actors 0.0 0.0 1.0
";

pub fn write_glove(dir: &Path) -> PathBuf {
    let p = dir.join("glove.txt");
    std::fs::write(&p, GLOVE).unwrap();
    p
}

pub const SST2: &str = "\
sentence\tlabel
the movie was good and fun .\t1
a boring , long film !\t0
unbelievable plot and great actors\t1
the story is not bad\t0
films never age ; this one did\t1
dull\t0
";

pub const MRPC: &str = "\u{feff}Quality\t#1 ID\t#2 ID\t#1 String\t#2 String
1\t11\t12\tThe movie was good .\tThe film was great .
0\t13\t14\tA boring story , said the actor .\tThe plot was fun and new .
1\t15\t16\tUnbelievable films !\tGreat actors and a nice story .
";

/// A GLUE root with `TASK/train.tsv` holding `text`.
pub fn glue_dir(dir: &Path, task: Task, text: &str) -> PathBuf {
    let root = dir.join("glue");
    std::fs::create_dir_all(root.join(task.name())).unwrap();
    std::fs::write(root.join(task.name()).join("train.tsv"), text).unwrap();
    root
}

/// Options for a small run: N_a 8, K 5, chunks of 2 examples.
pub fn options(task: Task, glue: &Path, glove: &Path, output: &Path) -> AugmentOptions {
    let mut o = AugmentOptions::new(task, glue.to_path_buf(), glove.to_path_buf(), output.into());
    o.n_aug = 8;
    o.k = 5;
    o.chunk_size = 2;
    o.batch_size = 3;
    o
}
