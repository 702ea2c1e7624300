//! The report's table as CSV: full-precision numbers, an empty field where there is no result.

use super::build::Report;
use super::rows::Source;

/// Renders the table of `report` as CSV (header line first, `\n` line ends).
///
/// Columns: `source` (`paper`/`ours`), `split`, `label`, `teacher`, `params` (count),
/// `speedup`, one per score column (percent; the mean over seeds), `avg`, `retained_pct`,
/// `retained_columns`, then per score column its standard deviation over seeds (`<column>_std`)
/// and the number of runs behind it (`<column>_runs`; empty for a single run).
/// A missing value is an empty field (the Markdown shows "–"), so that numeric columns stay
/// numeric for spreadsheets and data-frame readers.
pub fn render_csv(report: &Report) -> String {
    let mut header: Vec<String> = ["source", "split", "label", "teacher", "params", "speedup"]
        .map(String::from)
        .to_vec();
    header.extend(report.columns().iter().map(|c| c.to_string()));
    header.extend(["avg", "retained_pct", "retained_columns"].map(String::from));
    for c in report.columns() {
        header.extend([format!("{c}_std"), format!("{c}_runs")]);
    }
    let mut out = line(&header);
    for row in &report.rows {
        let (source, split) = match row.source {
            Source::Paper => ("paper", report.paper_split.as_str()),
            Source::Ours => ("ours", "dev"),
        };
        let mut fields = vec![
            source.to_string(),
            split.to_string(),
            row.label.clone(),
            row.teacher.to_string(),
            num(row.params),
            num(row.speedup),
        ];
        fields.extend(row.cells.iter().map(|&c| num(c)));
        fields.push(num(row.avg));
        fields.push(num(row.retained.map(|r| r.percent)));
        fields.push(
            row.retained
                .map(|r| r.columns.to_string())
                .unwrap_or_default(),
        );
        for s in &row.spread {
            fields.push(num(s.map(|s| s.std)));
            fields.push(s.map(|s| s.n.to_string()).unwrap_or_default());
        }
        out.push_str(&line(&fields));
    }
    out
}

fn num(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn line(fields: &[String]) -> String {
    let quoted: Vec<String> = fields.iter().map(|f| quote(f)).collect();
    quoted.join(",") + "\n"
}

/// RFC 4180 quoting: fields with a comma, quote or line break are quoted, quotes doubled.
fn quote(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_follows_rfc_4180() {
        assert_eq!(quote("plain"), "plain");
        assert_eq!(quote("a, b"), "\"a, b\"");
        assert_eq!(quote("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
