//! Differentiable building blocks: linear layers with BERT initialisation, LayerNorm (our fused
//! kernel: candle's fused one has no backward pass), seeded dropout, and activations.

use crate::kernels::bf16::PackedBf16;
use candle_core::{Module, Result, Tensor};
use candle_nn::{Init, VarBuilder};
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// BERT's initialisation of dense and embedding weights: N(0, 0.02).
pub fn bert_init(std: f64) -> Init {
    Init::Randn {
        mean: 0.0,
        stdev: std,
    }
}

/// `y = x W^T + b` with HF names `weight` [out, in] and `bias` [out].
///
/// A frozen layer of a model computing in bf16 also holds `W^T` packed for the bf16 products
/// ([`Linear::pack_bf16`]); its forward pass then uses them for inputs that need no gradient.
#[derive(Debug, Clone)]
pub struct Linear {
    pub weight: Tensor,
    pub bias: Tensor,
    packed: Option<Arc<PackedBf16>>,
}

impl Linear {
    /// Loads (or initialises: N(0, std) weight, zero bias) a linear layer.
    pub fn load(vb: VarBuilder, in_dim: usize, out_dim: usize, std: f64) -> Result<Self> {
        let weight = vb.get_with_hints((out_dim, in_dim), "weight", bert_init(std))?;
        let bias = vb.get_with_hints(out_dim, "bias", Init::Const(0.0))?;
        Ok(Self {
            weight,
            bias,
            packed: None,
        })
    }

    /// Packs a frozen weight (not a `Var`) for the bf16 products; returns the number of packed
    /// weights, 1 or 0 (trainable weights, other devices and dtypes, and CPUs without AVX-512
    /// BF16 stay f32).
    pub fn pack_bf16(&mut self) -> Result<usize> {
        if self.packed.is_none() && !self.weight.is_variable() {
            self.packed = PackedBf16::from_weight(&self.weight)?.map(Arc::new);
        }
        Ok(usize::from(self.packed.is_some()))
    }

    /// True when the forward pass uses bf16 products (for inputs that need no gradient).
    pub fn is_bf16(&self) -> bool {
        self.packed.is_some()
    }
}

impl Module for Linear {
    /// # Shapes
    /// `x`: [..., in] -> [..., out]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match &self.packed {
            Some(p) if crate::kernels::bf16::takes(x) => {
                crate::kernels::bf16::linear(x, p, &self.bias)
            }
            _ => crate::kernels::linear(x, &self.weight, &self.bias),
        }
    }
}

/// LayerNorm over the last dimension, composed of differentiable primitives.
#[derive(Debug, Clone)]
pub struct LayerNorm {
    pub weight: Tensor,
    pub bias: Tensor,
    pub eps: f64,
}

impl LayerNorm {
    /// Loads `weight`/`bias` (old checkpoints' `gamma`/`beta` are renamed on load).
    pub fn load(vb: VarBuilder, dim: usize, eps: f64) -> Result<Self> {
        let weight = vb.get_with_hints(dim, "weight", Init::Const(1.0))?;
        let bias = vb.get_with_hints(dim, "bias", Init::Const(0.0))?;
        Ok(Self { weight, bias, eps })
    }
}

impl Module for LayerNorm {
    /// # Shapes
    /// `x`: [..., dim] -> [..., dim]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        crate::kernels::layer_norm(x, &self.weight, &self.bias, self.eps)
    }
}

/// The activation named by `hidden_act`, of a layer's fresh output (overwritten in place when it
/// needs no gradient).
pub fn activation(name: &str, x: Tensor) -> Result<Tensor> {
    match name {
        "gelu" => crate::kernels::gelu_erf_owned(x),
        "gelu_new" => x.gelu(),
        "relu" => x.relu(),
        other => candle_core::bail!("unsupported hidden_act `{other}`"),
    }
}

