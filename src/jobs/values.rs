//! Parameter value types and checks shared by the jobs (clap `value_parser`s, so the command
//! line and pipeline stages reject the same values with the same message).

use anyhow::{anyhow, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use tinybert_data::own_task::{is_task_file, OwnTask};
use tinybert_data::Task;
use tinybert_model::BertConfig;

/// A task: a GLUE task's name (case, `-` and `_` ignored) or a task file of one's own
/// (`*.toml`, [`tinybert_data::own_task`]), read when the job runs (relative to its working
/// folder).
#[derive(Debug, Clone, PartialEq)]
pub enum TaskArg {
    Named(Task),
    File(String),
}

impl TaskArg {
    /// The task; a task file is read (and its task defined) here.
    pub fn resolve(&self, ctx: &super::Ctx) -> Result<Task> {
        match self {
            TaskArg::Named(t) => Ok(*t),
            TaskArg::File(f) => Ok(OwnTask::load(&ctx.path(f))?),
        }
    }

    /// The task, when it is known without reading a file.
    pub fn named(&self) -> Option<Task> {
        match self {
            TaskArg::Named(t) => Some(*t),
            TaskArg::File(_) => None,
        }
    }
}

/// Checks a task against its GLUE data folder: a GLUE task needs one, a task file names its
/// own files.
pub fn check_data_dir(task: &TaskArg, data_dir: Option<&str>) -> Result<()> {
    match (task, data_dir) {
        (TaskArg::Named(t), None) => {
            Err(anyhow!("{t}: `data_dir` (the GLUE data folder) is needed"))
        }
        (TaskArg::File(f), Some(_)) => Err(anyhow!(
            "task file {f}: `data_dir` is for GLUE tasks (a task file names its own files)"
        )),
        _ => Ok(()),
    }
}

/// A task name or task file ([`TaskArg`]).
pub fn task(s: &str) -> Result<TaskArg, String> {
    if is_task_file(s) {
        return Ok(TaskArg::File(s.to_string()));
    }
    s.parse()
        .map(TaskArg::Named)
        .map_err(|e: tinybert_data::Error| format!("{e}, or a task file (*.toml)"))
}

/// An integer of at least 1.
pub fn positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// A probability, in [0, 1].
pub fn probability(s: &str) -> Result<f64, String> {
    let p: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err("must be in [0, 1]".into())
    }
}

/// A probability strictly between 0 and 1.
pub fn open_probability(s: &str) -> Result<f64, String> {
    match s.parse::<f64>().map_err(|e| e.to_string())? {
        p if p > 0.0 && p < 1.0 => Ok(p),
        _ => Err("must be in (0, 1)".into()),
    }
}

/// A finite number greater than 0.
pub fn positive_number(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err("must be a positive number".into())
    }
}

/// A model shape: `{ layers, hidden, heads, ffn }` (optionally `max_position_embeddings`,
/// default 512).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
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

/// A model given by name (a folder, a preset such as `tinybert-4`, a `config.json`, or a hub
/// id) or as the shape of a fresh one: `{"layers":3,"hidden":192,"heads":12,"ffn":768}` on the
/// command line, an inline table in a pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelSpec {
    Named(String),
    Shape(Shape),
}

impl ModelSpec {
    /// The name, when the model is given by name.
    pub fn name(&self) -> Option<&str> {
        match self {
            ModelSpec::Named(n) => Some(n),
            ModelSpec::Shape(_) => None,
        }
    }
}

/// Parses a [`ModelSpec`]: JSON object text is a shape, anything else a name.
pub fn model_spec(s: &str) -> Result<ModelSpec, String> {
    if s.trim_start().starts_with('{') {
        serde_json::from_str::<Shape>(s)
            .map(ModelSpec::Shape)
            .map_err(|e| format!("a model shape is {{ layers, hidden, heads, ffn }}: {e}"))
    } else if s.is_empty() {
        Err("empty model name".into())
    } else {
        Ok(ModelSpec::Named(s.to_string()))
    }
}

/// Parses a [`Shape`] given as JSON object text.
pub fn shape(s: &str) -> Result<Shape, String> {
    match model_spec(s)? {
        ModelSpec::Shape(shape) => Ok(shape),
        ModelSpec::Named(_) => Err("expected a shape { layers, hidden, heads, ffn }".into()),
    }
}

/// Counts by name: `{"train":20000}` (a pipeline's inline table) or `train=20000,dev=100`.
pub fn counts(s: &str) -> Result<BTreeMap<String, usize>, String> {
    if s.trim_start().starts_with('{') {
        return serde_json::from_str(s).map_err(|e| e.to_string());
    }
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|pair| {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| format!("`{pair}`: expected NAME=COUNT"))?;
            let n = v.trim().parse().map_err(|e| format!("`{pair}`: {e}"))?;
            Ok((k.trim().to_string(), n))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_accept_their_range_and_name_it_otherwise() {
        assert_eq!(positive("3"), Ok(3));
        assert_eq!(positive("0").unwrap_err(), "must be at least 1");
        assert!(positive("-1").is_err());
        assert_eq!(probability("0.4"), Ok(0.4));
        assert_eq!(probability("1.5").unwrap_err(), "must be in [0, 1]");
        assert!(open_probability("0").is_err() && open_probability("0.15").is_ok());
        assert!(positive_number("inf").is_err() && positive_number("9.4").is_ok());
    }

    #[test]
    fn model_specs_are_names_or_json_shapes() {
        assert_eq!(
            model_spec("tinybert-4").unwrap(),
            ModelSpec::Named("tinybert-4".into())
        );
        let s = model_spec(r#"{"layers":3,"hidden":192,"heads":12,"ffn":768}"#).unwrap();
        let ModelSpec::Shape(shape) = s else {
            panic!("{s:?}")
        };
        assert_eq!((shape.layers, shape.hidden), (3, 192));
        assert!(model_spec(r#"{"layers":3}"#).unwrap_err().contains("shape"));
        assert!(shape.config(100).is_ok());
    }

    #[test]
    fn counts_read_both_spellings() {
        let want: BTreeMap<String, usize> = [("train".into(), 20), ("dev".into(), 5)].into();
        assert_eq!(counts(r#"{"train":20,"dev":5}"#).unwrap(), want);
        assert_eq!(counts("train=20, dev=5").unwrap(), want);
        assert!(counts("train").is_err());
    }
}
