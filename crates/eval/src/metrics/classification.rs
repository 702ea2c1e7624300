//! Accuracy, binary F1 (positive class 1) and Matthews correlation over class ids.

use std::collections::BTreeMap;

use super::check_lengths;
use crate::error::{Error, Result};

/// Fraction of examples whose predicted class equals the label.
pub fn accuracy(predictions: &[u32], labels: &[u32]) -> Result<f64> {
    check_lengths("accuracy", predictions.len(), labels.len())?;
    let correct = predictions
        .iter()
        .zip(labels)
        .filter(|(p, l)| p == l)
        .count();
    Ok(correct as f64 / labels.len() as f64)
}

/// F1 of the positive class 1: `2·TP / (2·TP + FP + FN)`, 0 when there is no true positive.
///
/// Both sides must be binary (0 or 1); another class id is an [`Error::NotBinary`].
pub fn f1(predictions: &[u32], labels: &[u32]) -> Result<f64> {
    const METRIC: &str = "f1";
    check_lengths(METRIC, predictions.len(), labels.len())?;
    check_binary(METRIC, "predictions", predictions)?;
    check_binary(METRIC, "labels", labels)?;
    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    for (&p, &l) in predictions.iter().zip(labels) {
        match (p, l) {
            (1, 1) => tp += 1,
            (1, _) => fp += 1,
            (_, 1) => fn_ += 1,
            _ => {}
        }
    }
    if tp == 0 {
        return Ok(0.0);
    }
    Ok((2 * tp) as f64 / (2 * tp + fp + fn_) as f64)
}

/// Matthews correlation coefficient over any number of classes (scikit-learn's
/// `matthews_corrcoef`); 0 when either side has a single class.
pub fn matthews_corr(predictions: &[u32], labels: &[u32]) -> Result<f64> {
    check_lengths("matthews_corr", predictions.len(), labels.len())?;
    // Per class: (count among labels, count among predictions).
    let mut counts: BTreeMap<u32, (f64, f64)> = BTreeMap::new();
    let mut correct = 0.0;
    for (&p, &l) in predictions.iter().zip(labels) {
        counts.entry(l).or_default().0 += 1.0;
        counts.entry(p).or_default().1 += 1.0;
        if p == l {
            correct += 1.0;
        }
    }
    let n = labels.len() as f64;
    let dot_tp: f64 = counts.values().map(|(t, p)| t * p).sum();
    let dot_tt: f64 = counts.values().map(|(t, _)| t * t).sum();
    let dot_pp: f64 = counts.values().map(|(_, p)| p * p).sum();
    let cov_tp = correct * n - dot_tp;
    let cov_tt = n * n - dot_tt;
    let cov_pp = n * n - dot_pp;
    if cov_tt == 0.0 || cov_pp == 0.0 {
        return Ok(0.0);
    }
    Ok(cov_tp / (cov_tt * cov_pp).sqrt())
}

fn check_binary(metric: &'static str, side: &'static str, values: &[u32]) -> Result<()> {
    match values.iter().position(|&v| v > 1) {
        Some(index) => Err(Error::NotBinary {
            metric,
            side,
            index,
            value: values[index],
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_counts_matches() {
        assert_eq!(accuracy(&[0, 1, 1, 0], &[0, 1, 0, 0]).unwrap(), 0.75);
    }

    #[test]
    fn f1_by_hand() {
        // TP = 2, FP = 1, FN = 1 -> 4 / 6.
        let f = f1(&[1, 1, 1, 0, 0], &[1, 1, 0, 1, 0]).unwrap();
        assert!((f - 4.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn f1_rejects_a_third_class_with_its_index() {
        let err = f1(&[0, 1, 2], &[0, 1, 1]).unwrap_err();
        assert!(matches!(
            err,
            Error::NotBinary {
                side: "predictions",
                index: 2,
                value: 2,
                ..
            }
        ));
    }

    #[test]
    fn matthews_is_symmetric_and_bounded() {
        let p = [0, 1, 2, 2, 1, 0, 1];
        let l = [0, 1, 1, 2, 1, 2, 0];
        let a = matthews_corr(&p, &l).unwrap();
        let b = matthews_corr(&l, &p).unwrap();
        assert!((a - b).abs() < 1e-12);
        assert!((-1.0..=1.0).contains(&a));
    }

    #[test]
    fn length_mismatch_and_empty_are_errors() {
        assert!(matches!(
            accuracy(&[0, 1], &[0]),
            Err(Error::LengthMismatch {
                left: 2,
                right: 1,
                ..
            })
        ));
        assert!(matches!(f1(&[], &[]), Err(Error::Empty { metric: "f1" })));
        assert!(matches!(matthews_corr(&[], &[]), Err(Error::Empty { .. })));
    }
}
