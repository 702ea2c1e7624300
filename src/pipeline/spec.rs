//! Loading a pipeline file: TOML parsing, `-p` overrides, `[params]` references, `foreach`
//! expansion, `${...}` resolution and the checks against the kind registry, into a [`Pipeline`].
//!
//! ```toml
//! workdir = ".."                      # optional, relative to this file's folder
//! [params]
//! tasks = ["SST-2", "RTE"]
//! lr = 5e-5
//! [stages.finetune]
//! kind = "finetune"
//! foreach = "${params.tasks}"         # one stage per item: finetune@SST-2, finetune@RTE
//! teacher = "${stages.teacher.out}"   # a stage output: also an input of this stage
//! lr = "${params.lr}"                 # a whole reference keeps the type (here a float)
//! deps = ["data/glue/${item}"]
//! outs = ["runs/finetune/${item}"]
//! ```

use super::dag::Graph;
use super::interp::{interpolate, resolve_value};
use super::paths;
use super::registry::Registry;
use super::stage::ResolvedStage;
use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::{Spanned, Table, Value};

/// Stage-table keys that are not kind parameters.
const RESERVED: [&str; 6] = ["kind", "deps", "outs", "foreach", "desc", "ranks"];

/// A loaded, resolved and validated pipeline.
pub struct Pipeline {
    /// The pipeline file as given (used in messages; the lock file lies next to it).
    pub file: PathBuf,
    /// The optional top-level `description`.
    pub description: Option<String>,
    /// Absolute directory the relative paths are relative to: the file's folder joined with the
    /// optional top-level `workdir`.
    pub workdir: PathBuf,
    /// Stages in file order, `foreach` instances in item order.
    pub stages: Vec<ResolvedStage>,
    /// Which stage feeds which, and an order to run them in.
    pub graph: Graph,
    /// Whether `-p` overrides changed `[params]` (so that the stages may not be the file's
    /// own: a `foreach` over a parameter may have fewer instances).
    pub overridden: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    description: Option<String>,
    workdir: Option<String>,
    #[serde(default)]
    params: Table,
    #[serde(default)]
    stages: BTreeMap<String, Spanned<BTreeMap<String, Spanned<Value>>>>,
}

/// A `[stages.<name>]` table before expansion.
struct Def {
    name: String,
    offset: usize,
    keys: BTreeMap<String, Spanned<Value>>,
}

/// A stage instance between the two resolution passes.
struct Instance {
    def: usize,
    name: String,
    item: Option<Value>,
    outs: Vec<String>,
}

/// Outputs by stage name and instances by `foreach` group, for `${stages.NAME.out(s)}`.
#[derive(Default)]
struct OutIndex {
    stages: BTreeMap<String, Vec<String>>,
    groups: BTreeMap<String, Vec<String>>,
}

impl Pipeline {
    /// Reads, resolves and validates `file`; `overrides` are `-p key=value` strings.
    pub fn load(file: &Path, overrides: &[String], registry: &Registry) -> Result<Self> {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read pipeline file {}", file.display()))?;
        Self::parse(file, &text, overrides, registry)
    }

