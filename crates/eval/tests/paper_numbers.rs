//! The embedded paper numbers against the tables of `../shared/SPEC.md` §8 (skipped with a
//! message when `../shared` is absent, except under `TINYBERT_REQUIRE_SHARED=1`).

use tinybert_eval::{PaperNumbers, PaperTable};

/// `../shared/SPEC.md`, or `None` (skipped; a failure under `TINYBERT_REQUIRE_SHARED=1`).
fn spec() -> Option<String> {
    tinybert_testkit::shared("SPEC.md").map(|p| std::fs::read_to_string(p).unwrap())
}

/// The Markdown tables of section 8, each as rows of cells (header and rule lines dropped).
fn section8_tables(spec: &str) -> Vec<Vec<Vec<String>>> {
    let start = spec.find("## 8.").expect("SPEC has a section 8");
    let body = &spec[start..];
    let end = body[5..].find("\n## ").map_or(body.len(), |i| i + 5);
    let mut tables: Vec<Vec<Vec<String>>> = Vec::new();
    let mut in_table = false;
    for line in body[..end].lines() {
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        let cells: Vec<String> = line
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect();
        if !in_table {
            tables.push(Vec::new());
            in_table = true;
            continue; // header
        }
        if cells
            .iter()
            .all(|c| c.chars().all(|ch| ch == '-' || ch == ':'))
        {
            continue;
        }
        if let Some(t) = tables.last_mut() {
            t.push(cells);
        }
    }
    tables
}

fn num(cell: &str) -> f64 {
    cell.trim_end_matches(['M', 'x'])
        .parse()
        .unwrap_or_else(|_| panic!("number in `{cell}`"))
}

fn check(table: &PaperTable, rows: &[Vec<String>], size_columns: bool) {
    assert_eq!(table.rows.len(), rows.len());
    let first = if size_columns { 3 } else { 1 };
    for (row, cells) in table.rows.iter().zip(rows) {
        // Table 2 of the paper prints the procedure ablations abbreviated; SPEC §8 spells
        // them out.
        let spelled = match row.label.as_str() {
            "w/o GD" => "w/o general distillation",
            "w/o TD" => "w/o task distillation",
            "w/o DA" => "w/o data augmentation",
            other => other,
        };
        assert_eq!(spelled, cells[0]);
        if size_columns {
            assert_eq!(row.params_m, Some(num(&cells[1])), "{}", row.label);
            assert_eq!(row.speedup, Some(num(&cells[2])), "{}", row.label);
        }
        let n = table.columns.len();
        let scores: Vec<f64> = cells[first..first + n].iter().map(|c| num(c)).collect();
        assert_eq!(row.scores, scores, "{}", row.label);
        assert_eq!(row.avg, num(&cells[first + n]), "{}", row.label);
    }
}

#[test]
fn paper_numbers_match_spec_section_8() {
    let Some(spec) = spec() else {
        return;
    };
    let tables = section8_tables(&spec);
    assert_eq!(tables.len(), 2, "Table 1 and the ablations");
    let paper = PaperNumbers::load().unwrap();
    check(&paper.table1, &tables[0], true);
    check(&paper.ablations, &tables[1], false);
}

#[test]
fn spec_column_headers_match_the_embedded_columns() {
    let Some(spec) = spec() else {
        return;
    };
    let start = spec.find("## 8.").expect("section 8");
    let headers: Vec<Vec<String>> = spec[start..]
        .lines()
        .filter(|l| l.starts_with("| model") || l.starts_with("| variant"))
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect();
    let paper = PaperNumbers::load().unwrap();
    assert_eq!(headers[0][3..12], paper.table1.columns[..]);
    assert_eq!(headers[1][1..5], paper.ablations.columns[..]);
}
