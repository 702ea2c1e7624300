//! Jobs: one typed definition of every operation, shared by the command line and the pipeline.
//!
//! A job is a struct deriving `clap::Args`: its fields are the operation's parameters, with their
//! types, defaults, value checks (`value_parser`) and help text, declared once. The two doors
//! into it parse the same declaration:
//! - the command line (`tinybert finetune --model M --epochs 2 ...`) through clap directly;
//! - a pipeline stage (`kind = "finetune"`, `model = "M"`, `epochs = 2`) through
//!   [`argv::stage_args`], which turns the stage's table into the same flags (the stage's single
//!   `outs` entry becomes `--output`), so defaults, types, ranges, required keys and unknown keys
//!   behave exactly as on the command line.
//!
//! Both then call [`execute`]: the job's [`Job::validate`] (checks between parameters), its
//! thread count, and [`Job::run`], which owns the progress bars, Ctrl-C, the result line and
//! `summary.json`. A kind's parameter list (`tinybert kinds`, errors) is clap's list of the job's
//! arguments.
//!
//! | kind | job | what it runs | resumable |
//! |---|---|---|---|
//! | `demo-data` | [`demo::DemoData`] | the quickstart's synthetic corpus, task, vocabulary, vectors | no |
//! | `corpus` | [`corpus::Corpus`] | text -> pre-training instances | no |
//! | `glue` | [`glue::Glue`] | GLUE splits -> tokenised datasets | no |
//! | `mlm-head` | [`mlm_head::MlmHead`] | masked-LM head fitting, or pre-training a fresh model | yes |
//! | `general-distill` | [`general::GeneralDistill`] | general distillation (SPEC §4) | yes |
//! | `finetune` | [`finetune::Finetune`] | fine-tuning on gold labels | yes |
//! | `augment` | [`augment::Augment`] | data augmentation (SPEC §5) | yes |
//! | `task-distill` | [`task::TaskDistill`] | task-specific distillation, one phase (SPEC §6) | yes |
//! | `eval` | [`eval::Eval`] | a model on a GLUE split, `summary.json` for reports | no |
//! | `predict` | [`predict::Predict`] | a model's labels and probabilities for a table of texts | no |
//! | `bench` | [`bench::Bench`] | inference latency and speed-up | no |
//! | `report` | [`report::Report`] | the paper's tables with our runs | no |

pub mod argv;
pub mod augment;
pub mod bench;
pub mod corpus;
pub mod demo;
pub mod eval;
pub mod finetune;
pub mod general;
pub mod glue;
pub mod measure;
pub mod mlm_head;
pub mod predict;
pub mod report;
pub mod task;
pub mod train;
pub mod values;

use anyhow::{bail, Context, Result};
use candle_core::Device;
use indicatif::MultiProgress;
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// One operation: its parameters (the struct's fields, as clap arguments) and its work.
pub trait Job: clap::Args + clap::FromArgMatches + std::fmt::Debug + Sync {
    /// The pipeline stage kind (`kind = "..."`).
    const KIND: &'static str;
    /// Whether an interrupted run continues from what it left in its output (a trainer's
    /// checkpoint, augmentation's finished chunks); otherwise a rerun starts from scratch.
    const RESUMABLE: bool = false;
    /// Whether it runs as several data-parallel ranks (`mpirun -np N`): the trainers.
    const DATA_PARALLEL: bool = false;

    /// Checks between parameters (each value's own range is checked when it is parsed).
    fn validate(&self) -> Result<()> {
        Ok(())
    }

    /// The files and folders the job reads: a pipeline stage must list each among its inputs
    /// (or read it from another stage's output), so the lock file sees it change.
    fn inputs(&self) -> Vec<Input<'_>>;

    /// For a trainer: its plan (the effective trainer configuration and the training set), which
    /// `--estimate` projects the full run's steps from. `None` for every other job.
    fn training(&self, _ctx: &Ctx) -> Result<Option<train::TrainingPlan>> {
        Ok(None)
    }

    /// Does the work, writing the job's output folder `out` (`--output`, relative to the
    /// context's working directory).
    fn run(&self, ctx: &Ctx, out: &Path) -> Result<()>;
}

/// A job with the flags every job has, as both doors parse it: `--threads` and `--output`
/// (what the output folder holds is said in the job's description).
#[derive(Debug, clap::Args)]
pub struct JobArgs<J: Job> {
    #[command(flatten)]
    pub job: J,
    /// CPU threads for the job's products (default or 0: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Output folder (`predict`: a folder, or the predictions file itself).
    #[arg(long)]
    pub output: String,
}

/// Something a job reads, named by its parameter.
#[derive(Debug, Clone)]
pub enum Input<'a> {
    /// A file or folder.
    Path(&'static str, Cow<'a, str>),
    /// A model: a folder, or (when no such folder exists) a hub id or a preset name.
    Model(&'static str, &'a str),
    /// A task file of one's own: the file and the data files it names.
    TaskFile(&'static str, &'a str),
}

impl<'a> Input<'a> {
    /// A file or folder read by parameter `key`.
    pub fn path(key: &'static str, p: &'a str) -> Self {
        Input::Path(key, Cow::Borrowed(p))
    }

