//! MPI ranks (the `mpi` feature): `mpirun -np N tinybert ...` or `srun` on a Slurm cluster
//! starts N processes; each joins `MPI_COMM_WORLD`, and the gradient sum is one
//! `MPI_Allreduce` of the fused buffer (host memory; Open MPI or MPICH).

use super::Collective;
use crate::error::{Error, Result};
use candle_core::Tensor;
use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use mpi::Threading;
use std::sync::Mutex;

/// Keeps MPI initialised; dropping it finalises MPI (after the last collective call).
pub struct MpiGuard {
    _universe: Universe,
}

/// `MPI_COMM_WORLD`, one call at a time.
pub struct Mpi {
    comm: Mutex<SimpleCommunicator>,
    rank: usize,
    size: usize,
    version: String,
}

// SAFETY: MPI is initialised with `MPI_THREAD_SERIALIZED` (checked in `init`): any thread may
// call MPI as long as no two calls overlap, which the mutex ensures.
unsafe impl Send for Mpi {}
unsafe impl Sync for Mpi {}

/// Initialises MPI and returns the world and the guard that finalises it.
pub fn init() -> Result<(Mpi, MpiGuard)> {
    let (universe, level) = mpi::initialize_with_threading(Threading::Serialized)
        .ok_or_else(|| Error::Config("MPI was already initialised".into()))?;
    if level < Threading::Serialized {
        return Err(Error::Config(format!(
            "the MPI library offers thread level {level:?}; the trainers need Serialized"
        )));
    }
    let world = universe.world();
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    let version = mpi::environment::library_version()
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or("MPI")
        .trim_end_matches(['\0', ','])
        .to_string();
    let mpi = Mpi {
        comm: Mutex::new(world),
        rank,
        size,
        version,
    };
    Ok((
        mpi,
        MpiGuard {
            _universe: universe,
        },
    ))
}

impl Mpi {
    /// Rank 0's `buf`, copied into every rank's.
    pub fn broadcast_from_root(&self, buf: &mut [std::ffi::c_char]) {
        let comm = self.comm.lock().expect("MPI communicator poisoned");
        comm.process_at_rank(0).broadcast_into(buf);
    }
}

impl Collective for Mpi {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn all_reduce_sum(&self, x: &Tensor) -> Result<Tensor> {
        let send: Vec<f32> = x.to_dtype(candle_core::DType::F32)?.to_vec1()?;
        let mut recv = vec![0f32; send.len()];
        let comm = self.comm.lock().expect("MPI communicator poisoned");
        comm.all_reduce_into(&send[..], &mut recv[..], SystemOperation::sum());
        Ok(Tensor::from_vec(recv, send.len(), x.device())?)
    }

    fn abort(&self, code: i32) -> ! {
        let comm = self.comm.lock().expect("MPI communicator poisoned");
        comm.abort(code)
    }

    fn describe(&self) -> String {
        format!("{} MPI ranks ({})", self.size, self.version)
    }
}
