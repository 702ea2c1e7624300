//! A pipeline stage's parameter table as the command-line flags of its job, so that one clap
//! declaration parses both: `n_aug = 20` is `--n-aug 20`, `skip_bad_rows = true` is
//! `--skip-bad-rows`, a list of plain values repeats the flag, and a table (or a list holding
//! tables) is passed as one JSON value (`student = { layers = 3, ... }` is
//! `--student '{"layers":3,...}'`). Keys are the arguments' ids (the job's field names).

use anyhow::{anyhow, bail, Result};
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{ArgAction, Command};
use std::collections::BTreeMap;
use toml::Value;

/// Arguments a stage does not set itself: the runner gives `output` (from `outs`) and resumes
/// interrupted stages on its own.
pub const RUNNER_ARGS: [&str; 2] = ["output", "resume"];

/// The stage parameters a job accepts: `(id, required, help)` of each argument of `cmd`, except
/// [`RUNNER_ARGS`] and clap's own `help`.
pub fn params(cmd: &Command) -> Vec<(String, bool, String)> {
    cmd.get_arguments()
        .filter(|a| {
            let id = a.get_id().as_str();
            !RUNNER_ARGS.contains(&id) && id != "help" && a.get_long().is_some()
        })
        .map(|a| {
            let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
            (a.get_id().to_string(), a.is_required_set(), help)
        })
        .collect()
}

/// The command line that sets `params` (and `--output output`) on `cmd`. An unknown key, a key
/// the runner owns, or a value of the wrong shape is an error naming the key.
pub fn stage_args(
    cmd: &Command,
    params: &BTreeMap<String, Value>,
    output: Option<&str>,
) -> Result<Vec<String>> {
    let mut args = vec![cmd.get_name().to_string()];
    for (key, value) in params {
        if RUNNER_ARGS.contains(&key.as_str()) {
            bail!("parameter `{key}`: set by the runner (outputs go in `outs`; interrupted stages resume by themselves)");
        }
        let Some(arg) = cmd
            .get_arguments()
            .find(|a| a.get_id() == key.as_str() && a.get_long().is_some())
        else {
            let known: Vec<String> = params_list(cmd);
            bail!(
                "unknown parameter `{key}` (kind `{}` takes: {})",
                cmd.get_name(),
                known.join(", ")
            );
        };
        let flag = format!("--{}", arg.get_long().unwrap_or_default());
        let is_switch = matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse);
        match value {
            Value::Boolean(b) if is_switch => {
                if *b == matches!(arg.get_action(), ArgAction::SetTrue) {
                    args.push(flag);
                }
            }
            Value::Array(items) if !items.iter().any(is_nested) => {
                for item in items {
                    args.extend([flag.clone(), scalar(item)]);
                }
            }
            v if is_nested(v) => args.extend([flag, serde_json::to_string(v)?]),
            v if is_switch => bail!("parameter `{key}`: expected true or false, found {v}"),
            v => args.extend([flag, scalar(v)]),
        }
    }
    if let Some(out) = output {
        args.extend(["--output".to_string(), out.to_string()]);
    }
    Ok(args)
}

fn params_list(cmd: &Command) -> Vec<String> {
    params(cmd).into_iter().map(|(id, _, _)| id).collect()
}

/// Tables and lists are passed as JSON.
fn is_nested(v: &Value) -> bool {
    matches!(v, Value::Table(_) | Value::Array(_))
}

/// A plain TOML value as a command-line word.
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Integer(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::Datetime(d) => d.to_string(),
        other => other.to_string(),
    }
}

