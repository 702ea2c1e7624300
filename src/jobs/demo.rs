//! `demo-data` (`tinybert data demo`): the quickstart's seeded synthetic corpus, sentiment task,
//! vocabulary and word vectors (see [`crate::demo`]).
//!
//! ```toml
//! [stages.demo]
//! kind = "demo-data"
//! seed = 42                      # optional, as are the sizes below
//! documents = 600                # corpus documents
//! sentences_per_document = 8
//! train = 2000                   # rows of SST-2/train.tsv
//! dev = 400                      # rows of SST-2/dev.tsv
//! glove_dim = 16
//! outs = ["runs/quickstart/demo"]
//! ```

use super::{Ctx, Input, Job};
use crate::demo::{write_demo, DemoOptions};
use anyhow::Result;
use clap::Args;
use std::path::Path;

/// The quickstart's seeded synthetic corpus, SST-2-format task, vocabulary and word vectors.
#[derive(Debug, Args)]
pub struct DemoData {
    #[command(flatten)]
    pub options: DemoOptions,
}

impl Job for DemoData {
    const KIND: &'static str = "demo-data";

    fn inputs(&self) -> Vec<Input<'_>> {
        Vec::new()
    }

    fn run(&self, ctx: &Ctx, out: &Path) -> Result<()> {
        let s = write_demo(out, &self.options)?;
        ctx.say(&format!(
            "demo data: {} corpus documents ({} words), SST-2-format task {} train / {} dev rows, {} vocabulary entries -> {}",
            s.corpus_documents,
            s.corpus_words,
            s.train_rows,
            s.dev_rows,
            s.vocab_size,
            out.display()
        ));
        Ok(())
    }
}