    /// [`Pipeline::load`] on text already read from `file`.
    pub fn parse(
        file: &Path,
        text: &str,
        overrides: &[String],
        registry: &Registry,
    ) -> Result<Self> {
        let f = file.display().to_string();
        let doc: Document = toml::from_str(text).map_err(|e| {
            let at = e.span().map_or(String::new(), |s| {
                let before = &text[..s.start.min(text.len())];
                let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!("{}:{col}:", before.matches('\n').count() + 1)
            });
            anyhow!("{f}:{at} {}", e.message().trim_end())
        })?;
        let mut raw = doc.params;
        for o in overrides {
            apply_override(&mut raw, o).map_err(|e| anyhow!("{f}: -p {o}: {e}"))?;
        }
        let params = resolve_params(&raw).map_err(|e| anyhow!("{f}: [params]: {e}"))?;
        let workdir = workdir_of(file, doc.workdir.as_deref())?;

        let mut defs: Vec<Def> = doc
            .stages
            .into_iter()
            .map(|(name, t)| Def {
                name,
                offset: t.span().start,
                keys: t.into_inner(),
            })
            .collect();
        defs.sort_by_key(|d| d.offset);
        let line = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let at = |d: &Def, key: Option<&str>| {
            let off = key
                .and_then(|k| d.keys.get(k))
                .map_or(d.offset, |v| v.span().start);
            format!("{f}:{}: stage `{}`", line(off), d.name)
        };

        let mut instances = Vec::new();
        for (i, d) in defs.iter().enumerate() {
            check_def(d, registry, &at)?;
            let items = match d.keys.get("foreach") {
                None => vec![None],
                Some(v) => {
                    let mut scope = Scope::new(&params, None, None);
                    foreach_items(v.get_ref(), &mut scope)
                        .map_err(|e| anyhow!("{}: foreach: {e}", at(d, Some("foreach"))))?
                        .into_iter()
                        .map(Some)
                        .collect()
                }
            };
            for item in items {
                let name = match &item {
                    Some(v) => format!("{}@{}", d.name, item_label(v)?),
                    None => d.name.clone(),
                };
                let mut scope = Scope::new(&params, item.as_ref(), None);
                let outs = path_list(d.keys.get("outs"), &mut scope)
                    .and_then(|outs| {
                        for o in &outs {
                            paths::check_output(o)?;
                        }
                        Ok(outs)
                    })
                    .map_err(|e| anyhow!("{}: outs: {e}", at(d, Some("outs"))))?;
                instances.push(Instance {
                    def: i,
                    name,
                    item,
                    outs,
                });
            }
        }

        let mut index = OutIndex::default();
        for inst in &instances {
            index.stages.insert(inst.name.clone(), inst.outs.clone());
            if inst.item.is_some() {
                let group = &defs[inst.def].name;
                index
                    .groups
                    .entry(group.clone())
                    .or_default()
                    .push(inst.name.clone());
            }
        }

        let mut stages = Vec::with_capacity(instances.len());
        for inst in instances {
            let d = &defs[inst.def];
            let kind_name = d.keys["kind"].get_ref().as_str().unwrap_or_default();
            let mut scope = Scope::new(&params, inst.item.as_ref(), Some(&index));
            let mut stage_params = BTreeMap::new();
            for (key, v) in d
                .keys
                .iter()
                .filter(|(k, _)| !RESERVED.contains(&k.as_str()))
            {
                let value = resolve_value(v.get_ref(), &mut |n| scope.lookup(n))
                    .map_err(|e| anyhow!("{}: {key}: {e}", at(d, Some(key)), key = key))?;
                stage_params.insert(key.clone(), value);
            }
            let mut deps = path_list(d.keys.get("deps"), &mut scope)
                .map_err(|e| anyhow!("{}: deps: {e}", at(d, Some("deps"))))?;
            for r in std::mem::take(&mut scope.referenced) {
                if !deps.contains(&r) {
                    deps.push(r);
                }
            }
            let desc = match d.keys.get("desc") {
                None => None,
                Some(v) => {
                    let mut plain = Scope::new(&params, inst.item.as_ref(), None);
                    let text = v.get_ref().as_str().unwrap_or_default();
                    match interpolate(text, &mut |n| plain.lookup(n))
                        .map_err(|e| anyhow!("{}: desc: {e}", at(d, Some("desc"))))?
                    {
                        Value::String(s) => Some(s),
                        other => Some(other.to_string()),
                    }
                }
            };
            let ranks = match d.keys.get("ranks") {
                None => 1,
                Some(v) => {
                    let at = || at(d, Some("ranks"));
                    match resolve_value(v.get_ref(), &mut |n| scope.lookup(n))
                        .map_err(|e| anyhow!("{}: {e}", at()))?
                    {
                        Value::Integer(n) if n >= 1 => n as usize,
                        other => bail!(
                            "{}: `ranks` must be a whole number of at least 1, found {other}",
                            at()
                        ),
                    }
                }
            };
            let spec = registry.get(kind_name).expect("kind checked").spec();
            if ranks > 1 && !spec.data_parallel {
                bail!(
                    "{}: kind `{kind_name}` does not run as several ranks (only the trainers do: mlm-head, general-distill, finetune, task-distill)",
                    at(d, Some("ranks"))
                );
            }
            let stage = ResolvedStage {
                group: d.name.clone(),
                kind: kind_name.to_string(),
                params: stage_params,
                deps,
                outs: inst.outs,
                desc,
                ranks,
                origin: format!("{f}:{}", line(d.offset)),
                name: inst.name,
            };
            let kind = registry.get(kind_name).expect("kind checked in check_def");
            kind.check(&stage, &workdir).map_err(|e| {
                // The `ResolvedStage` getters already name the place.
                let e = format!("{e:#}");
                match e.starts_with(&stage.origin) {
                    true => anyhow!(e),
                    false => anyhow!("{}: stage `{}`: {e}", stage.origin, stage.name),
                }
            })?;
            stages.push(stage);
        }

        let graph = Graph::build(&stages)?;
        Ok(Pipeline {
            file: file.to_path_buf(),
            description: doc.description,
            workdir,
            stages,
            graph,
            overridden: !overrides.is_empty(),
        })
    }

