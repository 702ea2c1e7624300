//! `tinybert run | status | dag`: run a pipeline file's stale stages, show what is stale, draw
//! the stage graph (see `crate::pipeline`).

use crate::pipeline::estimate::EstimateOptions;
use crate::pipeline::kinds;
use crate::pipeline::runner::{self, RunOptions, Status};
use crate::pipeline::spec::Pipeline;
use crate::pipeline::ui::{self, Ui};
use crate::GlobalArgs;
use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;

/// Run a pipeline file's stale stages (or the named ones, with their stale upstream stages),
/// recording each success in the lock file next to it.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// Stages to run, with their stale upstream stages; the name of a `foreach` stage selects
    /// all its instances (`finetune` = `finetune@SST-2`, ...). Default: every stage.
    pub stages: Vec<String>,
    /// Run only the named stages, not their upstream stages.
    #[arg(long, requires = "stages")]
    pub single: bool,
    /// Run even when up to date: the named stages, or every stage when none is named.
    #[arg(long)]
    pub force: bool,
    /// Show which stages would run and why; run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// After a failure, go on with the stages that do not depend on the failed one.
    #[arg(long)]
    pub keep_going: bool,
    /// Keep the results of stages computed by other code (do not rerun a stage only because
    /// the code that computes its kind changed).
    #[arg(long)]
    pub ignore_code_changes: bool,
    /// Run nothing: time miniatures of the stages that would run (in a scratch folder) and
    /// print each one's projected time, examples and disk, and the total.
    #[arg(long, conflicts_with_all = ["dry_run", "keep_going"])]
    pub estimate: bool,
    #[command(flatten)]
    pub what_if: EstimateFlags,
}

/// `tinybert estimate`: the same as `tinybert run --estimate`.
#[derive(Debug, Args)]
pub struct EstimateArgs {
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// Stages to estimate, with their stale upstream stages (as for `run`). Default: every
    /// stage that `run` would run.
    pub stages: Vec<String>,
    /// Only the named stages, not their upstream stages.
    #[arg(long, requires = "stages")]
    pub single: bool,
    /// Estimate even the stages that are up to date.
    #[arg(long)]
    pub force: bool,
    /// As for `run`: a changed code id alone does not make a stage stale.
    #[arg(long)]
    pub ignore_code_changes: bool,
    #[command(flatten)]
    pub what_if: EstimateFlags,
}

/// The options of an estimate (`--estimate`).
#[derive(Debug, Args, Default, Clone)]
pub struct EstimateFlags {
    /// With --estimate: the size of a corpus stage's input that is not here, in words or
    /// bytes (`--assume corpus.words=2500M`); the sample given (`-p corpus=FILE`) sets the rate.
    #[arg(long, value_name = "STAGE.words|bytes=N")]
    pub assume: Vec<String>,
    /// With --estimate: time a model that is not here with random weights: every model
    /// parameter equal to ID becomes a random model of SHAPE (a preset such as `bert-base`, a
    /// config.json, or `{"layers":12,...}`) with the vocabulary of the folder TOKENIZER
    /// (`--stand-in bert-base-uncased=bert-base@../shared/models/all-MiniLM-L6-v2`).
    #[arg(long, value_name = "ID=SHAPE@TOKENIZER")]
    pub stand_in: Vec<String>,
    /// With --estimate: timed optimizer steps per training stage (one warm-up step more runs).
    #[arg(long, default_value_t = 4, value_parser = crate::jobs::values::positive)]
    pub probe_steps: usize,
    /// With --estimate: time the machine as it is, counting the probes' waits for a core held
    /// by other work (by default they are not counted: the times are those of the machine when
    /// nothing else shares it).
    #[arg(long)]
    pub wall_clock: bool,
    /// With --estimate: also write the estimate as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub estimate_json: Option<PathBuf>,
}

/// The pipeline a command reads: its file and the `[params]` overrides.
#[derive(Debug, Args)]
pub struct PipelineArgs {
    /// Pipeline file (TOML); the lock file `NAME.lock` is written next to it. Default: the
    /// quickstart, `pipelines/quickstart.toml` (written there from the copy built into the
    /// binary when it does not exist).
    pub file: Option<PathBuf>,
    /// Override a `[params]` value (`-p lr=2e-5`, `-p task_distill.lr=2e-5`, `-p tasks=RTE,MRPC`).
    #[arg(short = 'p', long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
}

impl PipelineArgs {
    /// The pipeline file (see [`pipeline_file`]) and the pipeline it defines.
    pub fn load(&self, registry: &crate::pipeline::registry::Registry) -> Result<Pipeline> {
        Pipeline::load(&pipeline_file(self.file.clone())?, &self.params, registry)
    }
}

/// Show each stage of a pipeline file: up to date, or stale and why.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// Do not count a changed code id as stale, as for `run`.
    #[arg(long)]
    pub ignore_code_changes: bool,
}

/// List the stage kinds, or one kind's parameters.
#[derive(Debug, Args)]
pub struct KindsArgs {
    /// A kind: list its parameters (required ones first) with their help.
    pub kind: Option<String>,
}

/// Print a pipeline file's stage graph (text, or a Mermaid flowchart).
#[derive(Debug, Args)]
pub struct DagArgs {
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// Print a Mermaid flowchart instead of text.
    #[arg(long)]
    pub mermaid: bool,
}

/// The quickstart pipeline, built into the binary: `tinybert run` without a file runs it.
pub const QUICKSTART: &str = include_str!("../../pipelines/quickstart.toml");

/// Where the quickstart lives, relative to the current directory.
pub const QUICKSTART_FILE: &str = "pipelines/quickstart.toml";

