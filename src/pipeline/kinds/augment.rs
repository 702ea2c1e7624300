//! `augment`: data augmentation of a task's training set (SPEC §5;
//! [`tinybert_data::augment_glue`]) with the teacher's masked-LM head (single-piece words) and
//! GloVe neighbours (multi-piece words): `train_aug.tsv`, a tokenised dataset with
//! `source_index` (the input of `task-distill`) and `summary.json`. Resumable: finished chunks
//! are kept in `partial/` while it runs.
//!
//! ```toml
//! [stages.augment]
//! kind = "augment"
//! foreach = "${params.tasks}"
//! teacher = "${stages.mlm.out}"        # a model with an MLM head (and the task's tokenizer)
//! task = "${item}"
//! data_dir = "data/glue"               # GLUE root or the task's folder (train.tsv is read)
//! glove = "data/glove.txt"             # GloVe text format
//! n_aug = 20                           # optional; these are the defaults (the paper's)
//! k = 15                               # candidates per word
//! p = 0.4                              # replacement probability per position and round
//! glove_words = 100000                 # only the first this many GloVe words
//! seed = 42
//! max_seq_len = 128                    # default: the task's (64 single sentence, 128 pairs)
//! batch_size = 64                      # masked sequences per teacher forward
//! limit = 0                            # only the first N training rows (0: all)
//! chunk_size = 512                     # examples per resumable chunk
//! shard_size = 1000000
//! skip_bad_rows = false
//! threads = 1                        # optional: CPU threads for the products (0: all cores)
//! deps = ["data/glue/${item}", "data/glove.txt"]
//! outs = ["runs/augment/${item}"]
//! ```

use super::common::{at, device, model_param, require_input, say, with_threads};
use crate::pipeline::registry::{KindSpec, StageContext, StageKind};
use crate::pipeline::stage::ResolvedStage;
use anyhow::{anyhow, bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;
use tinybert_data::{augment_glue, AugmentOptions, AugmentOutcome, Progress, Task};
use tinybert_model::{load_tokenizer, tokenizer_hash, Heads, Model, ModelOptions, Want};

/// The `augment` kind.
pub struct Augment;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(rename = "teacher")]
    _teacher: String,
    task: String,
    data_dir: String,
    glove: String,
    #[serde(default)]
    n_aug: Option<usize>,
    #[serde(default)]
    k: Option<usize>,
    #[serde(default)]
    p: Option<f64>,
    #[serde(default)]
    glove_words: Option<usize>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    max_seq_len: Option<usize>,
    #[serde(default)]
    batch_size: Option<usize>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    chunk_size: Option<usize>,
    #[serde(default)]
    shard_size: Option<usize>,
    #[serde(default)]
    skip_bad_rows: bool,
    #[serde(rename = "threads", default)]
    _threads: Option<usize>,
}

impl Params {
    fn read(stage: &ResolvedStage) -> Result<(Self, Task)> {
        let p: Params = stage.config()?;
        let task: Task = p
            .task
            .parse()
            .map_err(|e| anyhow!("{}: {e}", at(stage, "task")))?;
        if let Some(prob) = p.p {
            if !(0.0..=1.0).contains(&prob) {
                bail!("{}: must be in [0, 1]", at(stage, "p"));
            }
        }
        for (key, v) in [
            ("k", p.k),
            ("glove_words", p.glove_words),
            ("batch_size", p.batch_size),
            ("chunk_size", p.chunk_size),
            ("shard_size", p.shard_size),
        ] {
            if v == Some(0) {
                bail!("{}: must be at least 1", at(stage, key));
            }
        }
        Ok((p, task))
    }

    /// The library options, the reference defaults where a key is absent.
    fn options(&self, task: Task, ctx: &StageContext, out: &str) -> AugmentOptions {
        let mut o = AugmentOptions::new(
            task,
            ctx.path(&self.data_dir),
            ctx.path(&self.glove),
            ctx.path(out),
        );
        o.n_aug = self.n_aug.unwrap_or(o.n_aug);
        o.k = self.k.unwrap_or(o.k);
        o.p = self.p.unwrap_or(o.p);
        o.glove_words = self.glove_words.unwrap_or(o.glove_words);
        o.seed = self.seed.unwrap_or(o.seed);
        o.max_seq_len = self.max_seq_len.or(o.max_seq_len);
        o.batch_size = self.batch_size.unwrap_or(o.batch_size);
        o.limit = self.limit.filter(|&l| l > 0).or(o.limit);
        o.chunk_size = self.chunk_size.unwrap_or(o.chunk_size);
        o.shard_size = self.shard_size.unwrap_or(o.shard_size);
        o.skip_bad_rows = self.skip_bad_rows;
        o.stop = Some(crate::cmd::distill::stop_flag());
        o
    }
}

