//! `tinybert predict` through the binary, on tiny random classifiers: every input format into
//! every output format, rows in input order with their ids (or row numbers), probabilities that
//! sum to 1 and the arg-max named by `id2label`; length-sorted batches equal batch size 1; a
//! regression model writes a score; malformed input fails with one error naming file, line and
//! column.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tinybert_data::table::{write_table, Column, Format, Table, Values};
use tinybert_model::{BertConfig, Heads, Model, ModelOptions, Want};
use tinybert_testkit::assert_mentions;

const FORMATS: [Format; 4] = [Format::Csv, Format::Tsv, Format::JsonLines, Format::Parquet];

fn tiny_fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("crates/model/tests/fixtures/tiny")
}

/// A random tiny model (vocabulary `w0`..`w93`) saved in `dir/name`, with a classifier of
/// `outputs` outputs and `labels` as `id2label` when given. The wide initialisation makes the
/// predictions depend on the input.
fn tiny_model(dir: &Path, name: &str, outputs: Option<usize>, labels: Option<&[&str]>) -> PathBuf {
    let mut cfg = BertConfig::from_file(&tiny_fixture().join("config.json")).unwrap();
    cfg.initializer_range = 0.2;
    if let Some(labels) = labels {
        let labels: Vec<String> = labels.iter().map(|s| s.to_string()).collect();
        cfg.set_labels(&labels);
    }
    let opts = ModelOptions {
        seed: 5,
        heads: Heads {
            classifier: outputs.map_or(Want::Never, Want::Always),
            ..Heads::default()
        },
        ..ModelOptions::default()
    };
    let out = dir.join(name);
    Model::init(&cfg, &opts)
        .unwrap()
        .save(&out, Some(&tiny_fixture()))
        .unwrap();
    out
}

