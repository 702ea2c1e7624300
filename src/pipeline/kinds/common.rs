//! What the built-in kinds share: parameters read into typed structs, library configs with a
//! stage's table merged over their defaults, model folders, the device, and the training
//! plumbing (progress bar, Ctrl-C, resuming from `checkpoint/`).

use crate::pipeline::paths;
use crate::pipeline::registry::StageContext;
use crate::pipeline::stage::ResolvedStage;
use crate::progress::TrainBar;
use anyhow::{anyhow, bail, Context, Result};
use candle_core::Device;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use tinybert_data::parquet_io::{dataset_files, read_meta};
use tinybert_data::Task;
use tinybert_distill::train::checkpoint::{CHECKPOINT_DIR, STATE_FILE};
use tinybert_distill::train::{RunOptions, RunResult};
use tinybert_distill::TrainConfig;
use tinybert_model::{load_tokenizer, BertConfig, Heads, Model, ModelOptions, Want};

/// `file:line: stage `name`, parameter `key``: the prefix of a parameter's error messages.
pub fn at(stage: &ResolvedStage, key: &str) -> String {
    format!(
        "{}: stage `{}`, parameter `{key}`",
        stage.origin, stage.name
    )
}

/// `default` with the stage's table parameter `key` merged over it, key by key (nested tables
/// too), then read back through the config's own serde, so its unknown keys and wrong types are
/// errors naming the stage and `key`. No parameter: `default` itself.
pub fn merged<T: Serialize + DeserializeOwned + Clone>(
    stage: &ResolvedStage,
    key: &str,
    default: &T,
) -> Result<T> {
    let Some(value) = stage.params.get(key) else {
        return Ok(default.clone());
    };
    let over = serde_json::to_value(value)?;
    if !over.is_object() {
        bail!(
            "{}: expected a table such as `{key} = {{ ... }}`, found {value}",
            at(stage, key)
        );
    }
    let mut base = serde_json::to_value(default).context("config serialises")?;
    merge(&mut base, over);
    serde_json::from_value(base).map_err(|e| anyhow!("{}: {e}", at(stage, key)))
}

