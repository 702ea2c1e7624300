//! Subnormal floats flushed to zero. A product whose operands or result are subnormal
//! (|x| < 1.2e-38 in f32) takes a microcode assist on x86-64 CPUs that costs about a hundred
//! normal operations. Padded batches produce such values in the backward pass, and on an AMD
//! EPYC with AVX-512 they made a random-order STS-B fine-tuning step 33x slower (1.1 against 37
//! examples/s, docs/performance.md). Flushing changes results only below 1.2e-38.

/// Sets the calling thread's floating-point control flags (MXCSR) to flush subnormal results to
/// zero and to read subnormal inputs as zero (FTZ and DAZ, as PyTorch's
/// `torch.set_flush_denormal(True)`). A no-op on other architectures. Each compute thread needs
/// it: the main thread and every rayon worker ([`flushing_thread_pool`]).
pub fn flush_subnormals() {
    #[cfg(target_arch = "x86_64")]
    #[allow(deprecated)] // the intrinsics are deprecated in favour of inline assembly
    // SAFETY: changes only this thread's SSE control register; FTZ and DAZ are valid on every
    // x86-64 CPU with SSE3, which Rust's x86-64 targets assume for these bits to be honoured.
    unsafe {
        use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
        const FTZ: u32 = 0x8000;
        const DAZ: u32 = 0x0040;
        _mm_setcsr(_mm_getcsr() | FTZ | DAZ);
    }
}

/// A rayon pool builder whose workers flush subnormals ([`flush_subnormals`]) as they start:
/// every pool that runs the kernels is built from it.
pub fn flushing_thread_pool() -> rayon::ThreadPoolBuilder {
    rayon::ThreadPoolBuilder::new().start_handler(|_| flush_subnormals())
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::flush_subnormals;
    use std::hint::black_box;

    #[test]
    fn flush_subnormals_makes_subnormal_results_and_inputs_zero() {
        // A fresh thread, so that the test harness's thread keeps its flags.
        std::thread::spawn(|| {
            let tiny = black_box(1e-30f32);
            assert!(
                (tiny * black_box(1e-10f32)) > 0.0,
                "subnormal before flushing"
            );
            let subnormal = black_box(1e-40f32);
            flush_subnormals();
            assert_eq!(
                tiny * black_box(1e-10f32),
                0.0,
                "FTZ: a subnormal product is zero"
            );
            assert_eq!(
                subnormal * black_box(1e10f32),
                0.0,
                "DAZ: a subnormal input reads as zero"
            );
            assert_eq!(black_box(1.5f32) * black_box(2.0f32), 3.0);
        })
        .join()
        .unwrap();
    }
}
