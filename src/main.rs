//! `tinybert`: TinyBERT knowledge distillation (Jiao et al., 2020) from the command line.

use clap::{Parser, Subcommand};
use tinybert_model::kernels::{flush_subnormals, flushing_thread_pool};

mod cmd;
mod demo;
mod demo_tasks;
mod device;
mod jobs;
mod pipeline;
mod progress;
mod ranks;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// TinyBERT knowledge distillation: data, models, distillation, GLUE evaluation, reports.
#[derive(Debug, Parser)]
#[command(name = "tinybert", version, about, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Options every command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// Compute device: `cpu`, `cuda` or `cuda:N`.
    #[arg(long, global = true, default_value = "cpu")]
    pub device: String,
    /// More log output (-v: debug, -vv: trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only warnings and errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect, run and create BERT models (HF folders).
    #[command(subcommand)]
    Model(cmd::model::ModelCommand),
    /// Corpus and GLUE files into tokenised Parquet datasets, data augmentation.
    #[command(subcommand)]
    Data(cmd::DataCommand),
    /// Distillation: general (corpus), task-specific (intermediate/prediction), MLM head.
    #[command(subcommand)]
    Distill(Box<cmd::DistillCommand>),
    /// Fine-tune a model on a task with the ReLU classifier head.
    Finetune(jobs::JobArgs<jobs::finetune::Finetune>),
    /// GLUE evaluation: a model on a split, scoring prediction files, the submission zip.
    #[command(subcommand)]
    Eval(cmd::eval::EvalCommand),
    /// A model's predictions for a table of texts (CSV, TSV, JSON Lines, Parquet): id, label and
    /// class probabilities (or score) per row, in input order.
    Predict(jobs::JobArgs<jobs::predict::Predict>),
    /// Benchmarks against the PyTorch reference (results written to a file).
    #[command(subcommand)]
    Bench(cmd::bench::BenchCommand),
    /// Run a pipeline file's stale stages (or the named ones), recording them in its lock file.
    Run(cmd::pipeline::RunArgs),
    /// Cost before you start: each stage's projected time, examples and disk on this machine
    /// (= `run --estimate`).
    Estimate(cmd::pipeline::EstimateArgs),
    /// Show each stage of a pipeline file: up to date, or stale and why.
    Status(cmd::pipeline::StatusArgs),
    /// Print a pipeline file's stage graph (text or `--mermaid`).
    Dag(cmd::pipeline::DagArgs),
    /// List the pipeline stage kinds, or one kind's parameters.
    Kinds(cmd::pipeline::KindsArgs),
    /// Render the paper's tables with our runs beside them: Markdown, CSV and SVG charts.
    Report(jobs::JobArgs<jobs::report::Report>),
    /// One pipeline stage's job from its command line (what each rank of a stage with
    /// `ranks = N` runs).
    #[command(hide = true)]
    Stage(cmd::pipeline::StageArgs),
}

/// The log level of `-q`/`-v`; the ranks other than rank 0 of a data-parallel job log warnings
/// and errors only (rank 0 tells the run's story once).
fn init_logging(g: &GlobalArgs) {
    let quiet = g.quiet || !tinybert_distill::parallel::is_root();
    let level = match (quiet, g.verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("TINYBERT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(progress::LogWriter)
        .with_target(false)
        .init();
}

/// mimalloc's `mi_option_purge_delay` (its v2 `mimalloc.h`; the Rust bindings do not name it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Tells the allocator never to hand freed memory back to the OS (unless the user set
/// `MIMALLOC_PURGE_DELAY`). Training frees and reallocates the same large activation buffers every
/// step; returning them made the kernel zero fresh pages each time: a general-distillation step
/// spent 45% of its time in the kernel and ran 2x slower (MiniLM teacher, 3L-192 student, batch 32).
/// Peak memory is unchanged: the memory kept is what the step needs again.
fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets a plain integer option; mimalloc reads it on each purge.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
    }
}

fn main() {
    // Die quietly on a closed pipe (`tinybert ... | head`), like other Unix tools.
    #[cfg(unix)]
    // SAFETY: restoring the default SIGPIPE disposition before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    keep_freed_memory();
    // Subnormal floats cost a microcode assist each: flushed to zero on the main thread and on
    // rayon's workers, which run the matrix products (tinybert_model::kernels::flush_subnormals).
    flush_subnormals();
    // Cannot fail: nothing has started the global pool yet.
    let _ = flushing_thread_pool().build_global();
    let cli = Cli::parse();
    let _ranks = match ranks::init() {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    };
    init_logging(&cli.global);
    let ranks = tinybert_distill::parallel::world().size();
    let trainer = matches!(
        cli.command,
        Command::Distill(_) | Command::Finetune(_) | Command::Stage(_)
    );
    let result = match cli.command {
        _ if ranks > 1 && !trainer => Err(anyhow::anyhow!(
            "started as one of {ranks} ranks: only the trainers (`distill ...`, `finetune`) run \
             as several ranks; a pipeline starts them itself for stages with `ranks = N`"
        )),
        Command::Model(c) => cmd::model::run(c, &cli.global),
        Command::Data(c) => cmd::data(c, &cli.global.device),
        Command::Distill(c) => cmd::distill(*c, &cli.global.device),
        Command::Finetune(j) => jobs::run_cli(&j, &cli.global.device),
        Command::Eval(c) => cmd::eval::run(c, &cli.global),
        Command::Predict(j) => jobs::run_cli(&j, &cli.global.device),
        Command::Bench(c) => cmd::bench::run(c, &cli.global),
        Command::Run(c) => cmd::pipeline::run(c, &cli.global),
        Command::Estimate(c) => cmd::pipeline::estimate(c, &cli.global),
        Command::Status(c) => cmd::pipeline::status(c, &cli.global),
        Command::Dag(c) => cmd::pipeline::dag(c, &cli.global),
        Command::Kinds(a) => cmd::pipeline::kinds(a),
        Command::Report(j) => jobs::run_cli(&j, &cli.global.device),
        Command::Stage(a) => cmd::pipeline::stage(a, &cli.global),
    };
    if let Err(e) = result {
        let world = tinybert_distill::parallel::world();
        match world.size() {
            1 => eprintln!("error: {e:#}"),
            n => eprintln!("error (rank {} of {n}): {e:#}", world.rank()),
        }
        ranks::fail(1);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
