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
//!
//! Several tables in one report: instead of `layout`, `title` and `rows`, give
//! `tables = [{ layout = "ablation-procedure", title = "...", rows = [...] }, ...]`. Each table
//! is written to `<out>/<layout>/` and `<out>/report.md` holds them all, in order.

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

/// One table: a layout, an optional title, its rows.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    #[serde(default = "default_layout")]
    layout: String,
    #[serde(default)]
    title: Option<String>,
    rows: Vec<Row>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default)]
    layout: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    rows: Option<Vec<Row>>,
    #[serde(default)]
    tables: Option<Vec<Table>>,
    #[serde(default = "yes")]
    paper: bool,
    #[serde(default = "yes")]
    charts: bool,
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

/// The parameters with their tables checked: `(layout, sub-folder (none for a single table), table)`.
struct Checked {
    params: Params,
    tables: Vec<(Layout, Option<String>, Table)>,
}

impl Params {
    fn read(stage: &ResolvedStage) -> Result<Checked> {
        let mut p: Params = stage.config()?;
        let tables: Vec<(Option<String>, Table)> = match (p.rows.take(), p.tables.take()) {
            (Some(rows), None) => vec![(
                None,
                Table {
                    layout: p.layout.clone().unwrap_or_else(default_layout),
                    title: p.title.clone(),
                    rows,
                },
            )],
            (None, Some(tables)) if p.layout.is_none() && p.title.is_none() => tables
                .into_iter()
                .map(|t| (Some(t.layout.clone()), t))
                .collect(),
            (None, Some(_)) => bail!(
                "{}: with `tables`, each table has its own `layout` and `title`",
                at(stage, "tables")
            ),
            _ => bail!(
                "{}: give `rows` (one table) or `tables` (several)",
                at(stage, "rows")
            ),
        };
        if tables.is_empty() {
            bail!("{}: no tables", at(stage, "tables"));
        }
        let mut checked = Vec::new();
        for (i, (sub, t)) in tables.into_iter().enumerate() {
            let key = match &sub {
                Some(_) => format!("tables[{i}]"),
                None => "rows".to_string(),
            };
            let layout = Layout::from_name(&t.layout).ok_or_else(|| {
                anyhow!(
                    "{}: unknown layout `{}` (known: {})",
                    at(stage, &key),
                    t.layout,
                    Layout::ALL.map(Layout::name).join(", ")
                )
            })?;
            let sub = sub.map(|_| layout.name().to_string());
            if checked.iter().any(|(_, s, _)| *s == sub) {
                bail!(
                    "{}: two tables with layout `{}`",
                    at(stage, &key),
                    layout.name()
                );
            }
            check_rows(stage, &key, &t.rows, p.bench.is_some())?;
            checked.push((layout, sub, t));
        }
        Ok(Checked {
            params: p,
            tables: checked,
        })
    }
}

fn check_rows(stage: &ResolvedStage, key: &str, rows: &[Row], has_bench: bool) -> Result<()> {
    if rows.is_empty() {
        bail!("{}: no rows", at(stage, key));
    }
    for (i, r) in rows.iter().enumerate() {
        let row = format!("rows[{i}] ({})", r.label);
        if r.runs.list().is_empty() {
            bail!("{}: {row}: no runs", at(stage, key));
        }
        if rows[..i].iter().any(|o| o.label == r.label) {
            bail!("{}: {row}: duplicate label", at(stage, key));
        }
        if r.bench.is_some() && !has_bench {
            bail!(
                "{}: {row}: `bench` needs the stage's `bench` parameter (a bench stage's output)",
                at(stage, key)
            );
        }
        if r.bench.is_some() && r.speedup.is_some() {
            bail!(
                "{}: {row}: give `speedup` or `bench`, not both",
                at(stage, key)
            );
        }
        if let Some(s) = r.speedup {
            if !(s.is_finite() && s > 0.0) {
                bail!("{}: {row}: speedup {s} is not positive", at(stage, key));
            }
        }
    }
    if rows.iter().filter(|r| r.teacher).count() > 1 {
        bail!("{}: more than one row has teacher = true", at(stage, key));
    }
    Ok(())
}

impl StageKind for Report {
    fn spec(&self) -> KindSpec {
        KindSpec {
            name: "report",
            required: &[],
            optional: &[
                "rows",
                "tables",
                "layout",
                "title",
                "paper",
                "charts",
                "bench",
                "bench_batch",
            ],
            resumable: false,
        }
    }

    fn check(&self, stage: &ResolvedStage) -> Result<()> {
        let c = Params::read(stage)?;
        for (_, _, t) in &c.tables {
            for r in &t.rows {
                for run in r.runs.list() {
                    require_input(stage, "rows", &run)?;
                }
            }
        }
        if let Some(b) = &c.params.bench {
            require_input(stage, "bench", b)?;
        }
        stage.out()?;
        Ok(())
    }

    fn run(&self, stage: &ResolvedStage, ctx: &StageContext) -> Result<()> {
        let c = Params::read(stage)?;
        let p = &c.params;
        let bench = match &p.bench {
            Some(b) => Some(read_bench(&ctx.path(b).join(RESULTS_FILE))?),
            None => None,
        };
        let out = ctx.path(stage.out()?);
        let mut combined = String::new();
        for (layout, sub, table) in &c.tables {
            let mut rows = Vec::new();
            for r in &table.rows {
                let speedup = match (&r.bench, &bench) {
                    (Some(name), Some(results)) => {
                        Some(bench_speedup(results, name, p.bench_batch).map_err(|e| {
                            anyhow!("{}: row `{}`: {e}", at(stage, "rows"), r.label)
                        })?)
                    }
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
                title: table
                    .title
                    .clone()
                    .unwrap_or_else(|| layout.caption().to_string()),
                layout: *layout,
                include_paper: p.paper,
                charts: p.charts,
                rows,
                origin: PathBuf::from(format!("{} (stage `{}`)", stage.origin, stage.name)),
                base: Some(ctx.workdir.clone()),
            };
            let dir = match sub {
                Some(s) => out.join(s),
                None => out.clone(),
            };
            write_report(&spec, &dir)
                .with_context(|| format!("writing the report into {}", dir.display()))?;
            if let Some(s) = sub {
                let md = dir.join("report.md");
                let text = std::fs::read_to_string(&md)
                    .with_context(|| format!("cannot read {}", md.display()))?;
                combined.push_str(&text.replace("](charts/", &format!("]({s}/charts/")));
                combined.push('\n');
            }
        }
        let md = out.join("report.md");
        if !combined.is_empty() {
            std::fs::write(&md, combined)
                .with_context(|| format!("cannot write {}", md.display()))?;
        }
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