impl StageKind for Augment {
    fn spec(&self) -> KindSpec {
        KindSpec {
            name: "augment",
            required: &["teacher", "task", "data_dir", "glove"],
            optional: &[
                "n_aug",
                "k",
                "p",
                "glove_words",
                "seed",
                "max_seq_len",
                "batch_size",
                "limit",
                "chunk_size",
                "shard_size",
                "skip_bad_rows",
                "threads",
            ],
            resumable: true,
        }
    }

    fn check(&self, stage: &ResolvedStage) -> Result<()> {
        let (p, task) = Params::read(stage)?;
        let task_dir = format!("{}/{}", p.data_dir, task.name());
        if require_input(stage, "data_dir", &task_dir).is_err() {
            require_input(stage, "data_dir", &p.data_dir)?;
        }
        require_input(stage, "glove", &p.glove)?;
        stage.out()?;
        Ok(())
    }

    fn run(&self, stage: &ResolvedStage, ctx: &StageContext) -> Result<()> {
        with_threads(stage.param_or("threads", None)?, || run(stage, ctx))
    }
}

/// The stage's work, on the `threads` it asks for.
fn run(stage: &ResolvedStage, ctx: &StageContext) -> Result<()> {
    let (p, task) = Params::read(stage)?;
    let teacher_dir = model_param(stage, ctx, "teacher")?;
    let opts = p.options(task, ctx, stage.out()?);
    let model_opts = ModelOptions {
        device: device(ctx)?,
        heads: Heads {
            classifier: Want::Never,
            mlm: Want::IfPresent,
            fit_dense: Want::Never,
        },
        ..Default::default()
    };
    let teacher = Model::load(&teacher_dir, &model_opts)?;
    if teacher.mlm_head.is_none() {
        bail!(
            "{}: {} has no masked-LM head (`cls.predictions.*`): point it at an `mlm-head` stage's output",
            at(stage, "teacher"),
            teacher_dir.display()
        );
    }
    let tok = load_tokenizer(&teacher_dir)
        .with_context(|| format!("loading the tokenizer of {}", teacher_dir.display()))?;
    let hash = tokenizer_hash(&tok)?;
    let bar = Bar(ctx.progress.add(ProgressBar::new(0)), stage.name.clone());
    match augment_glue(&opts, &teacher, &tok, &hash, &bar)? {
        AugmentOutcome::Done(s) => {
            say(
                ctx,
                &format!(
                    "{task}: {} training examples -> {} rows (N_a {}, K {}, p {}) -> {}",
                    s.examples,
                    s.output_rows,
                    s.n_aug,
                    s.k,
                    s.p,
                    opts.output.display()
                ),
            );
            Ok(())
        }
        AugmentOutcome::Stopped { chunks_done, chunks } => bail!(
            "interrupted after {chunks_done} of {chunks} chunks (kept in {}/partial; run again to continue)",
            opts.output.display()
        ),
    }
}

/// Training examples augmented, on the runner's bars.
struct Bar(ProgressBar, String);

impl Progress for Bar {
    fn start(&self, total: Option<u64>) {
        if let Some(t) = total {
            self.0.set_length(t);
        }
        let template = format!(
            "{} [{{elapsed_precise}}] {{wide_bar}} {{pos}}/{{len}} examples ({{eta}}) {{msg}}",
            self.1
        );
        if let Ok(style) = ProgressStyle::with_template(&template) {
            self.0.set_style(style);
        }
    }

    fn advance(&self, examples: u64, rows: u64) {
        self.0.inc(examples);
        if rows > 0 {
            self.0.set_message(format!("+{rows} rows"));
        }
    }

    fn finish(&self) {
        self.0.finish_and_clear();
    }
}
