//! Parquet I/O: sharded writing, record-batch conversion, reading back.

pub mod arrays;
pub mod reader;
pub mod writer;

pub use reader::{dataset_files, read_examples, read_instances, read_meta, row_count};
pub use writer::{prepare_output_dir, shard_name, ShardInfo, ShardWriter};
