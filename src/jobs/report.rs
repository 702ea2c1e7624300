//! `report` (`tinybert report`): the paper's tables with our runs beside them
//! ([`tinybert_eval::write_report`]): `report.md`, `report.csv` and SVG charts in the output
//! folder. The tables come from a `REPORT.toml` (`spec`), from run folders (`runs`: runs with
//! the same label form one row), or are written inline (`rows`, or several `tables`):
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
//!   # seeds: several runs of one task in a row (nested lists are flattened)
//!   { label = "Seeds", runs = ["${stages.s1.outs}", "${stages.s2.outs}"] },
//!   # the dev sets' majority-class (constant for regression) baselines these runs recorded
//!   { label = "Majority class", runs = "${stages.td-pred.outs}", baseline = true },
//! ]
//! outs = ["runs/report"]
//! ```
//!
//! Several tables in one report: instead of `layout`, `title` and `rows`, give
//! `tables = [{ layout = "ablation-procedure", title = "...", rows = [...] }, ...]`. Each table
//! is written to `<out>/<layout>/` and `<out>/report.md` holds them all, in order.

use super::bench::RESULTS_FILE;
use super::values::positive;
use super::{Ctx, Input, Job};
use anyhow::{anyhow, bail, Context, Result};
use clap::{ArgAction, Args};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use tinybert_eval::{write_report, Layout, ReportSpec, RowSpec};

/// Render the paper's tables with our runs beside them: report.md, report.csv and charts/.
#[derive(Debug, Args)]
pub struct Report {
    /// A `REPORT.toml`: title, layout, rows (label, run folders, which row is the teacher).
    #[arg(long, conflicts_with_all = ["runs", "rows", "tables"])]
    pub spec: Option<String>,
    /// Run folders (each with `summary.json`), or folders holding them one level down; runs
    /// with the same label form one row.
    #[arg(long, num_args = 1.., conflicts_with_all = ["rows", "tables"])]
    pub runs: Vec<String>,
    /// Rows of one table (JSON on the command line, a list of tables in a pipeline):
    /// `label`, `runs` (a folder or a list), optional `teacher`, `speedup` or `bench` (a model
    /// name of the `bench` results).
    #[arg(long, value_parser = json::<Rows>, conflicts_with = "tables")]
    pub rows: Option<Rows>,
    /// Several tables: `layout`, `title` and `rows` each.
    #[arg(long, value_parser = json::<Tables>, conflicts_with_all = ["layout", "title"])]
    pub tables: Option<Tables>,
    /// Table layout: table1, ablation-procedure, ablation-objective, ablation-mapping (or
    /// table2..table4).
    #[arg(long, value_parser = layout)]
    pub layout: Option<Layout>,
    /// With `runs`: the label of the teacher row ("retained % of teacher" refers to it).
    #[arg(long, requires = "runs")]
    pub teacher: Option<String>,
    /// The report's heading (default: the paper table's caption).
    #[arg(long)]
    pub title: Option<String>,
    /// Show the paper's rows beside ours.
    #[arg(long, action = ArgAction::Set, default_value_t = true)]
    pub paper: bool,
    /// Write SVG charts.
    #[arg(long, action = ArgAction::Set, default_value_t = true)]
    pub charts: bool,
    /// A `bench` output folder the rows' `bench` names are read from (speed-ups).
    #[arg(long)]
    pub bench: Option<String>,
    /// The batch size of the bench results to read (default: the largest).
    #[arg(long, value_parser = positive)]
    pub bench_batch: Option<usize>,
}

/// The rows of one inline table.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct Rows(Vec<Row>);

/// Several inline tables.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct Tables(Vec<Table>);

/// One row of an inline table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    label: String,
    runs: Paths,
    #[serde(default)]
    teacher: bool,
    #[serde(default)]
    speedup: Option<f64>,
    #[serde(default)]
    bench: Option<String>,
    #[serde(default)]
    baseline: bool,
}

