//! `report`: the paper's tables with our runs beside them ([`tinybert_eval::write_report`], as
//! `tinybert report`): `report.md`, `report.csv` and SVG charts in the output folder, whose
//! location is printed.
//!
//! ```toml
//! [stages.report]
//! kind = "report"
//! layout = "table1"          # or ablation-procedure, ablation-objective, ablation-mapping
//! title = "TinyBERT on GLUE dev"   # optional; default: the paper table's caption
//! paper = true               # show the paper's rows too
//! charts = true
//! bench = "${stages.bench.out}"    # optional: speed-ups from a `bench` stage
//! bench_batch = 32                 # its batch size to read (default: the largest)
//! rows = [
//!   { label = "Teacher", runs = "${stages.eval-teacher.outs}", teacher = true, bench = "teacher" },
//!   { label = "TinyBERT", runs = "${stages.eval-student.outs}", bench = "student" },
//!   { label = "Other", runs = ["runs/x/RTE"], speedup = 9.4 },   # a fixed speed-up
//! ]
//! outs = ["runs/report"]
//! ```
//!
//! Each row's `runs` are run folders with a `summary.json` (from `eval`, `finetune` or the
//! prediction phase of `task-distill`), one per task.

use super::bench::RESULTS_FILE;
use super::common::{at, require_input};
use crate::pipeline::registry::{KindSpec, StageContext, StageKind};
use crate::pipeline::stage::ResolvedStage;
use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use tinybert_eval::{write_report, Layout, ReportSpec, RowSpec};

/// The `report` kind.
pub struct Report;

/// One path or several.
#[derive(Deserialize)]
#[serde(untagged)]
enum Paths {
    One(String),
    Many(Vec<String>),
}

impl Paths {
    fn list(&self) -> Vec<String> {
        match self {
            Paths::One(p) => vec![p.clone()],
            Paths::Many(v) => v.clone(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    label: String,
    runs: Paths,
    #[serde(default)]
    teacher: bool,
    #[serde(default)]
    speedup: Option<f64>,
    #[serde(default)]
    bench: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default = "default_layout")]
    layout: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default = "yes")]
    paper: bool,
    #[serde(default = "yes")]
    charts: bool,
    rows: Vec<Row>,
    #[serde(default)]
    bench: Option<String>,
    #[serde(default)]
    bench_batch: Option<usize>,
}

fn default_layout() -> String {
    "table1".into()
}
fn yes() -> bool {
    true
}

impl Params {
    fn read(stage: &ResolvedStage) -> Result<(Self, Layout)> {
        let p: Params = stage.config()?;
        let layout = Layout::from_name(&p.layout).ok_or_else(|| {
            anyhow!(
                "{}: unknown layout `{}` (known: {})",
                at(stage, "layout"),
                p.layout,
                Layout::ALL.map(Layout::name).join(", ")
            )
        })?;
        if p.rows.is_empty() {
            bail!("{}: no rows", at(stage, "rows"));
        }
        for (i, r) in p.rows.iter().enumerate() {
            let key = format!("rows[{i}] ({})", r.label);
            if r.runs.list().is_empty() {
                bail!("{}: {key}: no runs", at(stage, "rows"));
            }
            if p.rows[..i].iter().any(|o| o.label == r.label) {
                bail!("{}: {key}: duplicate label", at(stage, "rows"));
            }
            if r.bench.is_some() && p.bench.is_none() {
                bail!(
                    "{}: {key}: `bench` needs the stage's `bench` parameter (a bench stage's output)",
                    at(stage, "rows")
                );
            }
            if r.bench.is_some() && r.speedup.is_some() {
                bail!(
                    "{}: {key}: give `speedup` or `bench`, not both",
                    at(stage, "rows")
                );
            }
            if let Some(s) = r.speedup {
                if !(s.is_finite() && s > 0.0) {
                    bail!("{}: {key}: speedup {s} is not positive", at(stage, "rows"));
                }
            }
        }
        if p.rows.iter().filter(|r| r.teacher).count() > 1 {
            bail!(
                "{}: more than one row has teacher = true",
                at(stage, "rows")
            );
        }
        Ok((p, layout))
    }
}

impl StageKind for Report {
    fn spec(&self) -> KindSpec {
        KindSpec {
            name: "report",
            required: &["rows"],
            optional: &["layout", "title", "paper", "charts", "bench", "bench_batch"],
            resumable: false,
        }
    }

