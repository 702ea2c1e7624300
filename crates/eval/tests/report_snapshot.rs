//! Reports rendered from the example run folders in `fixtures/runs`, compared with the
//! committed Markdown in `snapshots/`. After an intended change, regenerate the snapshots with
//! `TINYBERT_UPDATE_SNAPSHOTS=1 cargo test -p tinybert-eval --test report_snapshot` and review
//! the diff.

use std::path::{Path, PathBuf};

use tinybert_eval::report::{build_report, render_csv, render_markdown, REPORT_MD};
use tinybert_eval::{write_report, Layout, ReportSpec};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(rel)
}

fn assert_snapshot(name: &str, actual: &str) {
    let path = fixture(&format!("snapshots/{name}"));
    if std::env::var_os("TINYBERT_UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (set TINYBERT_UPDATE_SNAPSHOTS=1)", path.display()));
    assert!(
        expected == actual,
        "{} differs from the rendered report:\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}

#[test]
fn table1_report_matches_snapshot() {
    let spec = ReportSpec::load(&fixture("fixtures/report/REPORT.toml")).unwrap();
    let report = build_report(&spec).unwrap();
    assert_snapshot("table1.md", &render_markdown(&report));
}

#[test]
fn ablation_report_matches_snapshot() {
    let spec = ReportSpec::load(&fixture("fixtures/report/ABLATION.toml")).unwrap();
    let report = build_report(&spec).unwrap();
    assert!(report.charts.is_empty(), "charts = false");
    assert_snapshot("ablation_mapping.md", &render_markdown(&report));
}

#[test]
fn csv_has_full_precision_and_empty_missing_fields() {
    let spec = ReportSpec::load(&fixture("fixtures/report/REPORT.toml")).unwrap();
    let csv = render_csv(&build_report(&spec).unwrap());
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "source,split,label,teacher,params,speedup,MNLI-m,MNLI-mm,QQP,QNLI,SST-2,CoLA,STS-B,\
         MRPC,RTE,avg,retained_pct,retained_columns,MNLI-m_std,MNLI-m_runs,MNLI-mm_std,\
         MNLI-mm_runs,QQP_std,QQP_runs,QNLI_std,QNLI_runs,SST-2_std,SST-2_runs,CoLA_std,\
         CoLA_runs,STS-B_std,STS-B_runs,MRPC_std,MRPC_runs,RTE_std,RTE_runs"
    );
    assert_eq!(lines.len(), 1 + 5 + 2);
    assert!(lines[1].starts_with("paper,test,BERT-base (teacher),true,109000000,1,83.9,"));
    let teacher_f1 = 510.0 / 567.0 * 100.0;
    let teacher_acc = 184.0 / 277.0 * 100.0;
    assert_eq!(
        lines[6],
        format!(
            "ours,dev,MiniLM-L6 teacher,true,22713986,1,,,,,,,,{teacher_f1},{teacher_acc},,100,2{}",
            ",".repeat(18)
        )
    );
}

#[test]
fn write_report_writes_markdown_csv_and_charts() {
    let out = tempfile::tempdir().unwrap();
    let spec = ReportSpec::load(&fixture("fixtures/report/REPORT.toml")).unwrap();
    let written = write_report(&spec, out.path()).unwrap();
    let names: Vec<String> = written
        .iter()
        .map(|p| p.strip_prefix(out.path()).unwrap().display().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "report.md",
            "report.csv",
            "charts/dev_MNLI.svg",
            "charts/dev_MRPC.svg",
            "charts/dev_RTE.svg",
            "charts/score_vs_params.svg",
            "charts/score_vs_speedup.svg",
        ]
    );
    let md = std::fs::read_to_string(out.path().join(REPORT_MD)).unwrap();
    for chart in &names[2..] {
        assert!(md.contains(&format!("]({chart})")), "report links {chart}");
    }
    let rte = std::fs::read_to_string(out.path().join("charts/dev_RTE.svg")).unwrap();
    assert!(rte.contains("\nMiniLM-L6 teacher\n") && rte.contains("\nTinyBERT 3L-384\n"));
    let params = std::fs::read_to_string(out.path().join("charts/score_vs_params.svg")).unwrap();
    assert!(params.contains("\nours: RTE (dev)\n") && params.contains("\npaper: avg (test)\n"));
}

#[test]
fn runs_folder_gives_one_row_per_model() {
    let spec = ReportSpec::from_runs(
        &[fixture("fixtures/runs")],
        Layout::Table1,
        Some("MiniLM-L6 teacher"),
        None,
    )
    .unwrap();
    let report = build_report(&spec).unwrap();
    let ours: Vec<(&str, usize)> = report
        .rows
        .iter()
        .filter(|r| !r.runs.is_empty())
        .map(|r| (r.label.as_str(), r.runs.len()))
        .collect();
    assert_eq!(ours, [("TinyBERT 3L-384", 3), ("MiniLM-L6 teacher", 2)]);
    let student = &report.rows[5];
    // MNLI-m, MNLI-mm from one run; MRPC F1; RTE accuracy; the rest missing.
    let shown: Vec<String> = student
        .cells
        .iter()
        .map(|c| c.map_or("–".into(), |v| format!("{v:.2}")))
        .collect();
    assert_eq!(
        shown,
        ["77.12", "77.98", "–", "–", "–", "–", "–", "87.12", "61.37"]
    );
    assert_eq!(student.avg, None, "no average over missing columns");
}

