//! The report model: paper rows and our rows with per-column scores, averages and the share of
//! the teacher's score each row retains.

use std::path::Path;

use super::charts::{dev_curve_charts, size_charts, Chart};
use super::layout::Layout;
use super::rows::{ReportRow, Retained, RunInfo, Source, Spread};
use super::scored::ScoredRun;
use super::spec::{ReportSpec, RowSpec};
use crate::error::{Error, Result};
use crate::glue::{EvalSet, GlueColumn};
use crate::paper::PaperNumbers;
use crate::scoring::{combine, Convention};
use tinybert_run::Scores;

/// A report ready to render.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub title: String,
    pub layout: Layout,
    /// Split of the paper's numbers (`test` for Table 1, `dev` for the ablations).
    pub paper_split: String,
    /// Paper rows first (when included), then ours.
    pub rows: Vec<ReportRow>,
    /// Charts to draw (empty when the spec turns charts off).
    pub charts: Vec<Chart>,
    /// Score columns: the layout's, or for [`Layout::Tasks`] the runs' tasks.
    pub columns: Vec<GlueColumn>,
}

impl Report {
    /// Column headers.
    pub fn columns(&self) -> Vec<&'static str> {
        self.columns.iter().map(|c| c.name).collect()
    }
}

/// One column per task of the runs, in the order they first appear.
fn task_columns<'a>(runs: impl IntoIterator<Item = &'a ScoredRun>) -> Vec<GlueColumn> {
    let mut columns: Vec<GlueColumn> = Vec::new();
    for r in runs {
        if !columns.iter().any(|c| c.task == r.task) {
            columns.push(GlueColumn {
                name: r.task.name(),
                task: r.task,
                set: EvalSet::Main,
            });
        }
    }
    columns
}

/// Reads every run of `spec` and assembles the report.
pub fn build_report(spec: &ReportSpec) -> Result<Report> {
    let paper = PaperNumbers::load()?;
    let table = spec.layout.paper_table(&paper);
    let runs_of_rows = spec
        .rows
        .iter()
        .map(|row| row.runs.iter().map(|dir| ScoredRun::load(dir)).collect())
        .collect::<Result<Vec<Vec<_>>>>()?;
    let columns = match spec.layout {
        Layout::Tasks => task_columns(runs_of_rows.iter().flatten()),
        layout => layout.columns().to_vec(),
    };
    let columns = columns.as_slice();
    let mut rows = Vec::new();
    if spec.include_paper {
        let mut paper_rows = Vec::new();
        for id in spec.layout.paper_row_ids() {
            let row = table
                .row(id)
                .ok_or_else(|| Error::invalid("crates/eval/data/paper.toml", *id, "row missing"))?;
            paper_rows.push(ReportRow {
                source: Source::Paper,
                label: row.label.clone(),
                teacher: row.teacher,
                params: row.params_m.map(|m| m * 1e6),
                speedup: row.speedup,
                cells: columns.iter().map(|c| table.score(row, c.name)).collect(),
                spread: vec![None; columns.len()],
                avg: Some(row.avg),
                retained: None,
                runs: Vec::new(),
            });
        }
        fill_retained(&mut paper_rows);
        rows.extend(paper_rows);
    }
    let mut ours = Vec::new();
    let mut loaded = Vec::new();
    for (i, (row_spec, runs)) in spec.rows.iter().zip(runs_of_rows).enumerate() {
        ours.push(our_row(spec, i, row_spec, &runs, columns)?);
        if !row_spec.baseline {
            loaded.push((row_spec.label.clone(), runs));
        }
    }
    fill_retained(&mut ours);
    rows.extend(ours);
    let charts = if spec.charts {
        let mut charts = dev_curve_charts(&loaded, columns)?;
        if spec.layout.has_size_columns() {
            charts.extend(size_charts(&rows, columns, &table.split));
        }
        charts
    } else {
        Vec::new()
    };
    Ok(Report {
        title: spec.title.clone(),
        layout: spec.layout,
        paper_split: table.split.clone(),
        rows,
        charts,
        columns: columns.to_vec(),
    })
}

