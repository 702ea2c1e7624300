//! Stages with `ranks = N`: the runner starts the stage's job as N processes through the MPI
//! launcher (`mpirun -np N`, or the command in `TINYBERT_MPIRUN`, e.g. `srun -n {ranks}` on a
//! Slurm cluster; `{ranks}` is replaced by N), each running `tinybert stage KIND ARGS...`; the
//! binary must be built with the `mpi` feature. The job's data-parallel ranks then train as one
//! (`tinybert_distill::parallel`), and rank 0 writes the stage's output.

use super::registry::StageKind;
use super::stage::ResolvedStage;
use crate::jobs::Ctx;
use anyhow::{bail, Context, Result};
use std::process::Command;

/// The variable holding the launcher command.
pub const LAUNCHER_ENV: &str = "TINYBERT_MPIRUN";

/// The launcher when `TINYBERT_MPIRUN` is not set.
const DEFAULT_LAUNCHER: &str = "mpirun -np {ranks}";

/// The command that starts this executable as `ranks` processes: the launcher's words, then
/// this executable (its arguments are the caller's to add).
pub fn launcher(ranks: usize) -> Result<Command> {
    let text = std::env::var(LAUNCHER_ENV).unwrap_or_else(|_| DEFAULT_LAUNCHER.into());
    let n = ranks.to_string();
    let mut words = text.split_whitespace().map(|w| w.replace("{ranks}", &n));
    let Some(program) = words.next() else {
        bail!("{LAUNCHER_ENV} is empty");
    };
    let exe = std::env::current_exe().context("cannot find the tinybert executable")?;
    let mut cmd = Command::new(program);
    cmd.args(words).arg(exe);
    Ok(cmd)
}

/// Runs `cmd` (made by [`launcher`]) to the end; `what` names it in errors.
pub fn wait(mut cmd: Command, what: &str) -> Result<()> {
    tracing::info!("{what}: {cmd:?}");
    let program = cmd.get_program().to_string_lossy().to_string();
    let status = cmd.status().with_context(|| {
        format!(
            "{what}: cannot start the MPI launcher `{program}` (install Open MPI, or set \
             {LAUNCHER_ENV}, e.g. \"srun -n {{ranks}}\")"
        )
    })?;
    if !status.success() {
        bail!("{what}: its ranks failed ({status}; launcher `{program}`)");
    }
    Ok(())
}

/// Runs stage `s` of `kind` as `s.ranks` processes and waits for them.
pub fn launch(kind: &dyn StageKind, s: &ResolvedStage, ctx: &Ctx) -> Result<()> {
    let mut cmd = launcher(s.ranks)?;
    cmd.args(["--device", &ctx.device_name, "stage"])
        .args(kind.argv(s)?);
    if !ctx.workdir.as_os_str().is_empty() {
        cmd.current_dir(&ctx.workdir);
    }
    wait(cmd, &format!("stage `{}` (ranks = {})", s.name, s.ranks))
}
