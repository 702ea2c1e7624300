//! A `VarBuilder` backend that hands out checkpoint tensors (or seeded fresh initialisations)
//! and records every parameter by HF name, as a trainable `Var` or a frozen tensor.

use crate::error::Error;
use candle_core::{DType, Device, Result, Shape, Tensor, Var};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::Init;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Which parameters are trained.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Trainable {
    /// None: a frozen model builds no autograd graph.
    #[default]
    None,
    /// Every parameter.
    All,
    /// Parameters whose HF name starts with one of these prefixes (e.g. `cls.` to fit an MLM
    /// head on a frozen encoder).
    Prefixes(Vec<String>),
}

impl Trainable {
    /// Whether the parameter `name` is trained.
    pub fn includes(&self, name: &str) -> bool {
        match self {
            Trainable::None => false,
            Trainable::All => true,
            Trainable::Prefixes(p) => p.iter().any(|p| name.starts_with(p.as_str())),
        }
    }
}

/// A named model parameter.
#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    /// Set when the parameter is trainable; `tensor` is then the variable's tensor.
    pub var: Option<Var>,
    pub tensor: Tensor,
}

/// What happened while building a model from a checkpoint.
#[derive(Debug, Default, Clone)]
pub struct LoadReport {
    /// Parameters absent from the checkpoint and freshly initialised (heads only).
    pub initialized: Vec<String>,
    /// Checkpoint tensors the model does not use.
    pub unexpected: Vec<String>,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub params: Vec<Param>,
    pub used: Vec<String>,
    pub initialized: Vec<String>,
    /// The first structured error met (candle errors cannot carry ours).
    pub error: Option<Error>,
}

/// Names that may be missing from a checkpoint and are then initialised: task heads, the MLM
/// head, `fit_dense` projections and the pooler.
pub(crate) fn may_initialize(name: &str) -> bool {
    ["classifier.", "cls.", "fit_dense", "pooler."]
        .iter()
        .any(|p| name.starts_with(p))
}

pub(crate) struct ParamBackend {
    pub source: Option<PathBuf>,
    pub tensors: HashMap<String, Tensor>,
    pub trainable: Trainable,
    pub rng: Mutex<rand::rngs::StdRng>,
    pub state: Arc<Mutex<State>>,
}

impl ParamBackend {
    pub fn new(
        source: Option<PathBuf>,
        tensors: HashMap<String, Tensor>,
        trainable: Trainable,
        seed: u64,
    ) -> (Self, Arc<Mutex<State>>) {
        let state = Arc::new(Mutex::new(State::default()));
        let backend = Self {
            source,
            tensors,
            trainable,
            rng: Mutex::new(rand::rngs::StdRng::seed_from_u64(seed)),
            state: state.clone(),
        };
        (backend, state)
    }

    fn fail(&self, e: Error) -> candle_core::Error {
        let msg = e.to_string();
        let mut st = self.state.lock().expect("param store poisoned");
        st.error.get_or_insert(e);
        candle_core::Error::Msg(msg)
    }

    fn init(&self, shape: &Shape, init: Init, dtype: DType, dev: &Device) -> Result<Tensor> {
        let n = shape.elem_count();
        let mut rng = self.rng.lock().expect("param store poisoned");
        let data: Vec<f32> = match init {
            Init::Const(c) => vec![c as f32; n],
            Init::Randn { mean, stdev } => (0..n)
                .map(|_| (mean + stdev * standard_normal(&mut *rng)) as f32)
                .collect(),
            Init::Uniform { lo, up } => (0..n).map(|_| rng.random_range(lo..up) as f32).collect(),
            Init::Kaiming { .. } => candle_core::bail!("Kaiming init is not used by BERT"),
        };
        Tensor::from_vec(data, shape, dev)?.to_dtype(dtype)
    }
}

/// Frozen dense-layer weights [out, in] are kept transposed in memory (same shape, strides
/// [1, out]): the fused dense kernel then multiplies by `W^T` without copying it on each call.
/// Embedding tables stay row-major for their lookups.
fn stored_transposed(name: &str, t: &Tensor) -> bool {
    const TABLES: [&str; 3] = [
        "word_embeddings",
        "position_embeddings",
        "token_type_embeddings",
    ];
    t.rank() == 2
        && name.ends_with(".weight")
        && !TABLES
            .iter()
            .any(|e| name.ends_with(&format!("{e}.weight")))
}

/// Box-Muller standard normal draw.
fn standard_normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

impl SimpleBackend for ParamBackend {
    fn get(&self, s: Shape, name: &str, h: Init, dtype: DType, dev: &Device) -> Result<Tensor> {
        let tensor = match self.tensors.get(name) {
            Some(t) => {
                if t.dims() != s.dims() {
                    return Err(self.fail(Error::ShapeMismatch {
                        path: self.source.clone().unwrap_or_default(),
                        name: name.to_string(),
                        expected: s.dims().to_vec(),
                        got: t.dims().to_vec(),
                    }));
                }
                self.state
                    .lock()
                    .expect("param store poisoned")
                    .used
                    .push(name.to_string());
                t.to_device(dev)?.to_dtype(dtype)?
            }
            None => {
                if let Some(path) = &self.source {
                    if !may_initialize(name) {
                        return Err(self.fail(Error::MissingTensor {
                            path: path.clone(),
                            name: name.to_string(),
                        }));
                    }
                }
                let t = self.init(&s, h, dtype, dev)?;
                self.state
                    .lock()
                    .expect("param store poisoned")
                    .initialized
                    .push(name.to_string());
                t
            }
        };
        let (var, tensor) = if self.trainable.includes(name) {
            let var = Var::from_tensor(&tensor)?;
            let t = var.as_tensor().clone();
            (Some(var), t)
        } else if stored_transposed(name, &tensor) {
            (None, crate::kernels::to_column_major(&tensor)?)
        } else {
            (None, tensor)
        };
        self.state
            .lock()
            .expect("param store poisoned")
            .params
            .push(Param {
                name: name.to_string(),
                var,
                tensor: tensor.clone(),
            });
        Ok(tensor)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> Result<Tensor> {
        match self.tensors.get(name) {
            Some(t) => t.to_device(dev)?.to_dtype(dtype),
            None => candle_core::bail!("no tensor `{name}`"),
        }
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }
}
