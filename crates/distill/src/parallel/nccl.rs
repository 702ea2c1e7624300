//! NCCL ranks (the `nccl` feature, with `cuda`): MPI starts the ranks (one GPU each) and
//! carries NCCL's unique id from rank 0 to the others; a fused gradient buffer on the GPU is
//! summed by one `ncclAllReduce`, without a copy to host memory. Tensors in host memory (a dev
//! score, cached teacher logits, a barrier) go through MPI.

use super::mpi::Mpi;
use super::Collective;
use crate::error::{Error, Result};
use candle_core::backend::BackendStorage;
use candle_core::cuda::cudarc::nccl::{Comm, Id, ReduceOp};
use candle_core::{CpuStorage, CudaStorage, CustomOp1, Layout, Shape, Tensor};
use std::sync::{Arc, Mutex};

/// MPI for starting, NCCL for the GPU buffers.
pub struct Nccl {
    mpi: Mpi,
    /// Made at the first GPU buffer, on its device's stream (every rank reaches that call at
    /// the same step).
    comm: Mutex<Option<Arc<SharedComm>>>,
}

/// The NCCL communicator, used by one call at a time.
struct SharedComm(Mutex<Comm>);

// SAFETY: the communicator is only used under its mutex, and every rank issues its collective
// calls in the same order from one thread at a time.
unsafe impl Send for SharedComm {}
unsafe impl Sync for SharedComm {}

impl Nccl {
    /// NCCL over the ranks of `mpi`.
    pub fn new(mpi: Mpi) -> Self {
        Self {
            mpi,
            comm: Mutex::new(None),
        }
    }

    /// The communicator for the GPU of `x`, made on first use.
    fn comm(&self, x: &Tensor) -> Result<Arc<SharedComm>> {
        let mut slot = self.comm.lock().expect("NCCL communicator poisoned");
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let device = x.device().as_cuda_device()?;
        let mut id = [0 as std::ffi::c_char; 128];
        if self.mpi.rank() == 0 {
            let new = Id::new().map_err(|e| Error::Config(format!("NCCL unique id: {e:?}")))?;
            id = *new.internal();
        }
        self.mpi.broadcast_from_root(&mut id);
        let comm = Comm::from_rank(
            device.cuda_stream(),
            self.mpi.rank(),
            self.mpi.size(),
            Id::uninit(id),
        )
        .map_err(|e| Error::Config(format!("NCCL communicator: {e:?}")))?;
        let comm = Arc::new(SharedComm(Mutex::new(comm)));
        *slot = Some(comm.clone());
        Ok(comm)
    }
}

impl Collective for Nccl {
    fn rank(&self) -> usize {
        self.mpi.rank()
    }

    fn size(&self) -> usize {
        self.mpi.size()
    }

    fn all_reduce_sum(&self, x: &Tensor) -> Result<Tensor> {
        if !x.device().is_cuda() {
            return self.mpi.all_reduce_sum(x);
        }
        let op = AllReduce {
            comm: self.comm(x)?,
        };
        Ok(x.to_dtype(candle_core::DType::F32)?
            .contiguous()?
            .apply_op1_no_bwd(&op)?)
    }

    fn abort(&self, code: i32) -> ! {
        self.mpi.abort(code)
    }

    fn describe(&self) -> String {
        format!(
            "{} NCCL ranks, started by {}",
            self.size(),
            self.mpi.describe()
        )
    }
}

/// The element-wise sum over the ranks of an f32 buffer on the GPU.
struct AllReduce {
    comm: Arc<SharedComm>,
}

impl CustomOp1 for AllReduce {
    fn name(&self) -> &'static str {
        "nccl-all-reduce"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        candle_core::bail!("nccl-all-reduce takes GPU tensors only")
    }

    fn cuda_fwd(&self, s: &CudaStorage, l: &Layout) -> candle_core::Result<(CudaStorage, Shape)> {
        let Some((start, end)) = l.contiguous_offsets() else {
            candle_core::bail!("nccl-all-reduce needs a contiguous buffer")
        };
        let src = s.as_cuda_slice::<f32>()?.slice(start..end);
        let device = s.device().clone();
        // SAFETY: every element is written by the all-reduce before it is read.
        let mut dst = unsafe { device.alloc::<f32>(end - start) }?;
        let comm = self.comm.0.lock().expect("NCCL communicator poisoned");
        comm.all_reduce(&src, &mut dst, &ReduceOp::Sum)
            .map_err(|e| candle_core::Error::Msg(format!("ncclAllReduce: {e:?}")))?;
        Ok((CudaStorage::wrap_cuda_slice(dst, device), l.shape().clone()))
    }
}