/// One inline table: a layout, an optional title, its rows.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    #[serde(default = "table1")]
    layout: String,
    #[serde(default)]
    title: Option<String>,
    rows: Vec<Row>,
}

fn table1() -> String {
    Layout::Table1.name().to_string()
}

/// One path or several; nested lists are flattened, so that `runs` can join the outputs of
/// several stages (seeds): `["${stages.a.outs}", "${stages.b.outs}"]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Paths {
    One(String),
    Many(Vec<Paths>),
}

impl Paths {
    fn list(&self) -> Vec<&str> {
        match self {
            Paths::One(p) => vec![p.as_str()],
            Paths::Many(v) => v.iter().flat_map(Paths::list).collect(),
        }
    }
}

fn json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, String> {
    serde_json::from_str(s).map_err(|e| e.to_string())
}

fn layout(s: &str) -> Result<Layout, String> {
    Layout::from_name(s).ok_or_else(|| {
        format!(
            "unknown layout (known: {})",
            Layout::ALL.map(Layout::name).join(", ")
        )
    })
}

/// One inline table checked: its layout, its sub-folder (none for a single table), title and
/// rows.
struct Inline<'a> {
    layout: Layout,
    sub: Option<String>,
    title: Option<String>,
    rows: &'a [Row],
}

impl Report {
    /// The inline tables.
    fn inline(&self) -> Result<Vec<Inline<'_>>> {
        let mut tables = Vec::new();
        if let Some(rows) = &self.rows {
            tables.push(Inline {
                layout: self.layout.unwrap_or(Layout::Table1),
                sub: None,
                title: self.title.clone(),
                rows: rows.0.as_slice(),
            });
        }
        for (i, t) in self.tables.iter().flat_map(|t| &t.0).enumerate() {
            let l = layout(&t.layout).map_err(|e| anyhow!("tables[{i}]: {e}"))?;
            if tables.iter().any(|o: &Inline| o.layout == l) {
                bail!("tables[{i}]: two tables with layout `{}`", l.name());
            }
            tables.push(Inline {
                layout: l,
                sub: Some(l.name().to_string()),
                title: t.title.clone(),
                rows: t.rows.as_slice(),
            });
        }
        Ok(tables)
    }
}

impl Job for Report {
    const KIND: &'static str = "report";

    fn validate(&self) -> Result<()> {
        if self.spec.is_none() && self.runs.is_empty() && self.inline()?.is_empty() {
            bail!("give `spec` (a REPORT.toml), `runs` (run folders), or `rows`/`tables`");
        }
        if self.tables.as_ref().is_some_and(|t| t.0.is_empty()) {
            bail!("tables: no tables");
        }
        for t in self.inline()? {
            check_rows(t.rows, self.bench.is_some())
                .map_err(|e| anyhow!("{}: {e}", t.layout.name()))?;
        }
        Ok(())
    }