fn our_row(
    spec: &ReportSpec,
    index: usize,
    row: &RowSpec,
    runs: &[ScoredRun],
    columns: &[GlueColumn],
) -> Result<ReportRow> {
    let key = format!("rows[{index}] ({})", row.label);
    let mut infos = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        let task = run.task;
        let shown = spec.display_path(run.dir());
        // Several runs of one task are seeds of one model.
        if let Some(other) = runs[..i].iter().find(|o| o.task == task) {
            let (a, b) = (model_of_run(other)?, model_of_run(run)?);
            if a != b {
                return Err(Error::invalid(
                    &spec.origin,
                    format!("{key}.runs"),
                    format!(
                        "{} ({a}) and {shown} ({b}) are both {}: runs of one task in a row are \
                         seeds of one model",
                        spec.display_path(other.dir()),
                        task.name()
                    ),
                ));
            }
        }
        if !columns.iter().any(|c| c.task == task) {
            tracing::warn!(
                "{}: task {} is not a column of {}; not shown",
                shown,
                task.name(),
                spec.layout.name()
            );
        }
        infos.push(RunInfo {
            path: shown,
            task: task.name().to_string(),
            step: run.run.summary.step,
            score: shown_scores(row, run)?.score * 100.0,
        });
    }
    // Several runs of one task (seeds): the cell is their mean, with their spread.
    let mut cells = Vec::with_capacity(columns.len());
    let mut spread = Vec::with_capacity(columns.len());
    for c in columns {
        let mut values = Vec::new();
        // A baseline is the dev set's: one value per task, whatever the seeds.
        let of_task = runs.iter().filter(|r| r.task == c.task);
        for r in of_task.take(if row.baseline { 1 } else { usize::MAX }) {
            let scores = match c.set {
                EvalSet::Main => Some(shown_scores(row, r)?),
                EvalSet::Mismatched if row.baseline => None,
                EvalSet::Mismatched => r.run.summary.dev_mismatched.as_ref(),
            };
            if let Some(s) = scores {
                values.push(combine(c.task, s, Convention::Paper)? * 100.0);
            }
        }
        let (mean, sd) = mean_spread(&values);
        cells.push(mean);
        spread.push(sd);
    }
    let avg = if cells.iter().all(Option::is_some) {
        Some(cells.iter().flatten().sum::<f64>() / cells.len() as f64)
    } else {
        None
    };
    let model = !row.baseline;
    Ok(ReportRow {
        source: Source::Ours,
        label: row.label.clone(),
        teacher: row.teacher,
        params: row_params(runs).filter(|_| model),
        speedup: row.speedup.or_else(|| row_speedup(runs)).filter(|_| model),
        cells,
        spread,
        avg,
        retained: None,
        runs: infos,
    })
}

/// The scores a row shows for `run`: its dev scores, or for a baseline row the dev set's
/// baseline the run recorded.
fn shown_scores<'a>(row: &RowSpec, run: &'a ScoredRun) -> Result<&'a Scores> {
    if !row.baseline {
        return Ok(&run.dev);
    }
    run.run.summary.baseline.as_ref().ok_or_else(|| {
        Error::invalid(
            run.run.summary_path(),
            "baseline",
            format!(
                "missing: row `{}` shows baselines, and only task distillation with a dev set \
                 records one",
                row.label
            ),
        )
    })
}

/// The model label of a run's `summary.json`.
fn model_of_run(run: &ScoredRun) -> Result<String> {
    super::scored::model_of(&run.run.summary_path(), &run.run.summary)
}

/// The mean of `values` and, for two or more, their sample standard deviation.
fn mean_spread(values: &[f64]) -> (Option<f64>, Option<Spread>) {
    let n = values.len();
    if n == 0 {
        return (None, None);
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return (Some(mean), None);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (Some(mean), Some(Spread { std: var.sqrt(), n }))
}

/// The largest parameter count among the runs (task heads differ by a few hundred
/// parameters); a warning when they differ by more than 1%.
fn row_params(runs: &[ScoredRun]) -> Option<f64> {
    let counts: Vec<f64> = runs.iter().map(|r| r.params as f64).collect();
    let max = counts
        .iter()
        .copied()
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))?;
    let min = counts.iter().copied().fold(max, f64::min);
    if max > 0.0 && (max - min) / max > 0.01 {
        tracing::warn!("runs of one row differ in parameter count: {min} to {max}");
    }
    Some(max)
}

