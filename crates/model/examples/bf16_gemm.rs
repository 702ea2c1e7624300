//! GFLOP/s of the bf16 products against the f32 kernels, at BERT-base and MiniLM shapes (dense
//! layers at 32 x 128 tokens, attention products at batch 32, seq 128), and of whole encoder
//! forward passes (every product counted), on 2 threads.
//!
//! ```text
//! cargo run --release -p tinybert-model --example bf16_gemm [-- threads [iterations [only]]]
//! ```
//! `only`: run the rows whose label contains it (e.g. `BERT-base dense`), and of those only the
//! bf16 or f32 side when it ends in ` bf16` or ` f32`.

use candle_core::{Device, Tensor};

// The binary's allocator and setting (src/main.rs): freed memory is kept for reuse, so large
// outputs are not handed fresh (zeroed) pages by the kernel on every call.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
/// mimalloc's `mi_option_purge_delay` (as in src/main.rs).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
use std::sync::Arc;
use std::time::Instant;
use tinybert_model::kernels::{self, bf16};
use tinybert_model::{BertConfig, Model, ModelOptions, Precision};

/// Seconds this process's threads have run on a CPU (Linux `schedstat`; `None` elsewhere): on a
/// shared machine, wall time counts the time other processes hold the cores, this does not.
fn cpu_seconds() -> Option<f64> {
    let mut ns = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        ns += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(ns as f64 * 1e-9)
}

/// Timings of `iters` runs of `f` after one warm-up run.
struct Timing {
    /// Median wall-clock seconds of one run.
    median: f64,
    /// CPU seconds of all runs per run and thread (the workers' busy time; `NaN` if unknown).
    cpu: f64,
}

fn time(iters: usize, threads: usize, mut f: impl FnMut() -> Tensor) -> Timing {
    drop(f());
    let c0 = cpu_seconds();
    let mut t: Vec<f64> = (0..iters)
        .map(|_| {
            let t0 = Instant::now();
            drop(f());
            t0.elapsed().as_secs_f64()
        })
        .collect();
    let cpu = match (c0, cpu_seconds()) {
        (Some(a), Some(b)) => (b - a) / (iters * threads) as f64,
        _ => f64::NAN,
    };
    t.sort_by(f64::total_cmp);
    Timing {
        median: t[t.len() / 2],
        cpu,
    }
}

fn randn(shape: &[usize]) -> candle_core::Result<Tensor> {
    Tensor::randn(0f32, 1.0, shape, &Device::Cpu)
}