/// Seeded inverted dropout. Each dropout site of a forward pass takes the next seed of one
/// stream owned by the model, and an entry's mask is a hash of that seed, the entry's example
/// (its row: the tensor's first dimension, numbered from [`DropoutRng::set_first_row`]) and
/// its place in the example ([`crate::kernels::dropout`]). So a pass reseeded with
/// [`DropoutRng::reseed`] draws the same masks again (exact resume), and an example draws the
/// same mask whether its batch is computed whole or in parts (micro-batches, data-parallel
/// ranks), each part numbered by its first example's position in the batch.
#[derive(Debug)]
pub struct DropoutRng {
    rng: Mutex<rand::rngs::StdRng>,
    first_row: AtomicU64,
}

impl Default for DropoutRng {
    fn default() -> Self {
        Self::new(0)
    }
}

impl DropoutRng {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Mutex::new(rand::rngs::StdRng::seed_from_u64(seed)),
            first_row: AtomicU64::new(0),
        }
    }

    /// Restarts the seed stream from `seed`.
    pub fn reseed(&self, seed: u64) {
        *self.rng.lock().expect("dropout rng poisoned") = rand::rngs::StdRng::seed_from_u64(seed);
    }

    /// The position in the whole batch of the next passes' first example.
    pub fn set_first_row(&self, row: usize) {
        self.first_row.store(row as u64, Ordering::Relaxed);
    }

    /// Zeroes each entry with probability `p` and scales the rest by 1/(1-p), with the mask of
    /// the next seed of the stream: fused on the CPU (f32), built on the CPU and uploaded
    /// elsewhere (the same entries are dropped on every device).
    pub fn apply(&self, x: &Tensor, p: f64) -> Result<Tensor> {
        if p <= 0.0 {
            return Ok(x.clone());
        }
        let seed: u64 = self.rng.lock().expect("dropout rng poisoned").random();
        let first_row = self.first_row.load(Ordering::Relaxed);
        if let Some(y) = crate::kernels::dropout(x, p as f32, seed, first_row)? {
            return Ok(y);
        }
        let mask = crate::kernels::dropout_mask(x.shape(), p as f32, seed, first_row);
        let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
        x.mul(&mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device, Var};

    #[test]
    fn layer_norm_matches_the_definition_and_passes_gradients_to_its_input() {
        let dev = Device::Cpu;
        let x = Var::from_vec(vec![1f32, 2., 4., -1., 0., 3.], (2, 3), &dev).unwrap();
        let ln = LayerNorm {
            weight: Tensor::new(&[1f32, 2., 0.5], &dev).unwrap(),
            bias: Tensor::new(&[0f32, 1., -1.], &dev).unwrap(),
            eps: 1e-12,
        };
        let y = ln.forward(x.as_tensor()).unwrap();
        let row: Vec<f32> = y.get(0).unwrap().to_vec1().unwrap();
        let (m, v) = (
            7.0f32 / 3.0,
            ((1.0f32 - 7. / 3.).powi(2) + (2.0f32 - 7. / 3.).powi(2) + (4.0f32 - 7. / 3.).powi(2))
                / 3.0,
        );
        let want = [
            (1. - m) / v.sqrt(),
            2. * (2. - m) / v.sqrt() + 1.,
            0.5 * (4. - m) / v.sqrt() - 1.,
        ];
        for (a, b) in row.iter().zip(want) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        let grads = (y.sqr().unwrap().sum_all().unwrap()).backward().unwrap();
        let g = grads
            .get(x.as_tensor())
            .expect("LayerNorm input must get a gradient");
        assert!(
            g.abs()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
                > 0.0
        );
    }

    #[test]
    fn dropout_is_reproducible_after_reseeding_and_keeps_the_expectation() {
        let x = Tensor::ones((1000,), DType::F32, &Device::Cpu).unwrap();
        let rng = DropoutRng::new(7);
        let a: Vec<f32> = rng.apply(&x, 0.1).unwrap().to_vec1().unwrap();
        rng.reseed(7);
        let b: Vec<f32> = rng.apply(&x, 0.1).unwrap().to_vec1().unwrap();
        assert_eq!(a, b);
        let zeros = a.iter().filter(|v| **v == 0.0).count();
        assert!((50..150).contains(&zeros), "{zeros} zeros of 1000 at p=0.1");
        let mean: f32 = a.iter().sum::<f32>() / 1000.0;
        assert!((mean - 1.0).abs() < 0.05);
    }
}
