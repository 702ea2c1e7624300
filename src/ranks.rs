//! Joining the ranks of a data-parallel job: a process that `mpirun` (or `srun`) started as
//! one of several joins MPI's world before any job runs (the `mpi` feature), and only rank 0
//! draws progress bars and prints results. A build without the feature refuses to run as one
//! of several ranks: each would train alone and overwrite the others' output.

use anyhow::Result;
use tinybert_distill::parallel;

/// What must live until the process ends (MPI is finalised when it is dropped).
pub struct Guard {
    #[cfg(feature = "mpi")]
    _mpi: Option<parallel::mpi::MpiGuard>,
}

/// Joins the job's ranks when a launcher started this process.
#[cfg(feature = "mpi")]
pub fn init() -> Result<Guard> {
    if parallel::launched().is_none() {
        return Ok(Guard { _mpi: None });
    }
    let (world, guard) = parallel::mpi::init()?;
    if parallel::Collective::rank(&world) != 0 {
        crate::progress::multi().set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    // GPU buffers are summed by NCCL when the build has it, host buffers by MPI.
    #[cfg(feature = "nccl")]
    let world = parallel::nccl::Nccl::new(world);
    parallel::set_world(Box::new(world))?;
    Ok(Guard { _mpi: Some(guard) })
}

/// Refuses to run as one of several ranks (this build has no MPI).
#[cfg(not(feature = "mpi"))]
pub fn init() -> Result<Guard> {
    let rank = std::env::var("PMIX_RANK")
        .ok()
        .and_then(|r| r.parse::<usize>().ok());
    match parallel::launched() {
        Some(Some(n)) if n > 1 => refuse(&format!("one of {n} ranks")),
        Some(_) if rank.is_some_and(|r| r > 0) => refuse("one of several ranks"),
        _ => Ok(Guard {}),
    }
}

#[cfg(not(feature = "mpi"))]
fn refuse(what: &str) -> Result<Guard> {
    anyhow::bail!(
        "this tinybert was built without the `mpi` feature, but the launcher started it as \
         {what}: each would train alone and overwrite the others' output; build it with \
         `cargo build --release --features mpi` (needs Open MPI or MPICH), or run one process"
    )
}

/// Ends the job after an error on this rank: with several ranks, MPI aborts every rank (none
/// is left waiting for this one); otherwise the process exits.
pub fn fail(code: i32) -> ! {
    let world = parallel::world();
    if world.size() > 1 {
        world.abort(code)
    }
    std::process::exit(code)
}
