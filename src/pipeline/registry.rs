//! Stage kinds: the [`StageKind`] trait the runner calls, what a kind declares ([`KindSpec`]),
//! the [`Registry`] kinds are looked up in, and [`JobKind`], which makes every
//! [job](crate::jobs) a kind: its parameters are the job's arguments, a stage's table is parsed
//! by the job's own clap declaration, and running it runs the job.

use super::paths;
use super::stage::ResolvedStage;
use crate::jobs::{self, argv, Ctx, Input, Job, JobArgs};
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Command, FromArgMatches};
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::path::Path;
use tinybert_data::own_task::task_file_data;

/// What a stage kind accepts, checked when a pipeline file is loaded (before anything runs).
#[derive(Debug, Clone)]
pub struct KindSpec {
    /// The `kind = "..."` value.
    pub name: &'static str,
    /// Parameters: `(key, required, help)`. Any other key is an error naming file, stage, key.
    pub params: Vec<(String, bool, String)>,
    /// Whether the stage resumes from what it left in its outputs (a trainer's checkpoints):
    /// after an interrupted attempt with the same inputs and parameters, the runner keeps the
    /// outputs instead of removing them. Otherwise outputs are always removed before a run.
    pub resumable: bool,
    /// Whether a stage may run as several data-parallel ranks (`ranks = N`).
    pub data_parallel: bool,
}

impl KindSpec {
    /// Whether `key` is a parameter of this kind.
    pub fn allows(&self, key: &str) -> bool {
        self.params.iter().any(|(k, _, _)| k == key)
    }

    /// The parameters every stage of this kind must set.
    pub fn required(&self) -> impl Iterator<Item = &str> {
        self.params
            .iter()
            .filter(|(_, r, _)| *r)
            .map(|(k, _, _)| k.as_str())
    }

    /// The parameter names, sorted, comma-separated.
    pub fn names(&self) -> String {
        let mut names: Vec<&str> = self.params.iter().map(|(k, _, _)| k.as_str()).collect();
        names.sort_unstable();
        names.join(", ")
    }
}

/// A stage kind, executed in process.
pub trait StageKind {
    /// The kind's name and parameters.
    fn spec(&self) -> KindSpec;

    /// Checks a stage's parameters at load time (types, ranges, inputs); `workdir` is the
    /// folder its relative paths are relative to. Errors are prefixed with file and stage.
    fn check(&self, _stage: &ResolvedStage, _workdir: &Path) -> Result<()> {
        Ok(())
    }

    /// Runs the stage: reads `stage.deps`, writes every path in `stage.outs`. The outputs do not
    /// exist when it starts, unless the kind is resumable and an interrupted attempt left them.
    fn run(&self, stage: &ResolvedStage, ctx: &Ctx) -> Result<()>;

    /// For a trainer kind: the stage's plan (configuration, training set), for `--estimate`.
    fn training(
        &self,
        _stage: &ResolvedStage,
        _ctx: &Ctx,
    ) -> Result<Option<jobs::train::TrainingPlan>> {
        Ok(None)
    }

    /// The identity of the code that computes this kind's outputs (see
    /// [`super::code`]): a stage computed by other code is stale.
    fn code(&self) -> String;

    /// The stage as its job's command line (the kind's name first), for a stage started as
    /// several processes (`ranks`); each runs it with [`StageKind::run_argv`].
    fn argv(&self, stage: &ResolvedStage) -> Result<Vec<String>> {
        bail!(
            "stage `{}`: kind `{}` has no command line",
            stage.name,
            stage.kind
        )
    }

    /// Runs the job of a command line made by [`StageKind::argv`].
    fn run_argv(&self, _argv: &[String], _ctx: &Ctx) -> Result<()> {
        bail!("kind `{}` has no command line", self.spec().name)
    }
}

/// A [job](crate::jobs) as a stage kind.
pub struct JobKind<J>(PhantomData<fn() -> J>);

impl<J: Job> JobKind<J> {
    pub fn new() -> Self {
        Self(PhantomData)
    }

    fn command() -> Command {
        JobArgs::<J>::augment_args(Command::new(J::KIND))
    }

