//! Stage kinds: the [`StageKind`] trait, what each declares ([`KindSpec`]), the [`Registry`] the
//! runner looks kinds up in, and the [`StageContext`] a running stage gets.

use super::stage::ResolvedStage;
use anyhow::Result;
use indicatif::MultiProgress;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a stage kind accepts, checked when a pipeline file is loaded (before anything runs).
#[derive(Debug, Clone, Copy)]
pub struct KindSpec {
    /// The `kind = "..."` value.
    pub name: &'static str,
    /// Parameters every stage of this kind must set.
    pub required: &'static [&'static str],
    /// Parameters it may set; any other key is an error naming file, stage and key.
    pub optional: &'static [&'static str],
    /// Whether the stage resumes from what it left in its outputs (a trainer's checkpoints):
    /// after an interrupted attempt with the same inputs and parameters, the runner keeps the
    /// outputs instead of removing them. Otherwise outputs are always removed before a run.
    pub resumable: bool,
}

impl KindSpec {
    /// Whether `key` is a parameter of this kind.
    pub fn allows(&self, key: &str) -> bool {
        self.required.contains(&key) || self.optional.contains(&key)
    }
}

/// A built-in stage kind, executed in process.
pub trait StageKind {
    /// The kind's name and parameters.
    fn spec(&self) -> KindSpec;

    /// Further checks of a stage's parameters at load time (types, ranges), e.g.
    /// `stage.config::<MyConfig>().map(|_| ())`. Errors are prefixed with file and stage.
    fn check(&self, _stage: &ResolvedStage) -> Result<()> {
        Ok(())
    }

    /// Runs the stage: reads `stage.deps`, writes every path in `stage.outs`. The outputs do not
    /// exist when it starts, unless the kind is resumable and an interrupted attempt left them.
    fn run(&self, stage: &ResolvedStage, ctx: &StageContext) -> Result<()>;
}

/// What a running stage gets from the runner.
pub struct StageContext {
    /// Directory the pipeline's relative paths are relative to (absolute).
    pub workdir: PathBuf,
    /// The `--device` the command was given (`cpu`, `cuda`, `cuda:N`).
    pub device: String,
    /// Where a stage adds its own progress bars (`ctx.progress.add(ProgressBar::new(n))`), so
    /// they draw below the runner's line.
    pub progress: MultiProgress,
}

impl StageContext {
    /// A pipeline path (from `deps`, `outs` or a parameter) as a path to open.
    pub fn path(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.workdir.join(p)
        }
    }
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

    /// The kind called `name`.
    pub fn get(&self, name: &str) -> Option<&dyn StageKind> {
        self.kinds.get(name).map(|k| k.as_ref())
    }

    /// Registered kind names, sorted.
    pub fn names(&self) -> Vec<&'static str> {
        self.kinds.keys().copied().collect()
    }
}
