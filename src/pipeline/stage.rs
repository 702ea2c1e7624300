//! [`ResolvedStage`]: one stage after `foreach` expansion and `${...}` resolution, the value a
//! stage kind's `run` receives (job kinds parse its parameters as their arguments; the test
//! kinds use the typed getters here, whose errors name the stage).

use anyhow::{anyhow, bail, Result};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use toml::Value;

/// One concrete stage of a pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedStage {
    /// Unique name: the `[stages.<name>]` table name, or `<name>@<item>` for a `foreach` instance.
    pub name: String,
    /// The `[stages.<group>]` table the stage comes from (equals `name` without `foreach`).
    pub group: String,
    /// The stage kind, a key of the [`Registry`](super::registry::Registry).
    pub kind: String,
    /// The kind's parameters: every key of the stage table except the reserved `kind`, `deps`,
    /// `outs`, `foreach` and `desc`, with references replaced.
    pub params: BTreeMap<String, Value>,
    /// Inputs, normalised paths relative to the working directory (or absolute): the `deps` key
    /// plus every stage output referenced in a parameter.
    pub deps: Vec<String>,
    /// Outputs, normalised paths inside the working directory.
    pub outs: Vec<String>,
    /// The optional one-line `desc`.
    pub desc: Option<String>,
    /// Data-parallel ranks (`ranks`, default 1): above 1 the runner starts the stage as that
    /// many processes through the MPI launcher. Not a parameter: the result does not depend on
    /// it, so changing it stales nothing.
    pub ranks: usize,
    /// `file:line` of the stage table, for messages.
    pub origin: String,
}

impl ResolvedStage {
    /// The stage's only output; an error when it declares none or several.
    pub fn out(&self) -> Result<&str> {
        match self.outs.as_slice() {
            [one] => Ok(one),
            outs => bail!(
                "{}: stage `{}` (kind `{}`) needs exactly one output in `outs`, found {}",
                self.origin,
                self.name,
                self.kind,
                outs.len()
            ),
        }
    }

    /// Parameter `key` converted to `T`; an error when absent or of the wrong type.
    pub fn param<T: DeserializeOwned>(&self, key: &str) -> Result<T> {
        let v = self.params.get(key).ok_or_else(|| {
            anyhow!(
                "{}: stage `{}`: missing parameter `{key}`",
                self.origin,
                self.name
            )
        })?;
        self.convert(key, v)
    }

    /// Parameter `key` converted to `T`, or `default` when absent.
    pub fn param_or<T: DeserializeOwned>(&self, key: &str, default: T) -> Result<T> {
        match self.params.get(key) {
            Some(v) => self.convert(key, v),
            None => Ok(default),
        }
    }

    /// All parameters deserialised into a config struct (serde `Default` + `deny_unknown_fields`
    /// gives defaults and strict keys).
    pub fn config<T: DeserializeOwned>(&self) -> Result<T> {
        let table: toml::Table = self
            .params
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Value::Table(table)
            .try_into()
            .map_err(|e| anyhow!("{}: stage `{}`: {}", self.origin, self.name, one_line(&e)))
    }

    fn convert<T: DeserializeOwned>(&self, key: &str, v: &Value) -> Result<T> {
        v.clone().try_into().map_err(|e| {
            anyhow!(
                "{}: stage `{}`, parameter `{key}` = {v}: {}",
                self.origin,
                self.name,
                one_line(&e)
            )
        })
    }
}

/// A deserialisation error on one line (toml puts the key on a second one).
fn one_line(e: &toml::de::Error) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage() -> ResolvedStage {
        ResolvedStage {
            name: "ft@RTE".into(),
            group: "ft".into(),
            kind: "finetune".into(),
            params: [("lr".to_string(), Value::Float(1e-5))].into(),
            deps: vec![],
            outs: vec!["runs/a".into(), "runs/b".into()],
            desc: None,
            ranks: 1,
            origin: "p.toml:3".into(),
        }
    }

    #[test]
    fn getters_convert_and_name_the_stage_and_key_on_error() {
        let s = stage();
        assert_eq!(s.param::<f64>("lr").unwrap(), 1e-5);
        assert_eq!(s.param_or::<u32>("epochs", 3).unwrap(), 3);
        let e = s.param::<String>("lr").unwrap_err().to_string();
        assert!(
            e.contains("p.toml:3") && e.contains("ft@RTE") && e.contains("`lr`"),
            "{e}"
        );
        let e = s.param::<f64>("epochs").unwrap_err().to_string();
        assert!(e.contains("missing parameter `epochs`"), "{e}");
        assert!(s
            .out()
            .unwrap_err()
            .to_string()
            .contains("exactly one output"));
    }

    #[test]
    fn config_deserialises_all_parameters() {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Cfg {
            lr: f64,
            #[serde(default)]
            epochs: u32,
        }
        let c: Cfg = stage().config().unwrap();
        assert_eq!((c.lr, c.epochs), (1e-5, 0));
        let mut s = stage();
        s.params.insert("lrr".into(), Value::Integer(1));
        let e = s.config::<Cfg>().err().unwrap().to_string();
        assert!(e.contains("lrr") && e.contains("ft@RTE"), "{e}");
    }
}
