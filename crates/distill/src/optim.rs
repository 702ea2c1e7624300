//! BertAdam (SPEC §3): Adam without bias correction, decoupled weight decay added to the update
//! (not on `bias`/`LayerNorm` parameters), gradient-norm clipping per parameter tensor, and the
//! `warmup_linear` or constant learning-rate schedule evaluated at the step before increment.
//!
//! Every step first computes each gradient's norm (clipping needs it anyway) and refuses the
//! whole step, before touching any parameter or moment, when one is NaN or infinite
//! ([`BertAdam::try_step`]): a non-finite gradient would make the clip coefficient NaN and
//! poison the weights.

use crate::error::{Error, Result};
use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, DType, Device, Storage, Tensor, Var};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// Learning-rate schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// Linear warm-up over `warmup`·t_total steps, then linear decay to 0 at t_total.
    #[default]
    WarmupLinear,
    /// The base learning rate throughout.
    Constant,
}

/// BertAdam hyper-parameters with the reference defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BertAdamConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    /// Per-tensor gradient-norm clip (<= 0 disables).
    pub max_grad_norm: f64,
    /// Warm-up proportion of t_total.
    pub warmup: f64,
    pub schedule: Schedule,
    /// Multiplier of the learning rate for the task head: the pooler and the classifier
    /// (parameters named `pooler.*` and `classifier.*`). A checkpoint whose pooler took no part
    /// in its pre-training (a sentence encoder's) leaves its constant prediction sooner with a
    /// larger one.
    pub head_lr_scale: f64,
}

impl Default for BertAdamConfig {
    fn default() -> Self {
        Self {
            lr: 5e-5,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-6,
            weight_decay: 0.01,
            max_grad_norm: 1.0,
            warmup: 0.1,
            schedule: Schedule::WarmupLinear,
            head_lr_scale: 1.0,
        }
    }
}

/// `warmup_linear(progress, warmup)` of the reference code.
pub fn warmup_linear(progress: f64, warmup: f64) -> f64 {
    if progress < warmup {
        progress / warmup
    } else {
        ((progress - 1.0) / (warmup - 1.0)).max(0.0)
    }
}

struct ParamState {
    name: String,
    var: Var,
    m: Tensor,
    v: Tensor,
    decay: bool,
    /// Multiplier of the step's learning rate for this parameter.
    lr_scale: f64,
}

/// What [`BertAdam::try_step`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum StepOutcome {
    /// The update was applied with this learning rate.
    Applied { lr: f64 },
    /// The gradient of `param` (the first in parameter order) has a NaN or infinite norm;
    /// nothing was updated and the step counter did not move.
    NonFinite { param: String, norm: f64 },
}

/// The optimizer and its state (moments and step), which can be saved and restored.
pub struct BertAdam {
    cfg: BertAdamConfig,
    t_total: usize,
    step: usize,
    params: Vec<ParamState>,
}

/// True for parameters that get weight decay (not biases, not LayerNorm).
pub fn decays(name: &str) -> bool {
    !(name.contains("bias") || name.contains("LayerNorm"))
}

/// True for the task head's parameters (pooler and classifier), which get
/// [`BertAdamConfig::head_lr_scale`].
pub fn is_head(name: &str) -> bool {
    name.starts_with("pooler.") || name.starts_with("classifier.")
}