fn main() -> candle_core::Result<()> {
    // SAFETY: sets a plain integer option; mimalloc reads it on each purge.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let iters: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let only = args.next().unwrap_or_default();
    let (only, side) = match only.rsplit_once(' ') {
        Some((rest, side @ ("bf16" | "f32"))) => (rest.to_string(), side),
        _ => (only, ""),
    };
    let run =
        |label: &str, which: &str| label.contains(&only) && (side.is_empty() || side == which);
    let skip = || Tensor::zeros(1, candle_core::DType::F32, &Device::Cpu).expect("zeros");
    if !bf16::available() {
        eprintln!("this CPU has no AVX-512 BF16 (or TINYBERT_NO_BF16 is set): nothing to measure");
        return Ok(());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(candle_core::Error::wrap)?;
    pool.install(|| -> candle_core::Result<()> {
        println!(
            "{threads} threads, GFLOP/s from the median wall time of {iters} runs [and from the \
             CPU time per thread]"
        );
        println!("| product | m x k x n | f32 | bf16 | bf16 / f32 |");
        println!("|---|---|---|---|---|");
        let m = 32 * 128;
        for (model, k, n) in [
            ("BERT-base", 768, 768),
            ("BERT-base", 768, 3072),
            ("BERT-base", 3072, 768),
            ("MiniLM", 384, 384),
            ("MiniLM", 384, 1536),
            ("MiniLM", 1536, 384),
        ] {
            let label = format!("{model} dense");
            if !run(&label, "") && !run(&label, "bf16") && !run(&label, "f32") {
                continue;
            }
            let x = randn(&[32, 128, k])?;
            let w = kernels::to_column_major(&(randn(&[n, k])? * 0.05)?)?;
            let b = randn(&[n])?;
            let packed = Arc::new(bf16::PackedBf16::from_weight(&w)?.expect("available"));
            let flop = 2.0 * (m * k * n) as f64;
            let f32_t = time(iters, threads, || match run(&label, "f32") {
                true => kernels::linear(&x, &w, &b).expect("f32 linear"),
                false => skip(),
            });
            let bf16_t = time(iters, threads, || match run(&label, "bf16") {
                true => bf16::linear(&x, &packed, &b).expect("bf16 linear"),
                false => skip(),
            });
            report(&label, &format!("{m} x {k} x {n}"), flop, f32_t, bf16_t);
        }
        for (model, heads, d) in [("BERT-base", 12, 64), ("MiniLM", 12, 32)] {
            let label = format!("{model} attention");
            if !run(&label, "") && !run(&label, "bf16") && !run(&label, "f32") {
                continue;
            }
            let (batch, seq) = (32, 128);
            let h = heads * d;
            let split = |t: &Tensor| -> candle_core::Result<Tensor> {
                t.reshape((batch, seq, heads, d))?.transpose(1, 2)
            };
            let (q, k, v) = (
                split(&randn(&[batch, seq, h])?)?,
                split(&randn(&[batch, seq, h])?)?,
                split(&randn(&[batch, seq, h])?)?,
            );
            let kt = k.t()?;
            let mask = Tensor::zeros((batch, 1, 1, seq), candle_core::DType::F32, &Device::Cpu)?;
            let p = candle_nn::ops::softmax_last_dim(&randn(&[batch, heads, seq, seq])?)?;
            let flop = 2.0 * (batch * heads * seq * seq * d) as f64;
            let scale = 1.0 / (d as f64).sqrt();
            let shape = format!("{} x ({seq} x {d} x {seq})", batch * heads);
            let f32_t = time(iters, threads, || match run(&label, "f32") {
                true => kernels::batched_matmul_add(&q, &kt, scale, &mask).expect("f32"),
                false => skip(),
            });
            let bf16_t = time(iters, threads, || match run(&label, "bf16") {
                true => tinybert_model::kernels::batched_matmul_add_bf16(&q, &kt, scale, &mask)
                    .expect("bf16"),
                false => skip(),
            });
            report(
                &format!("{model} Q K^T + mask"),
                &shape,
                flop,
                f32_t,
                bf16_t,
            );
            let shape = format!("{} x ({seq} x {seq} x {d})", batch * heads);
            let f32_t = time(iters, threads, || match run(&label, "f32") {
                true => kernels::batched_matmul(&p, &v, 1.0).expect("f32"),
                false => skip(),
            });
            let bf16_t = time(iters, threads, || match run(&label, "bf16") {
                true => tinybert_model::kernels::batched_matmul_bf16(&p, &v, 1.0).expect("bf16"),
                false => skip(),
            });
            report(&format!("{model} P V"), &shape, flop, f32_t, bf16_t);
        }
        // Whole encoder forward passes (random weights, frozen): every product of the model.
        for (model, cfg) in [
            ("BERT-base", BertConfig::bert_base()),
            ("MiniLM-L6", BertConfig::student(6, 384, 1536, 12)),
        ] {
            let label = format!("{model} forward");
            if !run(&label, "") && !run(&label, "bf16") && !run(&label, "f32") {
                continue;
            }
            let (batch, seq) = (32, 128);
            let load = |compute| {
                Model::init(
                    &cfg,
                    &ModelOptions {
                        compute,
                        ..Default::default()
                    },
                )
                .map_err(candle_core::Error::wrap)
            };
            let (f32_model, bf16_model) = (load(Precision::F32)?, load(Precision::Bf16)?);
            let ids: Vec<u32> = (0..batch * seq)
                .map(|i| 1000 + (i * 7919) as u32 % 20000)
                .collect();
            let ids = Tensor::from_vec(ids, (batch, seq), &Device::Cpu)?;
            let types = ids.zeros_like()?;
            let mask = ids.ones_like()?;
            let forward = |m: &Model| -> Tensor {
                m.forward_t(&ids, &types, &mask, false)
                    .expect("forward")
                    .sequence_output
            };
            let (h, i, l) = (
                cfg.hidden_size,
                cfg.intermediate_size,
                cfg.num_hidden_layers,
            );
            let flop = (batch * seq * l * (8 * h * h + 4 * h * i + 4 * seq * h)) as f64;
            let f32_t = time(iters, threads, || match run(&label, "f32") {
                true => forward(&f32_model),
                false => skip(),
            });
            let bf16_t = time(iters, threads, || match run(&label, "bf16") {
                true => forward(&bf16_model),
                false => skip(),
            });
            report(
                &label,
                &format!("{batch} x {seq} tokens"),
                flop,
                f32_t,
                bf16_t,
            );
        }
        Ok(())
    })
}

fn report(what: &str, shape: &str, flop: f64, f32_t: Timing, bf16_t: Timing) {
    let g = |t: f64| flop / t / 1e9;
    println!(
        "| {what} | {shape} | {:.0} [{:.0}] | {:.0} [{:.0}] | {:.2} [{:.2}] |",
        g(f32_t.median),
        g(f32_t.cpu),
        g(bf16_t.median),
        g(bf16_t.cpu),
        f32_t.median / bf16_t.median,
        f32_t.cpu / bf16_t.cpu,
    );
}
