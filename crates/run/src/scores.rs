//! Dev scores: the named metrics of a task and its selection score.

use serde::{Deserialize, Serialize};

/// A task's metrics on a labelled split, as fractions. The JSON form is the contract of
/// `summary.json`, `metrics.jsonl` and `tinybert eval score --json`: keys `accuracy`, `f1`,
/// `matthews_corr`, `pearson`, `spearman` where the task has them, and `score`, the task's
/// selection score (SPEC §6: accuracy; CoLA Matthews; STS-B (Pearson + Spearman) / 2; MRPC and
/// QQP select on accuracy). The eval crate computes them; this crate only carries them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub f1: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matthews_corr: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pearson: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spearman: Option<f64>,
    /// The task's selection score.
    pub score: f64,
}

impl Scores {
    /// Scores with no metric and a selection score of 0 (a scorer fills them in).
    pub fn empty() -> Self {
        Scores {
            accuracy: None,
            f1: None,
            matthews_corr: None,
            pearson: None,
            spearman: None,
            score: 0.0,
        }
    }

    /// The metrics present, in contract order, then `score`.
    pub fn named(&self) -> Vec<(&'static str, f64)> {
        [
            ("accuracy", self.accuracy),
            ("f1", self.f1),
            ("matthews_corr", self.matthews_corr),
            ("pearson", self.pearson),
            ("spearman", self.spearman),
            ("score", Some(self.score)),
        ]
        .into_iter()
        .filter_map(|(n, v)| v.map(|v| (n, v)))
        .collect()
    }

    /// The first metric that is NaN or infinite, if any.
    pub fn first_non_finite(&self) -> Option<(&'static str, f64)> {
        self.named().into_iter().find(|(_, v)| !v.is_finite())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_uses_the_contract_keys_and_omits_absent_metrics() {
        let s = Scores {
            accuracy: Some(0.5),
            f1: Some(2.0 / 3.0),
            ..Scores::empty()
        };
        let s = Scores { score: 0.5, ..s };
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(
            json,
            r#"{"accuracy":0.5,"f1":0.6666666666666666,"score":0.5}"#
        );
        assert_eq!(serde_json::from_str::<Scores>(&json).unwrap(), s);
        assert_eq!(
            s.named(),
            [("accuracy", 0.5), ("f1", 2.0 / 3.0), ("score", 0.5)]
        );
    }

    #[test]
    fn a_non_finite_metric_is_found_by_name() {
        let s = Scores {
            pearson: Some(f64::NAN),
            ..Scores::empty()
        };
        assert_eq!(s.first_non_finite().map(|(n, _)| n), Some("pearson"));
        assert_eq!(Scores::empty().first_non_finite(), None);
    }
}
