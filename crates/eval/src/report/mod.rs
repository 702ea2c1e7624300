//! Reports: the paper's tables (Table 1, ablation Tables 2-4) with our measured rows beside
//! the paper's numbers, as Markdown, CSV and SVG charts.
//!
//! A [`ReportSpec`] comes from a `REPORT.toml` ([`ReportSpec::load`]) or from run folders
//! ([`ReportSpec::from_runs`]); [`write_report`] reads the runs (see [`tinybert_run`] for the
//! folder contract) and writes `report.md`, `report.csv` and `charts/*.svg`. A cell without a
//! result shows "–" in Markdown and is empty in CSV; nothing is estimated or filled in.

mod build;
mod charts;
mod csv;
mod format;
mod layout;
mod markdown;
mod rows;
mod scored;
mod spec;

pub use build::{build_report, Report};
pub use charts::{render_svg, Chart, Series};
pub use csv::render_csv;
pub use format::MISSING;
pub use layout::Layout;
pub use markdown::render_markdown;
pub use rows::{ReportRow, Retained, RunInfo, Source};
pub use spec::{ReportSpec, RowSpec};

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// File name of the Markdown report.
pub const REPORT_MD: &str = "report.md";
/// File name of the CSV table.
pub const REPORT_CSV: &str = "report.csv";

/// Builds the report of `spec` and writes it into `output` (created if needed): `report.md`,
/// `report.csv` and each chart under `charts/`. Returns the written paths.
pub fn write_report(spec: &ReportSpec, output: &Path) -> Result<Vec<PathBuf>> {
    let report = build_report(spec)?;
    std::fs::create_dir_all(output).map_err(|e| Error::io(output, e))?;
    let mut written = Vec::new();
    let mut write = |name: &str, text: &str| -> Result<()> {
        let path = output.join(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        tinybert_model::io::write_atomic(&path, text.as_bytes())?;
        written.push(path);
        Ok(())
    };
    write(REPORT_MD, &render_markdown(&report))?;
    write(REPORT_CSV, &render_csv(&report))?;
    for chart in &report.charts {
        write(&chart.file, &render_svg(chart)?)?;
    }
    Ok(written)
}