    /// Index of the stage called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.stages.iter().position(|s| s.name == name)
    }
}

/// Checks a stage table's name, kind, key types and parameter keys.
fn check_def(
    d: &Def,
    registry: &Registry,
    at: &dyn Fn(&Def, Option<&str>) -> String,
) -> Result<()> {
    if d.name.is_empty()
        || !d
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bail!(
            "{}: a stage name may only contain letters, digits, `-` and `_`",
            at(d, None)
        );
    }
    let kind = match d.keys.get("kind").map(|v| v.get_ref()) {
        Some(Value::String(k)) => k,
        Some(_) => bail!("{}: `kind` must be a string", at(d, Some("kind"))),
        None => bail!("{}: missing `kind`", at(d, None)),
    };
    let Some(spec) = registry.get(kind).map(|k| k.spec()) else {
        let known = registry.names();
        let known = if known.is_empty() {
            "no stage kinds are built into this binary yet".to_string()
        } else {
            format!("known kinds: {}", known.join(", "))
        };
        bail!("{}: unknown kind `{kind}` ({known})", at(d, Some("kind")));
    };
    if let Some(v) = d.keys.get("desc") {
        if !v.get_ref().is_str() {
            bail!("{}: `desc` must be a string", at(d, Some("desc")));
        }
    }
    for key in d.keys.keys() {
        if !RESERVED.contains(&key.as_str()) && !spec.allows(key) {
            let allowed = spec.names();
            bail!(
                "{}: unknown key `{key}` for kind `{kind}` (parameters: {}; reserved: {})",
                at(d, Some(key)),
                if allowed.is_empty() { "none" } else { &allowed },
                RESERVED.join(", ")
            );
        }
    }
    for key in spec.required() {
        if !d.keys.contains_key(key) {
            bail!(
                "{}: missing parameter `{key}` (required by kind `{kind}`)",
                at(d, None)
            );
        }
    }
    Ok(())
}

/// `workdir` (default `.`) relative to the pipeline file's folder, absolute.
fn workdir_of(file: &Path, workdir: Option<&str>) -> Result<PathBuf> {
    let base = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = base.join(workdir.unwrap_or("."));
    let abs = dir
        .canonicalize()
        .or_else(|_| std::path::absolute(&dir))
        .with_context(|| format!("{}: workdir {}", file.display(), dir.display()))?;
    Ok(abs)
}

/// The `foreach` value: a list of strings, integers or booleans, without duplicates; or a
/// table of such lists (`{ task = [...], seed = [...] }`), whose items are every combination
/// (tables, read as `${item.task}`), the last key varying fastest.
fn foreach_items(v: &Value, scope: &mut Scope) -> Result<Vec<Value>> {
    let resolved = resolve_value(v, &mut |n| scope.lookup(n))?;
    let items = match resolved {
        Value::Array(items) => items,
        Value::Table(axes) => {
            let mut combos = vec![Table::new()];
            for (key, values) in axes {
                let Value::Array(values) = values else {
                    bail!("`{key}`: expected a list, found {values}");
                };
                if values.is_empty() {
                    bail!("`{key}`: the list is empty");
                }
                let mut next = Vec::with_capacity(combos.len() * values.len());
                for c in &combos {
                    for v in &values {
                        let mut c = c.clone();
                        c.insert(key.clone(), v.clone());
                        next.push(c);
                    }
                }
                combos = next;
            }
            combos.into_iter().map(Value::Table).collect()
        }
        other => bail!(
            "expected a list, a table of lists (or `${{params.NAME}}` holding one), found {other}"
        ),
    };
    let mut labels = Vec::new();
    for item in &items {
        let label = item_label(item)?;
        if labels.contains(&label) {
            bail!("item `{label}` appears twice");
        }
        labels.push(label);
    }
    Ok(items)
}