/// A clap parse error of a stage's generated command line, on one line, naming the stage's keys
/// instead of flags.
pub fn stage_error(cmd: &Command, e: &clap::Error) -> anyhow::Error {
    let key = |flag: &str| -> String {
        let long = flag
            .trim_start_matches('-')
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .next()
            .unwrap_or_default();
        cmd.get_arguments()
            .find(|a| a.get_long() == Some(long))
            .map_or_else(|| flag.to_string(), |a| a.get_id().to_string())
    };
    let strings = |kind: ContextKind| -> Vec<String> {
        match e.get(kind) {
            Some(ContextValue::String(s)) => vec![s.clone()],
            Some(ContextValue::Strings(v)) => v.clone(),
            _ => Vec::new(),
        }
    };
    let arg = strings(ContextKind::InvalidArg);
    let names = arg
        .iter()
        .map(|a| format!("`{}`", key(a)))
        .collect::<Vec<_>>()
        .join(", ");
    match e.kind() {
        ErrorKind::MissingRequiredArgument => anyhow!("missing parameter {names}"),
        ErrorKind::ArgumentConflict => {
            let prior = strings(ContextKind::PriorArg)
                .iter()
                .map(|a| format!("`{}`", key(a)))
                .collect::<Vec<_>>()
                .join(", ");
            anyhow!("parameter {names} cannot be used with {prior}")
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation | ErrorKind::WrongNumberOfValues => {
            let value = strings(ContextKind::InvalidValue).join(" ");
            let why = std::error::Error::source(e)
                .map(|s| s.to_string())
                .unwrap_or_else(|| first_line(e));
            anyhow!("parameter {names} = `{value}`: {why}")
        }
        _ => anyhow!("{}", first_line(e)),
    }
}

/// clap's message without its usage lines, on one line.
fn first_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let body = text.split("\n\nUsage:").next().unwrap_or_default();
    body.trim_start_matches("error: ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Args, FromArgMatches};

    /// A job-like argument set with every shape of parameter.
    #[derive(Debug, Args, PartialEq)]
    struct Example {
        #[arg(long)]
        task: String,
        #[arg(long, default_value_t = 20, value_parser = crate::jobs::values::positive)]
        n_aug: usize,
        #[arg(long)]
        skip_bad_rows: bool,
        #[arg(long)]
        lr: Option<f64>,
        #[arg(long)]
        splits: Vec<String>,
        #[arg(long)]
        student: Option<String>,
        #[arg(long)]
        output: String,
    }

    fn parse(toml_text: &str) -> Result<Example> {
        let cmd = Example::augment_args(Command::new("example").no_binary_name(false));
        let table: toml::Table = toml_text.parse().unwrap();
        let params: BTreeMap<String, Value> = table.into_iter().collect();
        let argv = stage_args(&cmd, &params, Some("runs/x"))?;
        let m = cmd
            .clone()
            .try_get_matches_from(argv)
            .map_err(|e| stage_error(&cmd, &e))?;
        Ok(Example::from_arg_matches(&m)?)
    }

    #[test]
    fn a_stage_table_parses_to_the_same_values_as_the_command_line() {
        let e = parse(
            "task = \"RTE\"\nskip_bad_rows = true\nlr = 1e-5\nsplits = [\"train\", \"dev\"]\nstudent = { layers = 3 }",
        )
        .unwrap();
        let cmd = Example::augment_args(Command::new("example"));
        let m = cmd
            .try_get_matches_from([
                "example",
                "--task",
                "RTE",
                "--skip-bad-rows",
                "--lr",
                "0.00001",
                "--splits",
                "train",
                "--splits",
                "dev",
                "--student",
                "{\"layers\":3}",
                "--output",
                "runs/x",
            ])
            .unwrap();
        assert_eq!(e, Example::from_arg_matches(&m).unwrap());
        assert_eq!(e.n_aug, 20, "the default applies to both doors");
    }

    #[test]
    fn bad_stage_parameters_are_errors_naming_the_key() {
        let e = parse("task = \"RTE\"\nn_agu = 3").unwrap_err().to_string();
        assert!(
            e.contains("unknown parameter `n_agu`") && e.contains("n_aug"),
            "{e}"
        );
        let e = parse("n_aug = 3").unwrap_err().to_string();
        assert!(e.contains("missing parameter `task`"), "{e}");
        let e = parse("task = \"RTE\"\nn_aug = 0").unwrap_err().to_string();
        assert!(
            e.contains("`n_aug` = `0`") && e.contains("at least 1"),
            "{e}"
        );
        let e = parse("task = \"RTE\"\nlr = \"fast\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`lr` = `fast`"), "{e}");
        let e = parse("task = \"RTE\"\nskip_bad_rows = 1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`skip_bad_rows`: expected true or false"), "{e}");
        let e = parse("task = \"RTE\"\noutput = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("set by the runner"), "{e}");
    }
}
