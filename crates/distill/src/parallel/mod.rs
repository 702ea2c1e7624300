//! Synchronous data parallelism, Horovod-style: the N ranks of one job (started by `mpirun` or
//! `srun`) each compute their share of every global batch, the gradients are summed across
//! ranks in one fused buffer ([`Collective::all_reduce_sum`]), and every rank takes the same
//! optimizer step. The trainers see only [`world`]: one process ([`Single`], the default), MPI
//! ranks on CPUs (`mpi` feature) or NCCL on GPUs (`nccl` feature); they never know which.
//!
//! What makes a run's result independent of the number of ranks (see the engine): each global
//! batch holds the same examples as in one process, split into contiguous shards
//! ([`shard`]); every forward pass is padded to the longest sequence of the global batch; each
//! pass's loss is its share of the batch's loss; dropout masks are a function of the seed, the
//! step and each example's position in the global batch. Rank 0 alone writes.

#[cfg(feature = "mpi")]
pub mod mpi;
#[cfg(feature = "nccl")]
pub mod nccl;

use crate::error::{Error, Result};
use candle_core::{DType, Tensor};
use std::ops::Range;
use std::sync::OnceLock;

/// The collective operations of synchronous data parallelism.
pub trait Collective: Send + Sync {
    /// This process's rank, `0..size`.
    fn rank(&self) -> usize;
    /// The number of ranks.
    fn size(&self) -> usize;
    /// The element-wise sum over the ranks of `x` (1-D f32), the same on every rank.
    fn all_reduce_sum(&self, x: &Tensor) -> Result<Tensor>;
    /// Ends the job on every rank (after an error on this one, so that no rank waits forever
    /// for it); does not return.
    fn abort(&self, code: i32) -> !;
    /// What carries the data, for logs and summaries.
    fn describe(&self) -> String;

    /// Waits until every rank has called it.
    fn barrier(&self) -> Result<()> {
        if self.size() > 1 {
            let dev = candle_core::Device::Cpu;
            self.all_reduce_sum(&Tensor::zeros(1, DType::F32, &dev)?)?;
        }
        Ok(())
    }
}

/// One process: nothing to communicate.
pub struct Single;

impl Collective for Single {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn all_reduce_sum(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.clone())
    }
    fn abort(&self, code: i32) -> ! {
        std::process::exit(code)
    }
    fn describe(&self) -> String {
        "one process".into()
    }
}

static WORLD: OnceLock<Box<dyn Collective>> = OnceLock::new();

/// The ranks of this job: what [`set_world`] installed, else [`Single`].
pub fn world() -> &'static dyn Collective {
    WORLD.get_or_init(|| Box::new(Single)).as_ref()
}

/// Installs the job's ranks (once, before any trainer runs).
pub fn set_world(world: Box<dyn Collective>) -> Result<()> {
    WORLD
        .set(world)
        .map_err(|_| Error::Config("the data-parallel world is already set".into()))
}

/// Whether this process writes (rank 0, or the only process).
pub fn is_root() -> bool {
    world().rank() == 0
}

/// This process's rank among the ranks on its machine (the launcher's
/// `OMPI_COMM_WORLD_LOCAL_RANK`, `SLURM_LOCALID`, `MPI_LOCALRANKID` or `PMI_LOCAL_RANK`; 0 when
/// none is set): the GPU a rank takes on a multi-GPU node.
pub fn local_rank() -> usize {
    [
        "OMPI_COMM_WORLD_LOCAL_RANK",
        "SLURM_LOCALID",
        "MPI_LOCALRANKID",
        "PMI_LOCAL_RANK",
    ]
    .iter()
    .find_map(|v| std::env::var(v).ok()?.parse().ok())
    .unwrap_or(0)
}

/// The examples `start..end` of a global batch of `n` that `rank` of `size` computes:
/// contiguous, in rank order, sizes differing by at most one.
pub fn shard(n: usize, rank: usize, size: usize) -> Range<usize> {
    (n * rank / size)..(n * (rank + 1) / size)
}

/// Whether a launcher (`mpirun`, `srun` with PMI or PMIx) started this process as one rank of
/// a job, and how many ranks it says there are when it says so (`OMPI_COMM_WORLD_SIZE`,
/// `PMI_SIZE`; PMIx tells only the rank).
pub fn launched() -> Option<Option<usize>> {
    let var = |v: &str| std::env::var(v).ok();
    let size = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"]
        .iter()
        .find_map(|v| var(v)?.parse().ok());
    match (size, var("PMIX_RANK")) {
        (None, None) => None,
        (size, _) => Some(size),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_the_batch_in_rank_order_and_differ_by_at_most_one() {
        for (n, size) in [(32, 2), (7, 3), (2, 4), (1, 2), (33, 4)] {
            let parts: Vec<Range<usize>> = (0..size).map(|r| shard(n, r, size)).collect();
            assert_eq!(parts[0].start, 0);
            assert_eq!(parts[size - 1].end, n);
            for w in parts.windows(2) {
                assert_eq!(w[0].end, w[1].start);
            }
            let lens: Vec<usize> = parts.iter().map(|p| p.len()).collect();
            let (lo, hi) = (lens.iter().min().unwrap(), lens.iter().max().unwrap());
            assert!(hi - lo <= 1, "{n} over {size}: {lens:?}");
        }
    }
}
