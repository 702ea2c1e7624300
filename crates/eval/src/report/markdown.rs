//! The report as Markdown: the table in the paper's layout, notes, runs and chart links.

use std::fmt::Write;

use super::build::Report;
use super::format;
use super::layout::Layout;
use super::rows::{ReportRow, Source};

/// Renders `report` as a Markdown document.
pub fn render_markdown(report: &Report) -> String {
    let mut md = String::new();
    let has = |s: Source| report.rows.iter().any(|r| r.source == s);
    let (paper, ours) = (has(Source::Paper), has(Source::Ours));
    let _ = writeln!(md, "# {}\n", report.title);
    if paper {
        let what = match report.layout {
            Layout::Table1 => "Table 1",
            Layout::AblationProcedure => "Table 2 (TinyBERT-4)",
            Layout::AblationObjective => "Table 3 (TinyBERT-4)",
            Layout::AblationMapping => "Table 4 (TinyBERT-4)",
            Layout::Tasks => "no table",
        };
        let _ = writeln!(
            md,
            "Paper rows: Jiao et al. (2020), arXiv 1909.10351 v5, {what}, GLUE {} set.",
            report.paper_split
        );
    }
    if ours {
        let set = if report.layout == Layout::Tasks {
            "the tasks' dev sets"
        } else {
            "GLUE dev set"
        };
        let _ = writeln!(
            md,
            "Our rows: {set}, from the run folders listed under Runs."
        );
    }
    if let Some(n) = report
        .rows
        .iter()
        .flat_map(|r| &r.spread)
        .flatten()
        .map(|s| s.n)
        .max()
    {
        let _ = writeln!(
            md,
            "A cell `m ± s` is the mean and sample standard deviation over the row's runs of \
             that task (seeds; up to {n})."
        );
    }
    if paper || ours {
        md.push('\n');
    }
    table(&mut md, report);
    md.push('\n');
    notes(&mut md, report, paper, ours);
    if ours {
        runs(&mut md, report);
    }
    if !report.charts.is_empty() {
        md.push_str("\n## Charts\n\n");
        for c in &report.charts {
            let _ = writeln!(md, "![{}]({})\n", c.title, c.file);
        }
    }
    while md.ends_with("\n\n") {
        md.pop();
    }
    md
}

fn table(md: &mut String, report: &Report) {
    let size = report.layout.has_size_columns();
    let mut header = vec!["source", if size { "model" } else { "variant" }];
    if size {
        header.extend(["params", "speed-up"]);
    }
    let columns = report.columns();
    header.extend(&columns);
    header.extend(["avg", "retained % of teacher"]);
    let _ = writeln!(md, "| {} |", header.join(" | "));
    let align: Vec<&str> = header
        .iter()
        .enumerate()
        .map(|(i, _)| if i < 2 { ":--" } else { "--:" })
        .collect();
    let _ = writeln!(md, "|{}|", align.join("|"));
    for row in &report.rows {
        let mut cells = vec![source(report, row), label(row)];
        if size {
            cells.push(format::params(row.params));
            cells.push(format::speedup(row.speedup));
        }
        cells.extend(
            row.cells
                .iter()
                .zip(&row.spread)
                .map(|(&c, &s)| format::score_spread(c, s)),
        );
        cells.push(format::score(row.avg));
        cells.push(format::retained(row.retained));
        let _ = writeln!(md, "| {} |", cells.join(" | "));
    }
}

fn source(report: &Report, row: &ReportRow) -> String {
    match row.source {
        Source::Paper => format!("paper ({})", report.paper_split),
        Source::Ours => "ours (dev)".into(),
    }
}

fn label(row: &ReportRow) -> String {
    let mut label = escape(&row.label);
    if row.teacher && !row.label.to_lowercase().contains("teacher") {
        label.push_str(" (teacher)");
    }
    label
}

fn escape(text: &str) -> String {
    text.replace('|', "\\|")
}

fn notes(md: &mut String, report: &Report, paper: bool, ours: bool) {
    if report.layout == Layout::Tasks {
        md.push_str(
            "- Cells are percentages of each task's metric (the paper's convention): F1 for \
             `f1_accuracy`, Matthews correlation for `matthews`, Spearman correlation for a \
             regression, else accuracy.\n",
        );
    } else {
        md.push_str(
            "- Cells are percentages: QQP and MRPC F1, STS-B Spearman correlation, CoLA Matthews \
             correlation, the other tasks accuracy (the paper's convention); MNLI-m and MNLI-mm \
             are the matched and mismatched sets.\n",
        );
    }
    if !matches!(report.layout, Layout::Table1 | Layout::Tasks) {
        md.push_str(
            "- The paper does not say which MRPC metric its ablation tables use; F1 is assumed, \
             as in its Table 1.\n",
        );
    }
    md.push_str(
        "- avg: mean of the row's columns, only when every column has a result (paper rows: as \
         printed).\n",
    );
    md.push_str(
        "- retained % of teacher: sum of the row's scores over the sum of the teacher's, over \
         the columns both have; (k/n) when they share only k of the n columns.",
    );
    let teacher = |s: Source| report.rows.iter().any(|r| r.source == s && r.teacher);
    match (
        paper && teacher(Source::Paper),
        ours && teacher(Source::Ours),
    ) {
        (true, true) => md.push_str(" Paper rows refer to the paper's teacher, ours to ours."),
        (true, false) if ours => {
            md.push_str(" None of our rows is marked as the teacher, so ours show –.")
        }
        (false, true) if paper => md.push_str(" The paper gives no teacher for this table."),
        (false, false) => md.push_str(" No row is marked as the teacher."),
        _ => {}
    }
    md.push('\n');
    if report.layout == Layout::Table1 && paper && ours {
        md.push_str(
            "- The paper's Table 1 is the GLUE test set and our rows are dev-set results: close, \
             not identical, quantities.\n",
        );
    }
    let _ = writeln!(md, "- {}: no result.", format::MISSING);
}

fn runs(md: &mut String, report: &Report) {
    md.push_str("\n## Runs\n\n| row | task | run | step | dev score |\n|:--|:--|:--|--:|--:|\n");
    for row in report.rows.iter().filter(|r| r.source == Source::Ours) {
        for run in &row.runs {
            let step = run
                .step
                .map_or_else(|| format::MISSING.to_string(), |s| s.to_string());
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {:.1} |",
                escape(&row.label),
                run.task,
                escape(&run.path),
                step,
                run.score
            );
        }
    }
    md.push_str(
        "\ndev score: the selection score of SPEC §6 (accuracy; CoLA Matthews; STS-B mean of \
         Pearson and Spearman) of the kept checkpoint.\n",
    );
}
