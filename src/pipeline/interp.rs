//! `${...}` references inside pipeline-file strings.
//!
//! `${params.a.b}`, `${item}` and `${stages.NAME.out}` are looked up by the caller; this module
//! only finds them. References nest (`${stages.finetune@${item}.out}`: the inner one is replaced
//! first) and `$${` is a literal `${`.

use anyhow::{bail, Result};
use toml::Value;

/// A function from a reference's name (the text between `${` and `}`) to its value.
pub type Lookup<'a> = dyn FnMut(&str) -> Result<Value> + 'a;

/// Replaces the references in every string inside `value` (arrays and tables included).
pub fn resolve_value(value: &Value, lookup: &mut Lookup) -> Result<Value> {
    Ok(match value {
        Value::String(s) => interpolate(s, lookup)?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| resolve_value(v, lookup))
                .collect::<Result<_>>()?,
        ),
        Value::Table(t) => {
            let mut out = toml::Table::new();
            for (k, v) in t {
                out.insert(k.clone(), resolve_value(v, lookup)?);
            }
            Value::Table(out)
        }
        other => other.clone(),
    })
}

/// Replaces the references in `s`. A string that is exactly one reference takes the value's own
/// type (number, list, table); inside a longer string a value is inserted as text.
pub fn interpolate(s: &str, lookup: &mut Lookup) -> Result<Value> {
    if s.starts_with("${") && closing_brace(s)? == s.len() - 1 {
        let name = interpolate_text(&s[2..s.len() - 1], lookup)?;
        return lookup(&name);
    }
    Ok(Value::String(interpolate_text(s, lookup)?))
}

fn interpolate_text(s: &str, lookup: &mut Lookup) -> Result<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if tail.starts_with("${") {
            let end = closing_brace(tail)?;
            let name = interpolate_text(&tail[2..end], lookup)?;
            out.push_str(&as_text(&lookup(&name)?, &name)?);
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Byte index of the `}` closing the `${` that `s` starts with.
fn closing_brace(s: &str) -> Result<usize> {
    let bytes = s.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && bytes.get(i + 1) == Some(&b'{') {
            depth += 1;
            i += 2;
            continue;
        }
        if bytes[i] == b'}' {
            depth -= 1;
            if depth == 0 {
                return Ok(i);
            }
        }
        i += 1;
    }
    bail!("unclosed `${{` in \"{s}\"")
}

fn as_text(v: &Value, name: &str) -> Result<String> {
    Ok(match v {
        Value::String(s) => s.clone(),
        Value::Integer(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::Datetime(d) => d.to_string(),
        Value::Array(_) | Value::Table(_) => {
            bail!(
                "`${{{name}}}` is a {} and cannot be part of a longer string",
                v.type_str()
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table_lookup(name: &str) -> Result<Value> {
        match name {
            "params.lr" => Ok(Value::Float(2e-5)),
            "params.task" => Ok(Value::String("RTE".into())),
            "params.tasks" => Ok(Value::Array(vec!["a".into(), "b".into()])),
            "stages.ft@RTE.out" => Ok(Value::String("runs/ft/RTE".into())),
            other => bail!("undefined `${{{other}}}`"),
        }
    }

    fn run(s: &str) -> Result<Value> {
        interpolate(s, &mut table_lookup)
    }

    #[test]
    fn whole_reference_keeps_the_value_type() {
        assert_eq!(run("${params.lr}").unwrap(), Value::Float(2e-5));
        assert!(run("${params.tasks}").unwrap().is_array());
    }

    #[test]
    fn references_inside_text_are_inserted_as_text_and_nest() {
        assert_eq!(
            run("runs/${params.task}/lr-${params.lr}").unwrap().as_str(),
            Some("runs/RTE/lr-0.00002")
        );
        assert_eq!(
            run("${stages.ft@${params.task}.out}/model")
                .unwrap()
                .as_str(),
            Some("runs/ft/RTE/model")
        );
    }

    #[test]
    fn escapes_lone_dollars_and_errors() {
        assert_eq!(run("a$${b}$c").unwrap().as_str(), Some("a${b}$c"));
        assert!(run("x ${params.tasks}")
            .unwrap_err()
            .to_string()
            .contains("array"));
        assert!(run("${params.nope}")
            .unwrap_err()
            .to_string()
            .contains("params.nope"));
        assert!(run("${params.lr")
            .unwrap_err()
            .to_string()
            .contains("unclosed"));
    }
}
