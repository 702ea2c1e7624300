//! `demo-data`: writes the quickstart's seeded synthetic corpus, sentiment task, vocabulary and
//! word vectors into its output folder (see [`crate::demo`]).
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

use super::common::say;
use crate::demo::{write_demo, DemoOptions};
use crate::pipeline::registry::{KindSpec, StageContext, StageKind};
use crate::pipeline::stage::ResolvedStage;
use anyhow::Result;

/// The `demo-data` kind.
pub struct DemoData;

impl StageKind for DemoData {
    fn spec(&self) -> KindSpec {
        KindSpec {
            name: "demo-data",
            required: &[],
            optional: &[
                "seed",
                "documents",
                "sentences_per_document",
                "train",
                "dev",
                "glove_dim",
            ],
            resumable: false,
        }
    }

    fn check(&self, stage: &ResolvedStage) -> Result<()> {
        stage.config::<DemoOptions>()?;
        stage.out()?;
        Ok(())
    }

    fn run(&self, stage: &ResolvedStage, ctx: &StageContext) -> Result<()> {
        let opts: DemoOptions = stage.config()?;
        let out = ctx.path(stage.out()?);
        let s = write_demo(&out, &opts)?;
        say(
            ctx,
            &format!(
                "demo data: {} corpus documents ({} words), SST-2-format task {} train / {} dev rows, {} vocabulary entries -> {}",
                s.corpus_documents,
                s.corpus_words,
                s.train_rows,
                s.dev_rows,
                s.vocab_size,
                out.display()
            ),
        );
        Ok(())
    }
}