#[test]
fn runs_of_one_task_from_two_models_in_a_row_are_an_error_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let spec_path = dir.path().join("REPORT.toml");
    let runs = fixture("fixtures/runs");
    std::fs::write(
        &spec_path,
        format!(
            "[[rows]]\nlabel = \"x\"\nruns = [{:?}, {:?}]\n",
            runs.join("teacher-rte"),
            runs.join("student-rte")
        ),
    )
    .unwrap();
    let spec = ReportSpec::load(&spec_path).unwrap();
    let err = build_report(&spec).unwrap_err().to_string();
    assert!(
        err.contains("rows[0] (x).runs")
            && err.contains("teacher-rte")
            && err.contains("MiniLM-L6 teacher")
            && err.contains("are both RTE"),
        "{err}"
    );
}

#[test]
fn runs_of_one_task_in_one_row_are_seeds_shown_as_mean_and_standard_deviation() {
    let dir = tempfile::tempdir().unwrap();
    for (name, accuracy) in [("seed1", 0.70), ("seed2", 0.72), ("seed3", 0.74)] {
        let run = dir.path().join(name);
        std::fs::create_dir_all(&run).unwrap();
        let summary = serde_json::json!({
            "task": "RTE", "model": "TinyBERT 3L-384", "params": 11303426, "step": 100,
            "dev": {"accuracy": accuracy, "score": accuracy}, "score": accuracy,
        });
        std::fs::write(run.join("summary.json"), summary.to_string()).unwrap();
    }
    let spec =
        ReportSpec::from_runs(&[dir.path().to_path_buf()], Layout::Table1, None, None).unwrap();
    let report = build_report(&spec).unwrap();
    let row = report.rows.iter().find(|r| r.runs.len() == 3).unwrap();
    let rte = report.columns().iter().position(|c| *c == "RTE").unwrap();
    assert!((row.cells[rte].unwrap() - 72.0).abs() < 1e-9);
    let spread = row.spread[rte].unwrap();
    assert!((spread.std - 2.0).abs() < 1e-9 && spread.n == 3);
    let md = render_markdown(&report);
    assert!(md.contains("| 72.0 ± 2.0 |"), "{md}");
    assert!(md.contains("mean and sample standard deviation"), "{md}");
    let csv = render_csv(&report);
    let fields: Vec<&str> = csv.lines().last().unwrap().split(',').collect();
    let (std, runs) = (fields[fields.len() - 2], fields[fields.len() - 1]);
    assert!(
        (std.parse::<f64>().unwrap() - 2.0).abs() < 1e-9 && runs == "3",
        "{csv}"
    );
}

#[test]
fn a_baseline_row_shows_the_baselines_the_runs_recorded_and_no_size_or_speed() {
    let dir = tempfile::tempdir().unwrap();
    let mut runs = Vec::new();
    let majority = |accuracy: f64, f1: f64| serde_json::json!({"accuracy": accuracy, "f1": f1, "score": accuracy});
    for (task, baseline) in [
        ("RTE", Some(majority(0.527, 0.0))),
        ("MRPC", Some(majority(0.684, 0.812))),
        ("CoLA", None),
    ] {
        let run = dir.path().join(task);
        std::fs::create_dir_all(&run).unwrap();
        let mut summary = serde_json::json!({
            "task": task, "model": "TinyBERT", "params": 100, "speedup": 9.0,
            "dev": {"accuracy": 0.8, "f1": 0.8, "score": 0.8}, "score": 0.8,
        });
        if let Some(b) = baseline {
            summary["baseline"] = b;
        }
        std::fs::write(run.join("summary.json"), summary.to_string()).unwrap();
        runs.push(run);
    }
    // RTE twice (two seeds): one baseline, no spread.
    let toml = format!(
        "paper = false\n[[rows]]\nlabel = \"Majority class\"\nruns = [\"{0}\", \"{1}\", \"{0}\"]\n\
         baseline = true\n",
        runs[0].display(),
        runs[1].display()
    );
    let spec_path = dir.path().join("REPORT.toml");
    std::fs::write(&spec_path, toml).unwrap();
    let report = build_report(&ReportSpec::load(&spec_path).unwrap()).unwrap();
    let row = &report.rows[0];
    let cols = report.columns();
    let at = |name: &str| row.cells[cols.iter().position(|c| *c == name).unwrap()];
    assert!((at("RTE").unwrap() - 52.7).abs() < 1e-9);
    assert!(
        (at("MRPC").unwrap() - 81.2).abs() < 1e-9,
        "Table 1 shows MRPC's F1"
    );
    assert_eq!((row.params, row.speedup), (None, None));
    assert!(row.spread.iter().all(Option::is_none));
    assert!(report
        .charts
        .iter()
        .all(|c| c.series.iter().all(|s| s.label != "Majority class")));

    // A run without a recorded baseline is named with the missing key.
    let bad = dir.path().join("BAD.toml");
    std::fs::write(
        &bad,
        format!(
            "[[rows]]\nlabel = \"Majority class\"\nruns = [\"{}\"]\nbaseline = true\n",
            runs[2].display()
        ),
    )
    .unwrap();
    let err = build_report(&ReportSpec::load(&bad).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("CoLA") && err.contains("summary.json") && err.contains("baseline"),
        "{err}"
    );
}
