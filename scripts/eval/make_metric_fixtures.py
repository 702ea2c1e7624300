#!/usr/bin/env python3
"""Reference values for the eval crate's metrics, computed with scikit-learn and scipy.

Writes crates/eval/tests/fixtures/metrics.json, which `crates/eval/tests/metric_fixtures.rs`
compares against to 1e-6. Degenerate cases are included as scikit-learn/scipy define them:
F1 with no positive predictions or labels is 0 (zero_division=0, scikit-learn's "warn"
behaviour), Matthews correlation is 0 when either side has one class only, and Pearson/Spearman
of a constant input is NaN in scipy, written here as `null` (the crate defines it as 0.0).

Set-up (once):
    python3 -m venv ~/.cache/tinybert-metrics
    ~/.cache/tinybert-metrics/bin/pip install numpy scipy scikit-learn
Run from the repository root:
    ~/.cache/tinybert-metrics/bin/python scripts/eval/make_metric_fixtures.py
"""

import json
import math
import pathlib
import warnings

import numpy as np
import scipy
import scipy.stats
import sklearn
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

OUT = pathlib.Path(__file__).resolve().parents[2] / "crates/eval/tests/fixtures/metrics.json"


def nan_to_none(x):
    x = float(x)
    return None if math.isnan(x) else x


def classification_case(name, labels, predictions, binary):
    labels = [int(v) for v in labels]
    predictions = [int(v) for v in predictions]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        case = {
            "name": name,
            "labels": labels,
            "predictions": predictions,
            "accuracy": float(accuracy_score(labels, predictions)),
            "matthews_corr": float(matthews_corrcoef(labels, predictions)),
        }
        if binary:
            case["f1"] = float(
                f1_score(labels, predictions, pos_label=1, average="binary", zero_division=0)
            )
    return case


def regression_case(name, labels, predictions):
    labels = [float(v) for v in labels]
    predictions = [float(v) for v in predictions]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pearson = scipy.stats.pearsonr(predictions, labels)[0]
        spearman = scipy.stats.spearmanr(predictions, labels)[0]
    return {
        "name": name,
        "labels": labels,
        "predictions": predictions,
        "pearson": nan_to_none(pearson),
        "spearman": nan_to_none(spearman),
    }


def main():
    rng = np.random.default_rng(20200401)
    cls = []

    y = rng.integers(0, 2, 200)
    flip = rng.random(200) < 0.3
    cls.append(classification_case("binary_random_200", y, np.where(flip, 1 - y, y), True))
    y = (rng.random(150) < 0.2).astype(int)
    p = np.where(rng.random(150) < 0.15, 1 - y, y)
    cls.append(classification_case("binary_imbalanced_150", y, p, True))
    y = rng.integers(0, 2, 40)
    cls.append(classification_case("binary_perfect", y, y, True))
    cls.append(classification_case("binary_all_wrong", y, 1 - y, True))
    cls.append(classification_case("labels_all_negative", [0] * 10, [0, 1, 0, 0, 1, 0, 0, 0, 0, 1], True))
    cls.append(classification_case("labels_all_positive", [1] * 8, [1, 1, 0, 1, 1, 1, 0, 1], True))
    cls.append(classification_case("all_positive_both", [1] * 6, [1] * 6, True))
    cls.append(classification_case("all_negative_both", [0] * 6, [0] * 6, True))
    cls.append(classification_case("constant_negative_predictions", [0, 1, 1, 0, 1, 0, 0], [0] * 7, True))
    cls.append(classification_case("constant_positive_predictions", [0, 1, 1, 0, 1, 0, 0], [1] * 7, True))
    cls.append(classification_case("single_example_correct", [1], [1], True))
    cls.append(classification_case("single_example_wrong", [0], [1], True))
    y = rng.integers(0, 3, 300)
    p = np.where(rng.random(300) < 0.35, rng.integers(0, 3, 300), y)
    cls.append(classification_case("three_class_random_300", y, p, False))
    cls.append(classification_case("three_class_constant_predictions", y[:30], [2] * 30, False))
    cls.append(classification_case("three_class_two_predicted", [0, 1, 2, 2, 1, 0, 2, 1], [0, 1, 1, 2, 1, 0, 2, 0], False))

    reg = []
    x = rng.normal(2.5, 1.2, 300)
    reg.append(regression_case("correlated_300", x, 0.8 * x + rng.normal(0, 0.6, 300)))
    gold = np.round(rng.uniform(0, 5, 120) * 5) / 5
    pred = np.round((gold + rng.normal(0, 0.8, 120)) * 2) / 2
    reg.append(regression_case("ties_both_sides_120", gold, pred))
    x = np.linspace(0.1, 4.0, 25)
    reg.append(regression_case("monotone_nonlinear", x, np.exp(x)))
    reg.append(regression_case("negative", x, -2.0 * x + 1.0))
    reg.append(regression_case("all_tied_but_one", [1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 2.0, 2.0, 2.0, 3.0]))
    reg.append(regression_case("constant_predictions", [0.5, 1.5, 3.0, 4.25], [2.0] * 4))
    reg.append(regression_case("constant_labels", [3.0] * 5, [0.1, 0.4, 0.2, 0.9, 0.3]))
    reg.append(regression_case("two_points", [1.0, 4.0], [0.0, 2.0]))
    x = rng.normal(0, 1, 50)
    reg.append(regression_case("large_offset", 1e6 + x, 1e6 + x + rng.normal(0, 0.5, 50)))

    doc = {
        "generator": "scripts/eval/make_metric_fixtures.py",
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__, "scikit-learn": sklearn.__version__},
        "classification": cls,
        "regression": reg,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