/// Merges `over` into `base`: tables key by key, anything else replaced.
fn merge(base: &mut Json, over: Json) {
    match (base, over) {
        (Json::Object(b), Json::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// The `train` table over `default` (a [`TrainConfig`]: `epochs`, `max_steps`, `batch_size`,
/// `micro_batch_size`, `seed`, `save_every`, `log_every`, `eval_every`,
/// `optimizer = { lr, warmup, schedule, weight_decay, ... }`, `nonfinite`,
/// `max_skipped_steps`; the sequence length is the data's). TOML has no null, so
/// `max_steps = 0` and `micro_batch_size = 0` mean "not set".
pub fn train_config(stage: &ResolvedStage, default: &TrainConfig) -> Result<TrainConfig> {
    let mut t: TrainConfig = merged(stage, "train", default)?;
    if t.max_steps == Some(0) {
        t.max_steps = None;
    }
    if t.micro_batch_size == Some(0) {
        t.micro_batch_size = None;
    }
    if t.batch_size == 0 {
        bail!("{}: batch_size must be at least 1", at(stage, "train"));
    }
    Ok(t)
}

/// Load-time check that path parameter `key` (value `path`) is one of the stage's inputs or lies
/// inside one, so that the lock file notices when it changes.
pub fn require_input(stage: &ResolvedStage, key: &str, path: &str) -> Result<()> {
    let n = paths::normalize(path).map_err(|e| anyhow!("{}: {e}", at(stage, key)))?;
    if stage.deps.iter().any(|d| paths::is_within(&n, d)) {
        return Ok(());
    }
    bail!(
        "{}: `{path}` is not among the stage's inputs: add it (or a folder holding it) to `deps`, or refer to a stage output with `${{stages.NAME.out}}`",
        at(stage, key)
    )
}

/// [`require_input`] for a parameter holding a path or a list of paths; returns the paths.
pub fn require_inputs(stage: &ResolvedStage, key: &str) -> Result<Vec<String>> {
    let list = match stage.params.get(key) {
        Some(toml::Value::String(s)) => vec![s.clone()],
        Some(_) => stage.param::<Vec<String>>(key)?,
        None => return Ok(Vec::new()),
    };
    for p in &list {
        require_input(stage, key, p)?;
    }
    Ok(list)
}

/// A model parameter: a folder (relative to the working directory), or a hub id such as
/// `bert-base-uncased` resolved from the local hub cache (downloaded if needed) when no such
/// folder exists.
pub fn model_param(stage: &ResolvedStage, ctx: &StageContext, key: &str) -> Result<PathBuf> {
    let spec: String = stage.param(key)?;
    let path = ctx.path(&spec);
    let looks_like_path =
        spec.starts_with('.') || spec.starts_with('/') || spec.matches('/').count() > 1;
    if !path.exists() && looks_like_path {
        bail!("{}: no model folder {}", at(stage, key), path.display());
    }
    let target = if path.exists() {
        path.display().to_string()
    } else {
        spec
    };
    tinybert_model::resolve_model(&target).with_context(|| at(stage, key))
}

/// A model shape written as a table: `{ layers = 4, hidden = 312, heads = 12, ffn = 1200 }`
/// (optionally `max_position_embeddings`, default 512).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shape {
    pub layers: usize,
    pub hidden: usize,
    pub heads: usize,
    pub ffn: usize,
    #[serde(default)]
    pub max_position_embeddings: Option<usize>,
}

impl Shape {
    /// The BERT config of this shape with `vocab_size` words.
    pub fn config(&self, vocab_size: usize) -> Result<BertConfig> {
        let mut c = BertConfig::student(self.layers, self.hidden, self.ffn, self.heads);
        c.vocab_size = vocab_size;
        if let Some(p) = self.max_position_embeddings {
            c.max_position_embeddings = p;
        }
        c.validate().map_err(|e| anyhow!("model shape: {e}"))?;
        Ok(c)
    }
}

/// A model given as a path (or preset or hub id, where the kind allows) or as the shape of a
/// fresh one.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(untagged)]
pub enum ModelSpec {
    Named(String),
    Shape(Shape),
}

/// Writes a freshly initialised model (N(0, 0.02) weights, no heads) of `shape` with the
/// vocabulary and tokenizer files of the folder `tokenizer` to `dir`, unless `dir` already
/// holds one (an interrupted attempt made it: the same seed gives the same weights).
pub fn init_model(shape: &Shape, tokenizer: &Path, seed: u64, dir: &Path) -> Result<()> {
    if dir.join("config.json").exists() && dir.join("model.safetensors").exists() {
        return Ok(());
    }
    let tok = load_tokenizer(tokenizer)?;
    let config = shape.config(tok.get_vocab_size(true))?;
    let opts = ModelOptions {
        seed,
        heads: Heads {
            classifier: Want::Never,
            mlm: Want::Never,
            fit_dense: Want::Never,
        },
        ..Default::default()
    };
    Model::init(&config, &opts)?.save(dir, Some(tokenizer))?;
    Ok(())
}

/// The candle device of `--device`.
pub fn device(ctx: &StageContext) -> Result<Device> {
    crate::device::parse_device(&ctx.device)
}

/// `out` when an interrupted attempt left a resumable checkpoint in it
/// (`out/checkpoint/trainer_state.json`), so the trainer continues from there.
pub fn resume_from(out: &Path) -> Option<PathBuf> {
    out.join(CHECKPOINT_DIR)
        .join(STATE_FILE)
        .exists()
        .then(|| out.to_path_buf())
}

/// A training stage's progress bar (on the runner's bars) and its trainer options: writing to
/// `out`, resuming from its checkpoint when there is one, stopping at Ctrl-C with a checkpoint.
pub struct Training {
    bar: TrainBar,
    out: PathBuf,
}

impl Training {
    /// Creates the output folder and the bar labelled with the stage name.
    pub fn new(stage: &ResolvedStage, out: &Path) -> Result<Self> {
        std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
        Ok(Self {
            bar: TrainBar::new(&stage.name),
            out: out.to_path_buf(),
        })
    }

    /// The trainer's [`RunOptions`].
    pub fn options(&self) -> RunOptions<'_> {
        let resume = resume_from(&self.out);
        if let Some(r) = &resume {
            tracing::info!("resuming from the checkpoint in {}", r.display());
        }
        crate::cmd::distill::run_options(self.out.clone(), resume, &self.bar)
    }

    /// After success: removes `checkpoint/` (optimizer state and a model copy, only needed to
    /// resume) unless `keep` is set.
    pub fn finish(self, keep: bool) -> Result<()> {
        let dir = self.out.join(CHECKPOINT_DIR);
        if !keep && dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot remove {}", dir.display()))?;
        }
        Ok(())
    }
}

