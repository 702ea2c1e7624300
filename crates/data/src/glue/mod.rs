//! GLUE task files (SPEC §7): reading the nine tasks' `.tsv` layouts and building tokenised
//! Parquet datasets from them.

pub mod build;
pub mod layout;
pub mod reader;

pub use build::{build_glue, pad_id, write_examples, GlueBuildOptions, GlueSummary, ScoreStats};
pub use reader::{glue_file_path, read_glue_file, BadRow, GlueFile, ReadOptions};
