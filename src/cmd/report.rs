//! `tinybert report`: the paper's tables with our runs beside them (Markdown, CSV, SVG charts).

use crate::GlobalArgs;
use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::PathBuf;
use tinybert_eval::{write_report, Layout, ReportSpec};

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A `REPORT.toml`: title, layout, rows (label, run folders, which row is the teacher).
    #[arg(long, conflicts_with_all = ["runs", "layout", "teacher", "title"], required_unless_present = "runs")]
    pub spec: Option<PathBuf>,
    /// Run folders (each with `summary.json`), or folders holding them one level down; runs
    /// with the same `model` form one row.
    #[arg(long, num_args = 1..)]
    pub runs: Vec<PathBuf>,
    /// Table layout for `--runs`: table1, ablation-procedure, ablation-objective,
    /// ablation-mapping (or table2..table4).
    #[arg(long)]
    pub layout: Option<String>,
    /// With `--runs`: the `model` of the teacher row ("retained % of teacher" refers to it).
    #[arg(long)]
    pub teacher: Option<String>,
    /// With `--runs`: the report's heading (default: the paper table's caption).
    #[arg(long)]
    pub title: Option<String>,
    /// Output folder for report.md, report.csv and charts/.
    #[arg(long)]
    pub output: PathBuf,
}

pub fn run(a: ReportArgs, _g: &GlobalArgs) -> Result<()> {
    let spec = match &a.spec {
        Some(path) => ReportSpec::load(path)?,
        None => {
            let layout = match a.layout.as_deref() {
                None => Layout::Table1,
                Some(name) => match Layout::from_name(name) {
                    Some(l) => l,
                    None => bail!(
                        "unknown --layout `{name}` (known: {})",
                        Layout::ALL.map(Layout::name).join(", ")
                    ),
                },
            };
            ReportSpec::from_runs(&a.runs, layout, a.teacher.as_deref(), a.title.clone())?
        }
    };
    let written = write_report(&spec, &a.output)
        .with_context(|| format!("writing the report into {}", a.output.display()))?;
    for path in &written {
        println!("{}", path.display());
    }
    Ok(())
}