    /// The job a stage describes: its table parsed as the job's command-line flags.
    pub fn parse(stage: &ResolvedStage) -> Result<JobArgs<J>> {
        let cmd = Self::command();
        let argv = argv::stage_args(&cmd, &stage.params, Some(stage.out()?))?;
        let m = cmd
            .clone()
            .try_get_matches_from(argv)
            .map_err(|e| argv::stage_error(&cmd, &e))?;
        JobArgs::<J>::from_arg_matches(&m).map_err(|e| argv::stage_error(&cmd, &e))
    }
}

impl<J: Job> StageKind for JobKind<J> {
    fn spec(&self) -> KindSpec {
        KindSpec {
            name: J::KIND,
            params: argv::params(&Self::command()),
            resumable: J::RESUMABLE,
            data_parallel: J::DATA_PARALLEL,
        }
    }

    fn check(&self, stage: &ResolvedStage, workdir: &Path) -> Result<()> {
        let job = Self::parse(stage)?.job;
        job.validate()?;
        for input in job.inputs() {
            match input {
                Input::Path(key, p) => require_input(stage, key, &p)?,
                // A task file and the data files it names (unless another stage makes it).
                Input::TaskFile(key, f) => {
                    require_input(stage, key, f)?;
                    if workdir.join(f).is_file() {
                        let dir = Path::new(f).parent().unwrap_or(Path::new(""));
                        for data in task_file_data(&workdir.join(f))? {
                            let p = dir.join(&data);
                            require_input(stage, key, &p.to_string_lossy())
                                .with_context(|| format!("`{data}`, named in the task file {f}"))?;
                        }
                    }
                }
                // A model that is not a local folder is a hub id or a preset.
                Input::Model(key, m) => {
                    if jobs::looks_like_path(m) || workdir.join(m).exists() {
                        require_input(stage, key, m)?
                    }
                }
            }
        }
        Ok(())
    }

    fn run(&self, stage: &ResolvedStage, ctx: &Ctx) -> Result<()> {
        jobs::execute(&Self::parse(stage)?, ctx)
    }

    fn argv(&self, stage: &ResolvedStage) -> Result<Vec<String>> {
        argv::stage_args(&Self::command(), &stage.params, Some(stage.out()?))
    }

    fn run_argv(&self, argv: &[String], ctx: &Ctx) -> Result<()> {
        let cmd = Self::command();
        let m = cmd
            .clone()
            .try_get_matches_from(argv)
            .map_err(|e| argv::stage_error(&cmd, &e))?;
        let args = JobArgs::<J>::from_arg_matches(&m).map_err(|e| argv::stage_error(&cmd, &e))?;
        jobs::execute(&args, ctx)
    }

    fn training(
        &self,
        stage: &ResolvedStage,
        ctx: &Ctx,
    ) -> Result<Option<jobs::train::TrainingPlan>> {
        Self::parse(stage)?.job.training(ctx)
    }

    fn code(&self) -> String {
        super::code::of_kind(J::KIND)
    }
}

/// Check that path parameter `key` (value `path`) is one of the stage's inputs or lies inside
/// one, so that the lock file notices when it changes.
pub fn require_input(stage: &ResolvedStage, key: &str, path: &str) -> Result<()> {
    let n = paths::normalize(path).map_err(|e| anyhow!("parameter `{key}`: {e}"))?;
    if stage.deps.iter().any(|d| paths::is_within(&n, d)) {
        return Ok(());
    }
    bail!(
        "parameter `{key}`: `{path}` is not among the stage's inputs: add it (or a folder holding it) to `deps`, or refer to a stage output with `${{stages.NAME.out}}`"
    )
}

/// The stage kinds a build knows, by name.
#[derive(Default)]
pub struct Registry {
    kinds: BTreeMap<&'static str, Box<dyn StageKind>>,
}

impl Registry {
    /// Adds a kind. Two kinds with one name is a programming error and panics.
    pub fn add(&mut self, kind: impl StageKind + 'static) -> &mut Self {
        let name = kind.spec().name;
        let previous = self.kinds.insert(name, Box::new(kind));
        assert!(previous.is_none(), "stage kind `{name}` registered twice");
        self
    }

    /// Adds the kind of job `J`.
    pub fn job<J: Job + 'static>(&mut self) -> &mut Self {
        self.add(JobKind::<J>::new())
    }

    /// The kind called `name`.
    pub fn get(&self, name: &str) -> Option<&dyn StageKind> {
        self.kinds.get(name).map(|k| k.as_ref())
    }

    /// Registered kind names, sorted.
    pub fn names(&self) -> Vec<&'static str> {
        self.kinds.keys().copied().collect()
    }
}