    fn inputs(&self) -> Vec<Input<'_>> {
        let mut v: Vec<Input> = self.runs.iter().map(|r| Input::path("runs", r)).collect();
        let tables = self.tables.iter().flat_map(|t| &t.0).map(|t| &t.rows);
        for rows in self.rows.iter().map(|r| &r.0).chain(tables) {
            for r in rows {
                v.extend(r.runs.list().into_iter().map(|p| Input::path("rows", p)));
            }
        }
        for (key, p) in [("spec", &self.spec), ("bench", &self.bench)] {
            if let Some(p) = p {
                v.push(Input::path(key, p));
            }
        }
        v
    }

    fn run(&self, ctx: &Ctx, out: &Path) -> Result<()> {
        let mut specs = Vec::new();
        if let Some(path) = &self.spec {
            specs.push((ReportSpec::load(&ctx.path(path))?, None));
        } else if !self.runs.is_empty() {
            let dirs: Vec<PathBuf> = self.runs.iter().map(|r| ctx.path(r)).collect();
            let layout = self.layout.unwrap_or(Layout::Table1);
            let mut spec =
                ReportSpec::from_runs(&dirs, layout, self.teacher.as_deref(), self.title.clone())?;
            spec.include_paper = self.paper;
            spec.charts = self.charts;
            specs.push((spec, None));
        }
        let bench = match &self.bench {
            Some(b) => Some(read_bench(&ctx.path(b).join(RESULTS_FILE))?),
            None => None,
        };
        for Inline {
            layout,
            sub,
            title,
            rows,
        } in self.inline()?
        {
            let rows = rows
                .iter()
                .map(|r| {
                    let speedup = match (&r.bench, &bench) {
                        (Some(name), Some(results)) => Some(
                            bench_speedup(results, name, self.bench_batch)
                                .map_err(|e| anyhow!("row `{}`: {e}", r.label))?,
                        ),
                        _ => r.speedup,
                    };
                    Ok(RowSpec {
                        label: r.label.clone(),
                        runs: r.runs.list().iter().map(|d| ctx.path(d)).collect(),
                        teacher: r.teacher,
                        speedup,
                        baseline: r.baseline,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let spec = ReportSpec {
                title: title.unwrap_or_else(|| layout.caption().to_string()),
                layout,
                include_paper: self.paper,
                charts: self.charts,
                rows,
                origin: PathBuf::from("the report's rows"),
                base: Some(ctx.path("")),
            };
            specs.push((spec, sub));
        }
        let mut combined = String::new();
        for (spec, sub) in &specs {
            let dir = match sub {
                Some(s) => out.join(s),
                None => out.to_path_buf(),
            };
            write_report(spec, &dir)
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
            tinybert_model::io::write_atomic(&md, combined.as_bytes())?;
        }
        ctx.say(&format!("report: {}", md.display()));
        Ok(())
    }
}

fn check_rows(rows: &[Row], has_bench: bool) -> Result<()> {
    if rows.is_empty() {
        bail!("no rows");
    }
    for (i, r) in rows.iter().enumerate() {
        let row = format!("rows[{i}] ({})", r.label);
        if r.runs.list().is_empty() {
            bail!("{row}: no runs");
        }
        if rows[..i].iter().any(|o| o.label == r.label) {
            bail!("{row}: duplicate label");
        }
        if r.bench.is_some() && !has_bench {
            bail!("{row}: `bench` needs the `bench` parameter (a bench output folder)");
        }
        if r.bench.is_some() && r.speedup.is_some() {
            bail!("{row}: give `speedup` or `bench`, not both");
        }
        if let Some(s) = r.speedup.filter(|s| !(s.is_finite() && *s > 0.0)) {
            bail!("{row}: speedup {s} is not positive");
        }
        if r.baseline && (r.teacher || r.speedup.is_some() || r.bench.is_some()) {
            bail!("{row}: a baseline row cannot be the teacher or have a speed-up");
        }
    }
    if rows.iter().filter(|r| r.teacher).count() > 1 {
        bail!("more than one row has teacher = true");
    }
    Ok(())
}

/// The `results` rows of a bench output's `inference.json`.
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
    fn nested_run_lists_are_flattened_in_order() {
        let rows: Rows = serde_json::from_str(
            r#"[{"label": "seeds", "runs": [["a/RTE", "a/MRPC"], "b/RTE", [["c/RTE"]]]},
                {"label": "one", "runs": "d"}]"#,
        )
        .unwrap();
        assert_eq!(rows.0[0].runs.list(), ["a/RTE", "a/MRPC", "b/RTE", "c/RTE"]);
        assert_eq!(rows.0[1].runs.list(), ["d"]);
    }

    #[test]
    fn a_baseline_row_cannot_be_the_teacher() {
        let rows: Rows = serde_json::from_str(
            r#"[{"label": "majority", "runs": "a", "baseline": true, "teacher": true}]"#,
        )
        .unwrap();
        let e = check_rows(&rows.0, false).unwrap_err().to_string();
        assert!(
            e.contains("rows[0] (majority)") && e.contains("baseline"),
            "{e}"
        );
    }

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