impl BertAdam {
    /// `t_total`: total optimizer steps of the run (for the schedule).
    pub fn new(vars: Vec<(String, Var)>, cfg: BertAdamConfig, t_total: usize) -> Result<Self> {
        let params = vars
            .into_iter()
            .map(|(name, var)| {
                let m = var.as_tensor().zeros_like()?.to_dtype(DType::F32)?;
                let v = m.clone();
                Ok(ParamState {
                    decay: decays(&name),
                    lr_scale: if is_head(&name) {
                        cfg.head_lr_scale
                    } else {
                        1.0
                    },
                    name,
                    var,
                    m,
                    v,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            cfg,
            t_total: t_total.max(1),
            step: 0,
            params,
        })
    }

    pub fn config(&self) -> &BertAdamConfig {
        &self.cfg
    }

    /// Optimizer steps taken so far.
    pub fn step_count(&self) -> usize {
        self.step
    }

    /// The learning rate the next step will use.
    pub fn current_lr(&self) -> f64 {
        let factor = match self.cfg.schedule {
            Schedule::Constant => 1.0,
            Schedule::WarmupLinear => {
                warmup_linear(self.step as f64 / self.t_total as f64, self.cfg.warmup)
            }
        };
        self.cfg.lr * factor
    }

    /// One update from `grads`; parameters without a gradient are left as they are. Returns
    /// the learning rate used, or [`Error::NonFiniteGradient`] (with nothing updated) when a
    /// gradient is NaN or infinite.
    pub fn step(&mut self, grads: &GradStore) -> Result<f64> {
        match self.try_step(grads)? {
            StepOutcome::Applied { lr } => Ok(lr),
            StepOutcome::NonFinite { param, norm } => Err(Error::NonFiniteGradient { param, norm }),
        }
    }

    /// One update from `grads` unless a gradient is NaN or infinite: every gradient's norm is
    /// computed first, and the update is applied only when all are finite.
    pub fn try_step(&mut self, grads: &GradStore) -> Result<StepOutcome> {
        let mut norms = Vec::with_capacity(self.params.len());
        for p in &self.params {
            let norm = match grads.get(p.var.as_tensor()) {
                Some(g) => Some(grad_norm(g)?),
                None => None,
            };
            if let Some(n) = norm.filter(|n| !n.is_finite()) {
                return Ok(StepOutcome::NonFinite {
                    param: p.name.clone(),
                    norm: n,
                });
            }
            norms.push(norm);
        }
        let lr = self.current_lr();
        let c = self.cfg;
        for (p, norm) in self.params.iter_mut().zip(norms) {
            let (Some(g), Some(norm)) = (grads.get(p.var.as_tensor()), norm) else {
                continue;
            };
            let lr = lr * p.lr_scale;
            if !fused_update(p, g, &c, lr, norm)? {
                composed_update(p, g, &c, lr, norm)?;
            }
        }
        self.step += 1;
        Ok(StepOutcome::Applied { lr })
    }

    /// Counts a step without an update (a skipped non-finite step), so that the learning-rate
    /// schedule stays aligned with the trainer's steps. Returns the learning rate the step
    /// would have used.
    pub fn skip_step(&mut self) -> f64 {
        let lr = self.current_lr();
        self.step += 1;
        lr
    }

    /// Writes the moments and the step to a safetensors file (atomically).
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut t = HashMap::new();
        for p in &self.params {
            t.insert(format!("m.{}", p.name), p.m.to_device(&Device::Cpu)?);
            t.insert(format!("v.{}", p.name), p.v.to_device(&Device::Cpu)?);
        }
        t.insert(
            "step".into(),
            Tensor::new(&[self.step as i64], &Device::Cpu)?,
        );
        tinybert_model::weights::write_safetensors(&t, path)?;
        Ok(())
    }

    /// Restores the state written by [`BertAdam::save`]; every parameter must be present.
    pub fn load(&mut self, path: &Path) -> Result<()> {
        let t = tinybert_model::weights::read_safetensors(path)?;
        let bad = |msg: String| Error::File {
            path: path.to_path_buf(),
            msg,
        };
        for p in &mut self.params {
            let dev = p.var.device();
            let get = |k: String| -> Result<Tensor> {
                let x = t
                    .get(&k)
                    .ok_or_else(|| bad(format!("optimizer state has no `{k}`")))?;
                if x.dims() != p.var.dims() {
                    return Err(bad(format!(
                        "`{k}` has shape {:?}, the parameter {:?}",
                        x.dims(),
                        p.var.dims()
                    )));
                }
                Ok(x.to_device(dev)?)
            };
            p.m = get(format!("m.{}", p.name))?;
            p.v = get(format!("v.{}", p.name))?;
        }
        let step = t
            .get("step")
            .ok_or_else(|| bad("optimizer state has no `step`".into()))?;
        self.step = step.to_vec1::<i64>()?.first().copied().unwrap_or(0) as usize;
        Ok(())
    }
}

/// Per-tensor clip coefficient: `min(1, max_norm / (|g| + 1e-6))` (1 when clipping is off).
fn clip_coef(norm: f64, max_norm: f64) -> f64 {
    if max_norm > 0.0 {
        (max_norm / (norm + 1e-6)).clamp(0.0, 1.0)
    } else {
        1.0
    }
}

/// The L2 norm of a gradient, accumulated in f64 (a parallel pass over f32 CPU tensors; chunks
/// combined in order, so the result does not depend on rayon's splits).
pub(crate) fn grad_norm(g: &Tensor) -> Result<f64> {
    const CHUNK: usize = 1 << 14;
    let g = g.contiguous()?;
    if let Some(v) = CpuF32::new(&g) {
        let sum = v
            .slice()
            .par_chunks(CHUNK)
            .map(|c| c.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>())
            .collect::<Vec<f64>>()
            .into_iter()
            .sum::<f64>();
        return Ok(sum.sqrt());
    }
    let sum = g
        .to_dtype(DType::F64)?
        .sqr()?
        .sum_all()?
        .to_device(&Device::Cpu)?
        .to_scalar::<f64>()?;
    Ok(sum.sqrt())
}

/// True when every element of `t` is finite (a parallel pass over f32 CPU tensors).
pub(crate) fn all_finite(t: &Tensor) -> Result<bool> {
    const CHUNK: usize = 1 << 14;
    let t = t.contiguous()?;
    if let Some(v) = CpuF32::new(&t) {
        return Ok(v
            .slice()
            .par_chunks(CHUNK)
            .all(|c| c.iter().all(|x| x.is_finite())));
    }
    // 0 * x is 0 for finite x and NaN for NaN or infinity.
    let s = t
        .to_dtype(DType::F64)?
        .affine(0.0, 0.0)?
        .sum_all()?
        .to_device(&Device::Cpu)?
        .to_scalar::<f64>()?;
    Ok(s == 0.0)
}

/// The update from candle tensor operations (any device and dtype); `norm` is the gradient's.
fn composed_update(
    p: &mut ParamState,
    g: &Tensor,
    c: &BertAdamConfig,
    lr: f64,
    norm: f64,
) -> Result<()> {
    let mut g = g.to_dtype(DType::F32)?;
    if c.max_grad_norm > 0.0 {
        g = (g * clip_coef(norm, c.max_grad_norm))?;
    }
    p.m = ((&p.m * c.beta1)? + (&g * (1.0 - c.beta1))?)?;
    p.v = ((&p.v * c.beta2)? + (g.sqr()? * (1.0 - c.beta2))?)?;
    let w = p.var.as_tensor().to_dtype(DType::F32)?;
    let mut update = p.m.div(&(p.v.sqrt()? + c.eps)?)?;
    if p.decay && c.weight_decay > 0.0 {
        update = (update + (&w * c.weight_decay)?)?;
    }
    let new = (w - (update * lr)?)?;
    p.var.set(&new.to_dtype(p.var.dtype())?)?;
    Ok(())
}

/// A read lock on a tensor's contiguous f32 CPU elements.
struct CpuF32<'a> {
    storage: candle_core::StorageRef<'a>,
    range: std::ops::Range<usize>,
}