/// The GLUE task recorded in a tokenised dataset's metadata (read from its first shard only).
pub fn dataset_task(path: &Path) -> Result<Task> {
    let files = dataset_files(path)?;
    let first = files
        .first()
        .ok_or_else(|| anyhow!("{}: no dataset files", path.display()))?;
    read_meta(first)?
        .task
        .ok_or_else(|| anyhow!("{}: the dataset records no GLUE task", path.display()))
}

/// One line about a finished training run: its best dev score, or its final loss.
pub fn result_line(r: &RunResult, out: &Path) -> String {
    match &r.best {
        Some((s, step)) => format!(
            "{} steps; best dev score {:.4} at step {step} -> {}",
            r.steps,
            s.score,
            out.display()
        ),
        None => format!(
            "{} steps, final loss {:.4} -> {}",
            r.steps,
            r.last_loss,
            out.display()
        ),
    }
}

/// Runs `f` with candle's matrix products on `threads` threads (`RAYON_NUM_THREADS`, which
/// candle reads at every product), restoring the previous setting after; `None` or `0`
/// changes nothing (every core). For tiny models one thread beats several: their products are
/// too small to split.
pub fn with_threads<T>(threads: Option<usize>, f: impl FnOnce() -> Result<T>) -> Result<T> {
    const VAR: &str = "RAYON_NUM_THREADS";
    let previous = std::env::var_os(VAR);
    if let Some(n) = threads.filter(|&n| n > 0) {
        std::env::set_var(VAR, n.to_string());
    }
    let result = f();
    match previous {
        Some(v) => std::env::set_var(VAR, v),
        None => std::env::remove_var(VAR),
    }
    result
}

/// Prints a line above the progress bars (to stderr).
pub fn say(ctx: &StageContext, text: &str) {
    ctx.progress.suspend(|| eprintln!("{text}"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use toml::Value;

    fn stage(params: &str) -> ResolvedStage {
        let table: toml::Table = params.parse().unwrap();
        ResolvedStage {
            name: "td@RTE".into(),
            group: "td".into(),
            kind: "task-distill".into(),
            params: table.into_iter().collect(),
            deps: vec![],
            outs: vec!["runs/x".into()],
            desc: None,
            origin: "p.toml:7".into(),
        }
    }

    #[test]
    fn a_table_merges_over_the_stage_defaults_key_by_key() {
        let default = TrainConfig {
            batch_size: 256,
            epochs: 7,
            ..TrainConfig::default()
        };
        let s = stage("train = { epochs = 2, max_steps = 0, optimizer = { lr = 1e-3 } }");
        let t = train_config(&s, &default).unwrap();
        assert_eq!((t.batch_size, t.epochs, t.max_steps), (256, 2, None));
        assert_eq!(t.optimizer.lr, 1e-3);
        assert_eq!(t.optimizer.warmup, default.optimizer.warmup);
        let none = stage("other = 1");
        assert_eq!(train_config(&none, &default).unwrap(), default);
    }

    #[test]
    fn path_parameters_must_be_inputs_or_inside_one() {
        let mut s = stage("data = \"runs/glue/train\"\ncorpus = [\"a.txt\", \"b.txt\"]");
        s.deps = vec!["runs/glue".into(), "a.txt".into()];
        require_input(&s, "data", "runs/glue/train").unwrap();
        require_input(&s, "data", "./runs/glue").unwrap();
        let e = require_inputs(&s, "corpus").unwrap_err().to_string();
        assert!(
            e.contains("`corpus`") && e.contains("`b.txt`") && e.contains("deps"),
            "{e}"
        );
        let e = require_input(&s, "data", "runs/gluex")
            .unwrap_err()
            .to_string();
        assert!(e.contains("td@RTE"), "{e}");
    }

    #[test]
    fn unknown_nested_keys_and_wrong_types_name_the_stage_and_parameter() {
        let default = TrainConfig::default();
        let e = train_config(&stage("train = { epoch = 2 }"), &default)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("p.toml:7")
                && e.contains("td@RTE")
                && e.contains("`train`")
                && e.contains("epoch"),
            "{e}"
        );
        let e = train_config(&stage("train = { optimizer = { lr = \"x\" } }"), &default)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`train`"), "{e}");
        let mut s = stage("x = 1");
        s.params.insert("train".into(), Value::Integer(3));
        let e = train_config(&s, &default).unwrap_err().to_string();
        assert!(e.contains("expected a table"), "{e}");
    }
}