fn tinybert(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tinybert"))
        .args(args)
        .env("TINYBERT_LOG", "warn")
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = tinybert(args);
    assert!(
        out.status.success(),
        "tinybert {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fails(args: &[&str]) -> String {
    let out = tinybert(args);
    assert!(!out.status.success(), "tinybert {args:?} succeeded");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.matches("error:").count(), 1, "one error: {err}");
    err
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Texts of varied lengths, not sorted by length, so that length-sorted batches reorder them.
fn texts(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let len = 1 + (i * 7) % 13;
            (0..len)
                .map(|k| format!("w{}", (i * 31 + k * 17) % 94))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// An input table: `id` (or not), `text`, `other` (second texts), written in `format`.
fn input(dir: &Path, name: &str, format: Format, n: usize, with_id: bool) -> PathBuf {
    let p = dir.join(format!("{name}.{}", format.extension()));
    let mut cols = Vec::new();
    if with_id {
        cols.push(Column::new(
            "id",
            Values::Text((0..n).map(|i| format!("r{}", n - i)).collect()),
        ));
    }
    cols.push(Column::new("text", Values::Text(texts(n))));
    let mut others = texts(n + 3);
    others.drain(..3);
    cols.push(Column::new("other", Values::Text(others)));
    write_table(&p, format, &cols).unwrap();
    p
}

/// The output table: its columns and, per row, each column's text.
fn read(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut header = Table::header(path).unwrap();
    if Format::of(path).unwrap() == Format::JsonLines {
        // JSON objects come back with their keys sorted: put the id first, then label, probs.
        header.sort_by_key(|h| match h.as_str() {
            "id" | "row" | "index" => 0,
            "label" | "score" => 1,
            _ => 2,
        });
    }
    let cols: Vec<&str> = header.iter().map(String::as_str).collect();
    let t = Table::read(path, &cols).unwrap();
    let rows = t
        .rows
        .into_iter()
        .map(|r| r.cells.into_iter().map(Option::unwrap_or_default).collect())
        .collect();
    (header, rows)
}

/// Checks a classifier's output rows: ids `ids` in order, probabilities summing to 1, the
/// label the arg-max's name. Returns the probabilities.
fn check_classes(path: &Path, ids: &[String], labels: &[&str]) -> Vec<Vec<f32>> {
    let (header, rows) = read(path);
    let mut want = vec![header[0].clone(), "label".to_string()];
    want.extend(labels.iter().map(|l| format!("prob_{l}")));
    assert_eq!(header, want, "{}", path.display());
    assert_eq!(rows.len(), ids.len(), "{}", path.display());
    let mut all = Vec::new();
    for (row, id) in rows.iter().zip(ids) {
        assert_eq!(&row[0], id, "{}", path.display());
        let p: Vec<f32> = row[2..].iter().map(|v| v.parse().unwrap()).collect();
        let sum: f32 = p.iter().sum();
        assert!(
            (sum - 1.0).abs() < 1e-5,
            "{}: {p:?} sums to {sum}",
            path.display()
        );
        let best = (0..p.len()).fold(0, |b, i| if p[i] > p[b] { i } else { b });
        assert_eq!(row[1], labels[best], "{}: {row:?}", path.display());
        all.push(p);
    }
    all
}

fn assert_probs_close(a: &[Vec<f32>], b: &[Vec<f32>], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (x, y) in a.iter().zip(b) {
        for (u, v) in x.iter().zip(y) {
            assert!((u - v).abs() <= 1e-5, "{what}: {x:?} vs {y:?}");
        }
    }
}

#[test]
fn every_input_format_into_every_output_format_keeps_rows_ids_and_probabilities() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let labels = ["negative", "neutral", "positive"];
    let model = tiny_model(d, "m", Some(3), Some(&labels));
    let n = 11;
    let ids: Vec<String> = (0..n).map(|i| format!("r{}", n - i)).collect();
    let mut reference: Option<Vec<Vec<f32>>> = None;
    let mut seen = std::collections::BTreeSet::new();
    for fin in FORMATS {
        let inp = input(d, &format!("in-{}", fin.extension()), fin, n, true);
        for fout in FORMATS {
            let out = d.join(format!(
                "out-{}-{}.{}",
                fin.extension(),
                fout.extension(),
                fout.extension()
            ));
            let args = [
                "predict",
                "--model",
                s(&model),
                "--input",
                s(&inp),
                "--pair-column",
                "other",
                "--batch-size",
                "4",
                "--output",
                s(&out),
            ];
            let said = ok(&args);
            assert!(
                said.contains(&format!("{n} rows in")) && said.contains("rows/s"),
                "{said}"
            );
            let probs = check_classes(&out, &ids, &labels);
            for p in &probs {
                seen.insert(labels[(0..3).fold(0, |b, i| if p[i] > p[b] { i } else { b })]);
            }
            match &reference {
                None => reference = Some(probs),
                Some(r) => assert_probs_close(
                    &probs,
                    r,
                    &format!("{} -> {}", fin.extension(), fout.extension()),
                ),
            }
        }
    }
    assert!(seen.len() >= 2, "the predictions should vary: {seen:?}");
}

#[test]
fn length_sorted_batches_give_the_outputs_of_batch_size_one_in_input_order() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let model = tiny_model(d, "m", Some(2), None);
    let inp = input(d, "in", Format::Csv, 23, false);
    let rows: Vec<String> = (0..23).map(|i| i.to_string()).collect();
    let mut results = Vec::new();
    for batch in ["1", "5", "32"] {
        let out = d.join(format!("b{batch}.jsonl"));
        ok(&[
            "predict",
            "--model",
            s(&model),
            "--input",
            s(&inp),
            "--batch-size",
            batch,
            "--output",
            s(&out),
        ]);
        // No id column: 0-based row numbers; no id2label: LABEL_<i>.
        assert_eq!(read(&out).0[0], "row");
        results.push(check_classes(&out, &rows, &["LABEL_0", "LABEL_1"]));
    }
    assert_probs_close(&results[1], &results[0], "batch 5 vs 1");
    assert_probs_close(&results[2], &results[0], "batch 32 vs 1");
    // The single texts alone give other outputs than the pairs: the pair column is used.
    let pairs = d.join("pairs.csv");
    ok(&[
        "predict",
        "--model",
        s(&model),
        "--input",
        s(&inp),
        "--pair-column",
        "other",
        "--output",
        s(&pairs),
    ]);
    let p = check_classes(&pairs, &rows, &["LABEL_0", "LABEL_1"]);
    assert!(p
        .iter()
        .zip(&results[0])
        .any(|(a, b)| (a[0] - b[0]).abs() > 1e-4));
}