/// The text after `@` in an instance name: the item, or a table item's values joined by `-`
/// in key order.
fn item_label(v: &Value) -> Result<String> {
    let label = match v {
        Value::String(s) => s.clone(),
        Value::Integer(i) => i.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::Table(t) if !t.is_empty() => {
            return t
                .values()
                .map(|v| match v {
                    Value::Table(_) => bail!("items of a table `foreach` must be plain values"),
                    v => item_label(v),
                })
                .collect::<Result<Vec<_>>>()
                .map(|parts| parts.join("-"));
        }
        other => bail!("items must be strings, integers or booleans, found {other}"),
    };
    if label.is_empty()
        || !label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        bail!("item `{label}` may only contain letters, digits, `-`, `_` and `.`");
    }
    Ok(label)
}

/// A `deps` or `outs` value (a path or list of paths, nested lists flattened), normalised.
fn path_list(v: Option<&Spanned<Value>>, scope: &mut Scope) -> Result<Vec<String>> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let resolved = resolve_value(v.get_ref(), &mut |n| scope.lookup(n))?;
    let mut out = Vec::new();
    flatten_paths(&resolved, &mut out)?;
    let mut normalized: Vec<String> = Vec::with_capacity(out.len());
    for p in out {
        let n = paths::normalize(&p)?;
        if !normalized.contains(&n) {
            normalized.push(n);
        }
    }
    Ok(normalized)
}

fn flatten_paths(v: &Value, out: &mut Vec<String>) -> Result<()> {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => {
            for i in items {
                flatten_paths(i, out)?;
            }
        }
        other => bail!("expected a path or a list of paths, found {other}"),
    }
    Ok(())
}

/// What `${...}` can see while resolving one stage, and the stage outputs it referenced.
struct Scope<'a> {
    params: &'a Table,
    item: Option<&'a Value>,
    outs: Option<&'a OutIndex>,
    referenced: Vec<String>,
}

impl<'a> Scope<'a> {
    fn new(params: &'a Table, item: Option<&'a Value>, outs: Option<&'a OutIndex>) -> Self {
        Scope {
            params,
            item,
            outs,
            referenced: Vec::new(),
        }
    }

    fn lookup(&mut self, name: &str) -> Result<Value> {
        if let Some(key) = name.strip_prefix("item") {
            let item = self
                .item
                .ok_or_else(|| anyhow!("`${{item}}` is only defined in a stage with `foreach`"))?;
            return match (key.strip_prefix('.'), item) {
                (None, _) if key.is_empty() => Ok(item.clone()),
                (Some(k), Value::Table(t)) => t
                    .get(k)
                    .cloned()
                    .ok_or_else(|| anyhow!("`${{{name}}}`: the item has {}", key_list(t))),
                (Some(_), _) => {
                    bail!("`${{{name}}}`: the item `{item}` is not a table (`foreach` is a list)")
                }
                (None, _) => bail!("unknown reference `${{{name}}}`"),
            };
        }
        if let Some(key) = name.strip_prefix("params.") {
            return get_dotted(self.params, key)
                .cloned()
                .ok_or_else(|| undefined_param(name, self.params));
        }
        if let Some(rest) = name.strip_prefix("stages.") {
            return self.stage_outputs(name, rest);
        }
        bail!("unknown reference `${{{name}}}` (expected `${{params.NAME}}`, `${{item}}` or `${{stages.NAME.out}}`)")
    }

