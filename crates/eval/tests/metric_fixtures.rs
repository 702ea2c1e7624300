//! The metrics against scikit-learn/scipy values committed in `fixtures/metrics.json`
//! (made by `scripts/eval/make_metric_fixtures.py`), to 1e-6. scipy's NaN for a constant
//! input is `null` there; the crate defines it as 0.

use serde::Deserialize;
use tinybert_eval::metrics;

const TOLERANCE: f64 = 1e-6;

#[derive(Deserialize)]
struct Fixtures {
    classification: Vec<ClassCase>,
    regression: Vec<RegCase>,
}

#[derive(Deserialize)]
struct ClassCase {
    name: String,
    labels: Vec<u32>,
    predictions: Vec<u32>,
    accuracy: f64,
    matthews_corr: f64,
    f1: Option<f64>,
}

#[derive(Deserialize)]
struct RegCase {
    name: String,
    labels: Vec<f64>,
    predictions: Vec<f64>,
    pearson: Option<f64>,
    spearman: Option<f64>,
}

fn fixtures() -> Fixtures {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/metrics.json");
    let text = std::fs::read_to_string(path).expect("fixtures/metrics.json is committed");
    serde_json::from_str(&text).expect("fixtures/metrics.json parses")
}

fn close(name: &str, metric: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= TOLERANCE,
        "{name}: {metric} = {got}, scikit-learn/scipy give {want}"
    );
}

#[test]
fn classification_metrics_match_scikit_learn() {
    let f = fixtures();
    assert!(f.classification.len() >= 10);
    for c in &f.classification {
        let (p, l) = (&c.predictions, &c.labels);
        close(
            &c.name,
            "accuracy",
            metrics::accuracy(p, l).unwrap(),
            c.accuracy,
        );
        close(
            &c.name,
            "matthews_corr",
            metrics::matthews_corr(p, l).unwrap(),
            c.matthews_corr,
        );
        if let Some(f1) = c.f1 {
            close(&c.name, "f1", metrics::f1(p, l).unwrap(), f1);
        }
    }
}

#[test]
fn degenerate_classification_cases_are_defined_like_scikit_learn() {
    let f = fixtures();
    let case = |name: &str| {
        f.classification
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("fixture {name}"))
    };
    for name in [
        "labels_all_negative",
        "all_positive_both",
        "all_negative_both",
        "constant_negative_predictions",
        "single_example_correct",
        "three_class_constant_predictions",
    ] {
        let c = case(name);
        assert_eq!(c.matthews_corr, 0.0, "{name}");
        assert_eq!(
            metrics::matthews_corr(&c.predictions, &c.labels).unwrap(),
            0.0,
            "{name}"
        );
    }
    for name in ["all_negative_both", "constant_negative_predictions"] {
        let c = case(name);
        assert_eq!(c.f1, Some(0.0), "{name}");
        assert_eq!(
            metrics::f1(&c.predictions, &c.labels).unwrap(),
            0.0,
            "{name}"
        );
    }
}

#[test]
fn correlations_match_scipy_and_constant_input_gives_zero() {
    let f = fixtures();
    let mut constant_cases = 0;
    for c in &f.regression {
        let (p, l) = (&c.predictions, &c.labels);
        let pearson = metrics::pearson(p, l).unwrap();
        let spearman = metrics::spearman(p, l).unwrap();
        match (c.pearson, c.spearman) {
            (Some(want_p), Some(want_s)) => {
                close(&c.name, "pearson", pearson, want_p);
                close(&c.name, "spearman", spearman, want_s);
            }
            (None, None) => {
                constant_cases += 1;
                assert_eq!((pearson, spearman), (0.0, 0.0), "{}", c.name);
            }
            _ => panic!("{}: scipy gave NaN for only one of the two", c.name),
        }
    }
    assert_eq!(
        constant_cases, 2,
        "constant predictions and constant labels"
    );
}

#[test]
fn correlations_of_f32_inputs_match_the_f64_values() {
    let f = fixtures();
    let c = f
        .regression
        .iter()
        .find(|c| c.name == "ties_both_sides_120")
        .expect("fixture");
    // The tie fixture's values are multiples of 0.1/0.5, exact enough in f32 to keep ties.
    let p: Vec<f32> = c.predictions.iter().map(|&v| v as f32).collect();
    let l: Vec<f32> = c.labels.iter().map(|&v| v as f32).collect();
    let want = c.spearman.expect("finite");
    assert!((metrics::spearman(&p, &l).unwrap() - want).abs() < 1e-5);
}