/// The pipeline file to use: `file`, or the quickstart, written to [`QUICKSTART_FILE`] from
/// the built-in copy when it does not exist (its lock file goes next to it).
pub fn pipeline_file(file: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(f) = file {
        return Ok(f);
    }
    let path = PathBuf::from(QUICKSTART_FILE);
    if !path.exists() {
        crate::pipeline::fsutil::write_atomic(&path, QUICKSTART.as_bytes())?;
        eprintln!(
            "wrote the built-in quickstart pipeline to {} (edit it, or run another file)",
            path.display()
        );
    }
    Ok(path)
}

/// Runs the stale stages (or the named ones), then prints the summary table.
pub fn run(a: RunArgs, g: &GlobalArgs) -> Result<()> {
    if a.estimate {
        return estimate(
            EstimateArgs {
                pipeline: a.pipeline,
                stages: a.stages,
                single: a.single,
                force: a.force,
                ignore_code_changes: a.ignore_code_changes,
                what_if: a.what_if,
            },
            g,
        );
    }
    if !a.what_if.assume.is_empty()
        || !a.what_if.stand_in.is_empty()
        || a.what_if.wall_clock
        || a.what_if.estimate_json.is_some()
    {
        bail!("--assume, --stand-in, --wall-clock and --estimate-json go with --estimate");
    }
    let registry = kinds::registry();
    let p = a.pipeline.load(&registry)?;
    let ui = Ui::new(g.quiet);
    if let Some(d) = &p.description {
        ui.line(&format!("{}: {d}", p.file.display()));
    }
    let opts = RunOptions {
        targets: a.stages,
        single: a.single,
        force: a.force,
        dry_run: a.dry_run,
        keep_going: a.keep_going,
        ignore_code_changes: a.ignore_code_changes,
    };
    let started = Instant::now();
    let outcomes = runner::run(&p, &registry, &opts, &ui, &g.device)?;
    print!("{}", ui::summary_table(&outcomes, started.elapsed()));
    let failed = outcomes
        .iter()
        .filter(|o| matches!(o.status, Status::Failed(_)))
        .count();
    if failed > 0 {
        bail!(
            "{failed} stage(s) failed; {} records only the stages that finished",
            crate::pipeline::lock::Lock::path_for(&p.file).display()
        );
    }
    Ok(())
}

/// Estimates the stages `run` would run: prints the table, writes the JSON if asked.
pub fn estimate(a: EstimateArgs, g: &GlobalArgs) -> Result<()> {
    let registry = kinds::registry();
    let p = a.pipeline.load(&registry)?;
    let opts = EstimateOptions {
        run: RunOptions {
            targets: a.stages,
            single: a.single,
            force: a.force,
            dry_run: true,
            keep_going: false,
            ignore_code_changes: a.ignore_code_changes,
        },
        assume: a.what_if.assume,
        stand_ins: a.what_if.stand_in,
        probe_steps: a.what_if.probe_steps,
        verbose: !g.quiet,
        wall_clock: a.what_if.wall_clock,
    };
    let e = crate::pipeline::estimate::estimate(&p, &registry, &opts, &g.device)?;
    print!("{}", crate::pipeline::estimate::table(&e));
    if let Some(f) = &a.what_if.estimate_json {
        let text = serde_json::to_string_pretty(&e)? + "\n";
        crate::pipeline::fsutil::write_atomic(f, text.as_bytes())?;
    }
    Ok(())
}

/// Prints each stage: up to date, or stale and why.
pub fn status(a: StatusArgs, _g: &GlobalArgs) -> Result<()> {
    let registry = kinds::registry();
    let p = a.pipeline.load(&registry)?;
    let rows = runner::status(&p, &registry, a.ignore_code_changes)?;
    print!("{}", ui::status_table(&rows));
    Ok(())
}

/// `tinybert stage KIND ARGS...`: the hidden command each rank of a multi-rank stage runs.
#[derive(Debug, clap::Args)]
pub struct StageArgs {
    /// The stage kind.
    pub kind: String,
    /// The job's arguments, as the runner wrote them.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

/// Runs one stage's job from the command line the runner made for it.
pub fn stage(a: StageArgs, g: &GlobalArgs) -> Result<()> {
    let registry = kinds::registry();
    let kind = registry
        .get(&a.kind)
        .ok_or_else(|| anyhow::anyhow!("unknown kind `{}`", a.kind))?;
    let argv: Vec<String> = std::iter::once(a.kind.clone()).chain(a.args).collect();
    kind.run_argv(&argv, &crate::jobs::Ctx::cli(&g.device)?)
}

/// Prints the kinds, or one kind's parameters.
pub fn kinds(a: KindsArgs) -> Result<()> {
    let registry = kinds::registry();
    let Some(name) = a.kind else {
        for name in registry.names() {
            let spec = registry.get(name).expect("listed");
            println!("{name:<16} {}", spec.spec().names());
        }
        return Ok(());
    };
    let Some(kind) = registry.get(&name) else {
        bail!(
            "unknown kind `{name}` (known: {})",
            registry.names().join(", ")
        );
    };
    let mut spec = kind.spec();
    spec.params.sort_by_key(|(_, required, _)| !*required);
    println!(
        "kind `{name}`{}; outputs in `outs`",
        if spec.resumable { " (resumable)" } else { "" }
    );
    for (key, required, help) in &spec.params {
        let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
        let req = if *required { " (required)" } else { "" };
        println!("  {key}{req}: {help}");
    }
    Ok(())
}

/// Prints the stage graph.
pub fn dag(a: DagArgs, _g: &GlobalArgs) -> Result<()> {
    let p = a.pipeline.load(&kinds::registry())?;
    if a.mermaid {
        print!("{}", p.graph.mermaid(&p.stages));
    } else {
        print!("{}", p.graph.text(&p.stages));
    }
    Ok(())
}