    fn check(&self, stage: &ResolvedStage) -> Result<()> {
        let (p, _) = Params::read(stage)?;
        for r in &p.rows {
            for run in r.runs.list() {
                require_input(stage, "rows", &run)?;
            }
        }
        if let Some(b) = &p.bench {
            require_input(stage, "bench", b)?;
        }
        stage.out()?;
        Ok(())
    }

    fn run(&self, stage: &ResolvedStage, ctx: &StageContext) -> Result<()> {
        let (p, layout) = Params::read(stage)?;
        let bench = match &p.bench {
            Some(b) => Some(read_bench(&ctx.path(b).join(RESULTS_FILE))?),
            None => None,
        };
        let mut rows = Vec::new();
        for r in &p.rows {
            let speedup = match (&r.bench, &bench) {
                (Some(name), Some(results)) => Some(
                    bench_speedup(results, name, p.bench_batch)
                        .map_err(|e| anyhow!("{}: row `{}`: {e}", at(stage, "rows"), r.label))?,
                ),
                _ => r.speedup,
            };
            rows.push(RowSpec {
                label: r.label.clone(),
                runs: r.runs.list().iter().map(|d| ctx.path(d)).collect(),
                teacher: r.teacher,
                speedup,
            });
        }
        let spec = ReportSpec {
            title: p
                .title
                .clone()
                .unwrap_or_else(|| layout.caption().to_string()),
            layout,
            include_paper: p.paper,
            charts: p.charts,
            rows,
            origin: PathBuf::from(format!("{} (stage `{}`)", stage.origin, stage.name)),
            base: Some(ctx.workdir.clone()),
        };
        let out = ctx.path(stage.out()?);
        write_report(&spec, &out)
            .with_context(|| format!("writing the report into {}", out.display()))?;
        let md = out.join("report.md");
        ctx.progress
            .suspend(|| println!("report: {}", md.display()));
        Ok(())
    }
}

/// The `results` rows of a bench stage's `inference.json`.
fn read_bench(path: &Path) -> Result<Vec<serde_json::Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    v["results"]
        .as_array()
        .cloned()
        .ok_or_else(|| anyhow!("{}: no `results` list", path.display()))
}

/// The speed-up of model `name` (this implementation's rows) at `batch`, or at the largest
/// batch measured.
fn bench_speedup(results: &[serde_json::Value], name: &str, batch: Option<usize>) -> Result<f64> {
    let ours: Vec<&serde_json::Value> = results
        .iter()
        .filter(|r| r["name"] == name && r["impl"] == "tinybert")
        .collect();
    if ours.is_empty() {
        let names: Vec<&str> = results.iter().filter_map(|r| r["name"].as_str()).collect();
        bail!(
            "no model `{name}` in the benchmark (it has: {})",
            names.join(", ")
        );
    }
    let batch_of = |r: &serde_json::Value| r["batch"].as_u64().unwrap_or(0) as usize;
    let wanted = batch.unwrap_or_else(|| ours.iter().map(|r| batch_of(r)).max().unwrap_or(0));
    let row = ours
        .iter()
        .find(|r| batch_of(r) == wanted)
        .ok_or_else(|| anyhow!("model `{name}` was not measured at batch {wanted}"))?;
    row["speedup"]
        .as_f64()
        .ok_or_else(|| anyhow!("model `{name}` has no speed-up at batch {wanted}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speedups_come_from_the_named_model_at_the_largest_or_given_batch() {
        let results: Vec<serde_json::Value> = serde_json::from_str(
            r#"[{"name":"t","impl":"tinybert","batch":1,"speedup":1.0},
                {"name":"s","impl":"tinybert","batch":1,"speedup":3.0},
                {"name":"s","impl":"tinybert","batch":32,"speedup":5.0},
                {"name":"s","impl":"pytorch","batch":64,"speedup":7.0}]"#,
        )
        .unwrap();
        assert_eq!(bench_speedup(&results, "s", None).unwrap(), 5.0);
        assert_eq!(bench_speedup(&results, "s", Some(1)).unwrap(), 3.0);
        let e = bench_speedup(&results, "x", None).unwrap_err().to_string();
        assert!(e.contains("it has: t, s, s, s"), "{e}");
        assert!(bench_speedup(&results, "t", Some(32)).is_err());
    }
}