impl<'a> CpuF32<'a> {
    /// `None` unless `t` is a contiguous f32 CPU tensor.
    fn new(t: &'a Tensor) -> Option<Self> {
        let (storage, layout) = t.storage_and_layout();
        let (start, end) = layout.contiguous_offsets()?;
        matches!(&*storage, Storage::Cpu(CpuStorage::F32(_))).then_some(Self {
            storage,
            range: start..end,
        })
    }

    fn slice(&self) -> &[f32] {
        match &*self.storage {
            Storage::Cpu(CpuStorage::F32(v)) => &v[self.range.clone()],
            _ => unreachable!("checked by CpuF32::new"),
        }
    }
}

/// The whole update in one parallel pass over the tensor (moments and weights together) for f32
/// CPU parameters, given the gradient's `norm`; `false` when the composed path must do it.
fn fused_update(
    p: &mut ParamState,
    g: &Tensor,
    c: &BertAdamConfig,
    lr: f64,
    norm: f64,
) -> Result<bool> {
    const CHUNK: usize = 1 << 14;
    let g = g.contiguous()?;
    let (new_w, new_m, new_v) = {
        let (Some(w), Some(g), Some(m), Some(v)) = (
            CpuF32::new(p.var.as_tensor()),
            CpuF32::new(&g),
            CpuF32::new(&p.m),
            CpuF32::new(&p.v),
        ) else {
            return Ok(false);
        };
        let (w, g, m, v) = (w.slice(), g.slice(), m.slice(), v.slice());
        let coef = clip_coef(norm, c.max_grad_norm) as f32;
        let (b1, b2, eps) = (c.beta1 as f32, c.beta2 as f32, c.eps as f32);
        // 1 - beta in f64: `1.0 - 0.999f32` is off by 5e-5 relative.
        let (one_b1, one_b2) = ((1.0 - c.beta1) as f32, (1.0 - c.beta2) as f32);
        let decay = if p.decay { c.weight_decay as f32 } else { 0.0 };
        let lr = lr as f32;
        let n = w.len();
        let (mut nw, mut nm, mut nv) = (vec![0f32; n], vec![0f32; n], vec![0f32; n]);
        nw.par_chunks_mut(CHUNK)
            .zip(nm.par_chunks_mut(CHUNK).zip(nv.par_chunks_mut(CHUNK)))
            .enumerate()
            .for_each(|(k, (nw, (nm, nv)))| {
                let r = k * CHUNK..(k * CHUNK + nw.len());
                let (w, g, m, v) = (&w[r.clone()], &g[r.clone()], &m[r.clone()], &v[r]);
                for i in 0..nw.len() {
                    let gi = g[i] * coef;
                    nm[i] = b1 * m[i] + one_b1 * gi;
                    nv[i] = b2 * v[i] + one_b2 * gi * gi;
                    let update = nm[i] / (nv[i].sqrt() + eps) + decay * w[i];
                    nw[i] = w[i] - lr * update;
                }
            });
        (nw, nm, nv)
    };
    let dev = p.var.device().clone();
    let shape = p.var.shape().clone();
    p.var.set(&Tensor::from_vec(new_w, &shape, &dev)?)?;
    p.m = Tensor::from_vec(new_m, &shape, &dev)?;
    p.v = Tensor::from_vec(new_v, &shape, &dev)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinybert_testkit::assert_mentions;

    #[test]
    fn warmup_linear_rises_then_decays_to_zero() {
        assert_eq!(warmup_linear(0.0, 0.1), 0.0);
        assert!((warmup_linear(0.05, 0.1) - 0.5).abs() < 1e-12);
        assert!((warmup_linear(0.1, 0.1) - 1.0).abs() < 1e-12);
        assert!((warmup_linear(0.55, 0.1) - 0.5).abs() < 1e-12);
        assert_eq!(warmup_linear(1.2, 0.1), 0.0);
    }

    #[test]
    fn bias_and_layer_norm_parameters_get_no_weight_decay() {
        assert!(decays("encoder.layer.0.attention.self.query.weight"));
        assert!(!decays("encoder.layer.0.attention.self.query.bias"));
        assert!(!decays("embeddings.LayerNorm.weight"));
    }

    #[test]
    fn one_step_without_bias_correction_and_with_clipping_matches_the_formula() {
        let dev = Device::Cpu;
        let w = Var::from_slice(&[1.0f32, -2.0], 2, &dev).unwrap();
        let loss = (w.as_tensor() * 3.0).unwrap().sum_all().unwrap(); // grad = [3, 3]
        let grads = loss.backward().unwrap();
        let cfg = BertAdamConfig {
            lr: 0.1,
            schedule: Schedule::Constant,
            ..Default::default()
        };
        let mut opt = BertAdam::new(vec![("w".into(), w.clone())], cfg, 10).unwrap();
        opt.step(&grads).unwrap();
        // clipped g = 3/(sqrt(18)+1e-6) each; m = 0.1 g, v = 0.001 g^2 -> m/sqrt(v) = 0.1/sqrt(0.001)
        let g = 3.0 / (18f64.sqrt() + 1e-6);
        let step = (0.1 * g) / ((0.001 * g * g).sqrt() + 1e-6);
        let got: Vec<f32> = w.as_tensor().to_vec1().unwrap();
        let want = [
            1.0 - 0.1 * (step + 0.01 * 1.0),
            -2.0 - 0.1 * (step + 0.01 * -2.0),
        ];
        for (a, b) in got.iter().zip(want) {
            assert!((*a as f64 - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn the_pooler_and_classifier_move_head_lr_scale_times_as_far_as_the_encoder() {
        let dev = Device::Cpu;
        let names = [
            "encoder.layer.0.output.dense.weight",
            "pooler.dense.weight",
            "classifier.weight",
        ];
        let vars: Vec<Var> = names
            .iter()
            .map(|_| Var::from_slice(&[1.0f32, -2.0], 2, &dev).unwrap())
            .collect();
        let mut loss = Tensor::zeros((), DType::F32, &dev).unwrap();
        for v in &vars {
            loss = (loss + (v.as_tensor() * 3.0).unwrap().sum_all().unwrap()).unwrap();
        }
        let grads = loss.backward().unwrap();
        let cfg = BertAdamConfig {
            lr: 0.01,
            schedule: Schedule::Constant,
            weight_decay: 0.0,
            head_lr_scale: 10.0,
            ..Default::default()
        };
        let named = names
            .iter()
            .map(|n| n.to_string())
            .zip(vars.clone())
            .collect();
        BertAdam::new(named, cfg, 10).unwrap().step(&grads).unwrap();
        let moved: Vec<f32> = vars
            .iter()
            .map(|v| 1.0 - v.as_tensor().to_vec1::<f32>().unwrap()[0])
            .collect();
        assert!(moved[0] > 0.0);
        for head in &moved[1..] {
            assert!((head / moved[0] - 10.0).abs() < 1e-3, "{moved:?}");
        }
    }

    #[test]
    fn state_round_trips_through_a_file() {
        let dev = Device::Cpu;
        let w = Var::from_slice(&[1.0f32, 2.0], 2, &dev).unwrap();
        let grads = w
            .as_tensor()
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let mut a =
            BertAdam::new(vec![("w".into(), w.clone())], BertAdamConfig::default(), 10).unwrap();
        a.step(&grads).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("optimizer.safetensors");
        a.save(&path).unwrap();
        let mut b =
            BertAdam::new(vec![("w".into(), w.clone())], BertAdamConfig::default(), 10).unwrap();
        b.load(&path).unwrap();
        assert_eq!(b.step_count(), 1);
        assert_eq!(b.current_lr(), a.current_lr());
        let mut c =
            BertAdam::new(vec![("other".into(), w)], BertAdamConfig::default(), 10).unwrap();
        let err = c.load(&path).unwrap_err().to_string();
        assert_mentions(&err, &["m.other", "optimizer.safetensors"]);
    }
    #[test]
    fn fused_update_matches_the_composed_one_over_several_steps() {
        let dev = Device::Cpu;
        let n = 40_000; // several parallel chunks and a remainder
        let init: Vec<f32> = (0..n)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0)
            .collect();
        let cfg = BertAdamConfig {
            lr: 0.01,
            max_grad_norm: 0.5,
            ..Default::default()
        };
        for decay in [true, false] {
            let new_state = || {
                let var = Var::from_slice(&init, (200, 200), &dev).unwrap();
                let m = var.as_tensor().zeros_like().unwrap();
                ParamState {
                    name: "w".into(),
                    v: m.clone(),
                    m,
                    var,
                    decay,
                    lr_scale: 1.0,
                }
            };
            let (mut a, mut b) = (new_state(), new_state());
            for step in 0..3 {
                let g = (a.var.as_tensor().sin().unwrap() * (step + 1) as f64).unwrap();
                let norm = grad_norm(&g).unwrap();
                assert!(fused_update(&mut a, &g, &cfg, 0.01, norm).unwrap());
                composed_update(&mut b, &g, &cfg, 0.01, norm).unwrap();
            }
            for (x, y) in [
                (a.var.as_tensor(), b.var.as_tensor()),
                (&a.m, &b.m),
                (&a.v, &b.v),
            ] {
                let d = (x - y).unwrap().abs().unwrap().flatten_all().unwrap();
                let d = d.max(0).unwrap().to_scalar::<f32>().unwrap();
                assert!(d < 1e-6, "decay {decay}: max diff {d}");
            }
        }
    }

    #[test]
    fn a_non_finite_gradient_refuses_the_whole_step_and_names_the_parameter() {
        let dev = Device::Cpu;
        let a = Var::from_slice(&[1.0f32, 2.0], 2, &dev).unwrap();
        let b = Var::from_slice(&[3.0f32], 1, &dev).unwrap();
        // d/db of b * inf is inf; a gets a finite gradient.
        let loss = ((a.as_tensor().sum_all().unwrap()
            + (b.as_tensor() * f64::INFINITY).unwrap().sum_all().unwrap())
        .unwrap())
        .sum_all()
        .unwrap();
        let grads = loss.backward().unwrap();
        let mut opt = BertAdam::new(
            vec![("a".into(), a.clone()), ("b".into(), b.clone())],
            BertAdamConfig::default(),
            10,
        )
        .unwrap();
        let out = opt.try_step(&grads).unwrap();
        assert!(
            matches!(&out, StepOutcome::NonFinite { param, norm } if param == "b" && norm.is_infinite()),
            "{out:?}"
        );
        assert_eq!(opt.step_count(), 0);
        assert_eq!(
            a.as_tensor().to_vec1::<f32>().unwrap(),
            [1.0, 2.0],
            "a untouched"
        );
        let err = opt.step(&grads).unwrap_err().to_string();
        assert_mentions(&err, &["`b`", "no parameter was updated"]);
    }

    #[test]
    fn a_skipped_step_advances_the_schedule_only() {
        let dev = Device::Cpu;
        let w = Var::from_slice(&[1.0f32], 1, &dev).unwrap();
        let mut opt =
            BertAdam::new(vec![("w".into(), w.clone())], BertAdamConfig::default(), 10).unwrap();
        assert_eq!(opt.skip_step(), 0.0);
        assert_eq!(opt.step_count(), 1);
        assert!(
            (opt.current_lr() - 5e-5).abs() < 1e-12,
            "end of the 10% warm-up"
        );
        assert_eq!(w.as_tensor().to_vec1::<f32>().unwrap(), [1.0]);
    }

    #[test]
    fn finiteness_is_checked_on_every_element() {
        let dev = Device::Cpu;
        let ok = Tensor::new(&[1.0f32, -2.0, 0.0], &dev).unwrap();
        assert!(all_finite(&ok).unwrap());
        let big: Vec<f32> = (0..40_000)
            .map(|i| if i == 39_999 { f32::NAN } else { i as f32 })
            .collect();
        assert!(!all_finite(&Tensor::new(big, &dev).unwrap()).unwrap());
        let f64s = Tensor::new(&[1.0f64, f64::NEG_INFINITY], &dev).unwrap();
        assert!(!all_finite(&f64s).unwrap());
        assert_eq!(
            grad_norm(&Tensor::new(&[3.0f32, 4.0], &dev).unwrap()).unwrap(),
            5.0
        );
    }
}
