//! `--device cpu|cuda[:N]` to a candle device.

use anyhow::{bail, Context, Result};
use candle_core::Device;

/// Parses a device name; `cuda` needs a binary built with `--features cuda`. `cuda` alone is
/// the GPU of the process's local rank (0 outside a data-parallel job): each rank of a
/// multi-GPU node takes its own.
pub fn parse_device(name: &str) -> Result<Device> {
    match name {
        "cpu" => Ok(Device::Cpu),
        "cuda" => cuda(tinybert_distill::parallel::local_rank()),
        s if s.starts_with("cuda:") => {
            let n: usize = s[5..]
                .parse()
                .with_context(|| format!("--device {s}: `{}` is not a GPU index", &s[5..]))?;
            cuda(n)
        }
        s => bail!("--device {s}: expected cpu, cuda or cuda:N"),
    }
}

fn cuda(n: usize) -> Result<Device> {
    if !candle_core::utils::cuda_is_available() {
        bail!("--device cuda:{n}: this binary was built without the `cuda` feature (cargo build --release --features cuda)");
    }
    Device::new_cuda(n).with_context(|| format!("--device cuda:{n}: cannot open the GPU"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_parses_and_nonsense_is_rejected_with_the_flag_named() {
        assert!(parse_device("cpu").unwrap().is_cpu());
        let err = parse_device("tpu").unwrap_err().to_string();
        assert!(err.contains("--device tpu"), "{err}");
        assert!(parse_device("cuda:x").is_err());
    }
}