    /// A task's data: a task file (its data files are inputs too), or a GLUE task's folder
    /// in the GLUE data given as `data_dir` (the GLUE root or the task's folder): the stage's
    /// inputs must hold `<data_dir>/<TASK>`, or `data_dir` itself.
    pub fn task(data_dir: Option<&'a str>, task: &'a values::TaskArg) -> Vec<Self> {
        match (task, data_dir) {
            (values::TaskArg::File(f), _) => vec![Input::TaskFile("task", f)],
            (values::TaskArg::Named(t), Some(d)) => vec![Input::Path(
                "data_dir",
                Cow::Owned(format!("{d}/{}", t.name())),
            )],
            (values::TaskArg::Named(_), None) => Vec::new(),
        }
    }
}

/// What a running job gets from the door it came through.
pub struct Ctx {
    /// Relative paths are relative to this folder (empty: the current directory).
    pub workdir: PathBuf,
    /// The compute device (`--device`).
    pub device: Device,
    /// The `--device` text, recorded by benchmarks.
    pub device_name: String,
    /// Where jobs add their progress bars.
    pub progress: MultiProgress,
    /// Set by Ctrl-C: long jobs save what they have and stop.
    pub stop: Arc<AtomicBool>,
    /// Set while `--estimate` probes a stage: trainers report their steps to it, and result
    /// lines go to the debug log instead of standard output.
    pub clock: Option<Arc<crate::pipeline::estimate::Clock>>,
}

impl Ctx {
    /// The context of a command-line run: paths relative to the current directory.
    pub fn cli(device_name: &str) -> Result<Self> {
        Ok(Self {
            workdir: PathBuf::new(),
            device: crate::device::parse_device(device_name)?,
            device_name: device_name.to_string(),
            progress: crate::progress::multi().clone(),
            stop: stop_flag(),
            clock: None,
        })
    }

    /// A job's path parameter as a path to open.
    pub fn path(&self, p: impl AsRef<Path>) -> PathBuf {
        self.workdir.join(p)
    }

    /// A model parameter: a folder (relative to the working directory), or a hub id such as
    /// `bert-base-uncased`, resolved from the local hub cache (downloaded if needed) when no
    /// such folder exists.
    pub fn model(&self, spec: &str) -> Result<PathBuf> {
        let path = self.path(spec);
        if path.exists() {
            return Ok(path);
        }
        if looks_like_path(spec) {
            bail!("no model folder {}", path.display());
        }
        tinybert_model::resolve_model(spec).with_context(|| format!("model `{spec}`"))
    }

    /// The tokenizer of model folder `dir` and its hash (recorded in the datasets it makes).
    pub fn tokenizer(&self, dir: &Path) -> Result<(tokenizers::Tokenizer, String)> {
        let tok = tinybert_model::load_tokenizer(dir)
            .with_context(|| format!("loading the tokenizer of {}", dir.display()))?;
        let hash = tinybert_model::tokenizer_hash(&tok)?;
        Ok((tok, hash))
    }

    /// Prints a result line on standard output (above the progress bars).
    pub fn say(&self, text: &str) {
        if self.clock.is_some() || !tinybert_distill::parallel::is_root() {
            tracing::debug!("{text}");
            return;
        }
        self.progress.suspend(|| println!("{text}"));
    }
}

/// A model name that can only be a local path (it starts with `.` or `/`, or has more than
/// one `/`); `org/name` and bare names may be hub ids.
pub fn looks_like_path(spec: &str) -> bool {
    spec.starts_with('.') || spec.starts_with('/') || spec.matches('/').count() > 1
}

/// Runs a job through either door: validation, its thread pool, its work.
pub fn execute<J: Job>(args: &JobArgs<J>, ctx: &Ctx) -> Result<()> {
    let job = &args.job;
    job.validate()?;
    let ranks = tinybert_distill::parallel::world().size();
    if ranks > 1 && !J::DATA_PARALLEL {
        bail!(
            "`{}` does not run as several ranks (started as one of {ranks}): only the trainers \
             (mlm-head, general-distill, finetune, task-distill) do; run it as one process",
            J::KIND
        );
    }
    let out = ctx.path(&args.output);
    let run = || job.run(ctx, &out);
    match args.threads.filter(|&n| n > 0) {
        Some(n) => tinybert_model::kernels::flushing_thread_pool()
            .num_threads(n)
            .build()
            .context("cannot start the thread pool")?
            .install(run),
        None => run(),
    }
}

/// Runs a job from the command line (`--device` from the global options).
pub fn run_cli<J: Job>(args: &JobArgs<J>, device: &str) -> Result<()> {
    execute(args, &Ctx::cli(device)?)
}

/// The process's one Ctrl-C flag: the first Ctrl-C sets it (jobs save a checkpoint or their
/// finished chunks and stop), the second exits at once with status 130.
pub fn stop_flag() -> Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        if let Err(e) = ctrlc::set_handler(move || {
            if f.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!("\ninterrupt: saving progress, then stopping (Ctrl-C again to quit now)");
        }) {
            tracing::warn!("cannot install the Ctrl-C handler: {e}");
        }
        flag
    })
    .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_that_can_only_be_paths_are_told_from_hub_ids() {
        for p in ["./m", "/abs/m", "runs/a/b", "../m"] {
            assert!(looks_like_path(p), "{p}");
        }
        for id in ["bert-base-uncased", "google/bert_uncased_L-4_H-312_A-12"] {
            assert!(!looks_like_path(id), "{id}");
        }
    }
}