fn row_speedup(runs: &[ScoredRun]) -> Option<f64> {
    let found: Vec<(f64, &Path)> = runs
        .iter()
        .filter_map(|r| r.run.summary.speedup.map(|s| (s, r.dir())))
        .collect();
    let (first, _) = *found.first()?;
    if let Some((other, dir)) = found.iter().find(|(s, _)| (s - first).abs() > 1e-9) {
        tracing::warn!(
            "{}: speed-up {other} differs from the row's first run ({first})",
            dir.display()
        );
    }
    Some(first)
}

/// Sets `retained` of every row against the teacher among `rows`, if there is one.
fn fill_retained(rows: &mut [ReportRow]) {
    let Some(teacher) = rows.iter().find(|r| r.teacher).map(|r| r.cells.clone()) else {
        return;
    };
    for row in rows.iter_mut() {
        row.retained = retained(&row.cells, &teacher);
    }
}

/// Σ row / Σ teacher × 100 over the columns both have; `None` when none are shared or the
/// teacher's sum is not positive.
fn retained(cells: &[Option<f64>], teacher: &[Option<f64>]) -> Option<Retained> {
    let (mut sum, mut sum_teacher, mut n) = (0.0, 0.0, 0);
    for (c, t) in cells.iter().zip(teacher) {
        if let (Some(c), Some(t)) = (c, t) {
            sum += c;
            sum_teacher += t;
            n += 1;
        }
    }
    if n == 0 || sum_teacher <= 0.0 {
        return None;
    }
    Some(Retained {
        percent: sum / sum_teacher * 100.0,
        columns: n,
        of: cells.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paper_only(layout: Layout) -> ReportSpec {
        ReportSpec {
            title: "t".into(),
            layout,
            include_paper: true,
            charts: false,
            rows: Vec::new(),
            origin: "test".into(),
            base: None,
        }
    }

    #[test]
    fn retained_uses_only_columns_both_rows_have() {
        let r = retained(
            &[Some(60.0), None, Some(80.0)],
            &[Some(80.0), Some(90.0), Some(80.0)],
        )
        .unwrap();
        assert!((r.percent - 140.0 / 160.0 * 100.0).abs() < 1e-12);
        assert_eq!((r.columns, r.of), (2, 3));
        assert_eq!(retained(&[None, Some(1.0)], &[Some(1.0), None]), None);
        assert_eq!(retained(&[Some(1.0)], &[Some(0.0)]), None);
    }

    #[test]
    fn several_runs_of_a_task_give_their_mean_and_sample_standard_deviation() {
        assert_eq!(mean_spread(&[]), (None, None));
        assert_eq!(mean_spread(&[70.0]), (Some(70.0), None));
        let (mean, sd) = mean_spread(&[70.0, 72.0, 74.0]);
        assert_eq!(mean, Some(72.0));
        assert_eq!(sd, Some(Spread { std: 2.0, n: 3 }));
    }

    #[test]
    fn paper_table1_rows_retain_their_share_of_bert_base() {
        let spec = paper_only(Layout::Table1);
        let report = build_report(&spec).unwrap();
        let t4 = report
            .rows
            .iter()
            .find(|r| r.label == "TinyBERT-4")
            .unwrap();
        // (82.5+81.8+71.3+87.7+92.6+44.1+80.4+86.4+66.6) / (83.9+...+67.0) = 693.4 / 715.2
        let r = t4.retained.unwrap();
        assert!((r.percent - 693.4 / 715.2 * 100.0).abs() < 1e-9);
        assert_eq!((r.columns, r.of), (9, 9));
        assert_eq!(t4.params, Some(14.5e6));
    }

    #[test]
    fn ablation_paper_rows_have_no_teacher_so_no_retained() {
        let spec = paper_only(Layout::AblationMapping);
        let report = build_report(&spec).unwrap();
        let labels: Vec<&str> = report.rows.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(
            labels,
            ["full (uniform mapping)", "top mapping", "bottom mapping"]
        );
        assert!(report.rows.iter().all(|r| r.retained.is_none()));
    }
}