#[test]
fn a_regression_model_writes_a_score_and_a_folder_output_a_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let model = tiny_model(d, "m", Some(1), None);
    let inp = input(d, "in", Format::JsonLines, 6, true);
    let out = d.join("run");
    ok(&[
        "predict",
        "--model",
        s(&model),
        "--input",
        s(&inp),
        "--text-column",
        "text",
        "--id-column",
        "id",
        "--format",
        "parquet",
        "--output",
        s(&out),
    ]);
    let (header, rows) = read(&out.join("predictions.parquet"));
    assert_eq!(header, ["id", "score"]);
    let ids: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids, ["r6", "r5", "r4", "r3", "r2", "r1"]);
    assert!(rows
        .iter()
        .all(|r| r[1].parse::<f32>().unwrap().is_finite()));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["stage"], "predict", "{summary}");
    assert_eq!(summary["examples"], 6, "{summary}");
    assert_eq!(summary["predictions"], "predictions.parquet", "{summary}");
    assert!(
        summary["examples_per_s"].as_f64().unwrap() > 0.0,
        "{summary}"
    );
    // A GLUE-style `index` column is taken as the id without being named.
    let glue = d.join("test.tsv");
    std::fs::write(&glue, "index\tsentence\n7\tw1 w2\n3\tw5\n").unwrap();
    let out = d.join("glue.csv");
    ok(&[
        "predict",
        "--model",
        s(&model),
        "--input",
        s(&glue),
        "--text-column",
        "sentence",
        "--output",
        s(&out),
    ]);
    let (header, rows) = read(&out);
    assert_eq!(header, ["index", "score"]);
    assert_eq!((rows[0][0].as_str(), rows[1][0].as_str()), ("7", "3"));
}

#[test]
fn malformed_input_fails_with_one_error_naming_file_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let model = tiny_model(d, "m", Some(2), None);
    let out = d.join("out.csv");
    let run = |input: &Path, extra: &[&str]| {
        let mut args = vec!["predict", "--model", s(&model), "--input", s(input)];
        args.extend(extra);
        args.extend(["--output", s(&out)]);
        fails(&args)
    };
    let csv = d.join("reviews.csv");
    std::fs::write(&csv, "id,review\n1,w1 w2\n2,\n3,w3\n").unwrap();
    let err = run(&csv, &[]);
    assert_mentions(&err, &["reviews.csv", "no column `text`", "id, review"]);
    let err = run(&csv, &["--text-column", "review"]);
    assert_mentions(&err, &["reviews.csv:3:", "column `review` is empty"]);
    let err = run(
        &csv,
        &["--text-column", "review", "--pair-column", "hypothesis"],
    );
    assert_mentions(
        &err,
        &["reviews.csv", "no column `hypothesis`", "id, review"],
    );
    let err = run(
        &csv,
        &["--text-column", "review", "--pair-column", "review"],
    );
    assert_mentions(&err, &["pair column is the text column `review`"]);
    let err = run(&csv, &["--text-column", "review", "--id-column", "key"]);
    assert_mentions(&err, &["reviews.csv", "no column `key`"]);
    let jsonl = d.join("reviews.jsonl");
    std::fs::write(
        &jsonl,
        "{\"text\": \"w1\", \"other\": \"w2\"}\n\n{\"text\": \"w3\", \"other\": \"  \"}\n",
    )
    .unwrap();
    let err = run(&jsonl, &["--pair-column", "other"]);
    assert_mentions(&err, &["reviews.jsonl:3:", "column `other` is blank"]);
    let err = run(&jsonl, &["--format", "tsv"]);
    assert_mentions(&err, &["--format tsv", "out.csv"]);
    let err = run(&csv, &["--text-column", "id", "--id-column", "review"]);
    assert_mentions(&err, &["reviews.csv:3:", "column `review` is empty"]);
    let labelled = d.join("labelled.csv");
    std::fs::write(&labelled, "label,text\nx,w1\n").unwrap();
    let err = run(&labelled, &["--id-column", "label"]);
    assert_mentions(
        &err,
        &["labelled.csv", "id column `label`", "output column"],
    );
    let err = run(&d.join("reviews.xlsx"), &[]);
    assert_mentions(&err, &["reviews.xlsx", "unknown file format"]);
    assert!(!out.exists(), "no output after a failure");

    let encoder = tiny_model(d, "encoder-only", None, None);
    let err = fails(&[
        "predict",
        "--model",
        s(&encoder),
        "--input",
        s(&jsonl),
        "--output",
        s(&out),
    ]);
    assert_mentions(&err, &["encoder-only", "has no classifier head"]);
}

#[test]
fn ten_thousand_rows_come_back_in_input_order_with_probabilities_summing_to_one() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let labels = ["a", "b", "c"];
    let model = tiny_model(d, "m", Some(3), Some(&labels));
    let n = 10_000;
    let inp = input(d, "big", Format::Csv, n, true);
    let out = d.join("big.parquet");
    ok(&[
        "predict",
        "--model",
        s(&model),
        "--input",
        s(&inp),
        "--output",
        s(&out),
    ]);
    let ids: Vec<String> = (0..n).map(|i| format!("r{}", n - i)).collect();
    check_classes(&out, &ids, &labels);
}