    fn stage_outputs(&mut self, name: &str, rest: &str) -> Result<Value> {
        let (stage, all) = match (rest.strip_suffix(".outs"), rest.strip_suffix(".out")) {
            (Some(s), _) => (s, true),
            (None, Some(s)) => (s, false),
            _ => bail!("`${{{name}}}`: expected `${{stages.NAME.out}}` or `${{stages.NAME.outs}}`"),
        };
        let index = self.outs.ok_or_else(|| {
            anyhow!("`${{{name}}}`: outputs and `foreach` cannot refer to stage outputs")
        })?;
        let outs: Vec<String> = if let Some(o) = index.stages.get(stage) {
            o.clone()
        } else if let Some(members) = index.groups.get(stage) {
            if !all {
                bail!("`${{{name}}}`: `{stage}` is a foreach group; use `${{stages.{stage}.outs}}` for all its outputs or name one instance such as `{}`", members[0]);
            }
            members
                .iter()
                .flat_map(|m| index.stages[m].clone())
                .collect()
        } else {
            bail!("`${{{name}}}`: no stage `{stage}`");
        };
        self.referenced.extend(outs.iter().cloned());
        if all {
            return Ok(Value::Array(outs.into_iter().map(Value::String).collect()));
        }
        match <[String; 1]>::try_from(outs) {
            Ok([one]) => Ok(Value::String(one)),
            Err(outs) => bail!(
                "`${{{name}}}`: stage `{stage}` has {} outputs; use `${{stages.{stage}.outs}}`",
                outs.len()
            ),
        }
    }
}

fn get_dotted<'a>(t: &'a Table, key: &str) -> Option<&'a Value> {
    let mut parts = key.split('.');
    let mut v = t.get(parts.next()?)?;
    for p in parts {
        v = v.as_table()?.get(p)?;
    }
    Some(v)
}

fn undefined_param(name: &str, params: &Table) -> anyhow::Error {
    anyhow!(
        "undefined parameter `${{{name}}}` ([params] has: {})",
        key_list(params)
    )
}

/// The keys of `table` for an error message (`nothing` when empty).
fn key_list(table: &Table) -> String {
    if table.is_empty() {
        "nothing".to_string()
    } else {
        let keys: Vec<&str> = table.keys().map(String::as_str).collect();
        keys.join(", ")
    }
}

/// Applies one `-p key=value` to the raw `[params]` table. The key must exist (dotted keys
/// reach into sub-tables); the value is parsed as TOML unless the file's value is a string, a
/// bare word becomes a string, and `a,b` becomes a list where the file has a list of strings.
fn apply_override(raw: &mut Table, o: &str) -> Result<()> {
    let (key, text) = o
        .split_once('=')
        .ok_or_else(|| anyhow!("expected KEY=VALUE"))?;
    let key = key.trim();
    let known = key_list(raw);
    let unknown = || anyhow!("no parameter `{key}` in [params] (it has: {known})");
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().ok_or_else(unknown)?;
    let mut table = &mut *raw;
    for p in parts {
        table = table
            .get_mut(p)
            .and_then(Value::as_table_mut)
            .ok_or_else(unknown)?;
    }
    let slot = table.get_mut(last).ok_or_else(unknown)?;
    *slot = override_value(text, slot);
    Ok(())
}

fn override_value(text: &str, old: &Value) -> Value {
    if old.is_str() {
        return Value::String(text.to_string());
    }
    match (text.parse::<Value>(), old) {
        (Ok(Value::Integer(i)), Value::Float(_)) => Value::Float(i as f64),
        (Ok(v), _) => v,
        (Err(_), Value::Array(a)) if a.iter().all(Value::is_str) => Value::Array(
            text.split(',')
                .map(|s| Value::String(s.trim().to_string()))
                .filter(|v| v.as_str() != Some(""))
                .collect(),
        ),
        (Err(_), _) => Value::String(text.to_string()),
    }
}

/// `[params]` with references to other parameters replaced (cycles are errors).
fn resolve_params(raw: &Table) -> Result<Table> {
    let mut out = Table::new();
    for (k, v) in raw {
        let mut stack = vec![k.clone()];
        let value = resolve_param(raw, v, &mut stack).map_err(|e| anyhow!("key `{k}`: {e}"))?;
        out.insert(k.clone(), value);
    }
    Ok(out)
}

fn resolve_param(raw: &Table, v: &Value, stack: &mut Vec<String>) -> Result<Value> {
    resolve_value(v, &mut |name| {
        let key = name.strip_prefix("params.").ok_or_else(|| {
            anyhow!("`${{{name}}}`: only `${{params.NAME}}` references are allowed in [params]")
        })?;
        if stack.iter().any(|s| s == key) {
            bail!("circular reference {} -> {key}", stack.join(" -> "));
        }
        let target = get_dotted(raw, key).ok_or_else(|| undefined_param(name, raw))?;
        stack.push(key.to_string());
        let r = resolve_param(raw, target, stack);
        stack.pop();
        r
    })
}
