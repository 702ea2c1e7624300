//! Pearson and Spearman correlation (ties get averaged ranks, as scipy's `spearmanr`).

use super::check_lengths;
use crate::error::{Error, Result};

/// Pearson correlation of predictions and labels; 0 when either side is constant.
pub fn pearson<P, L>(predictions: &[P], labels: &[L]) -> Result<f64>
where
    P: Copy + Into<f64>,
    L: Copy + Into<f64>,
{
    let (x, y) = checked_pair("pearson", predictions, labels)?;
    Ok(pearson_f64(&x, &y))
}

/// Spearman rank correlation (Pearson of the averaged ranks); 0 when either side is constant.
pub fn spearman<P, L>(predictions: &[P], labels: &[L]) -> Result<f64>
where
    P: Copy + Into<f64>,
    L: Copy + Into<f64>,
{
    let (x, y) = checked_pair("spearman", predictions, labels)?;
    Ok(pearson_f64(&average_ranks(&x), &average_ranks(&y)))
}

/// Both sides as `f64`, after checking (for `metric`'s errors) that their lengths agree and
/// every value is finite.
fn checked_pair<P, L>(
    metric: &'static str,
    predictions: &[P],
    labels: &[L],
) -> Result<(Vec<f64>, Vec<f64>)>
where
    P: Copy + Into<f64>,
    L: Copy + Into<f64>,
{
    check_lengths(metric, predictions.len(), labels.len())?;
    let x = finite(metric, "predictions", predictions)?;
    let y = finite(metric, "labels", labels)?;
    Ok((x, y))
}

fn finite<T: Copy + Into<f64>>(
    metric: &'static str,
    side: &'static str,
    values: &[T],
) -> Result<Vec<f64>> {
    let out: Vec<f64> = values.iter().map(|&v| v.into()).collect();
    match out.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(Error::NonFinite {
            metric,
            side,
            index,
            value: out[index],
        }),
        None => Ok(out),
    }
}

/// Pearson on finite, equal-length, non-empty inputs. Centred two-pass sums in f64.
fn pearson_f64(x: &[f64], y: &[f64]) -> f64 {
    if is_constant(x) || is_constant(y) {
        return 0.0;
    }
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (&a, &b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 || syy == 0.0 {
        return 0.0;
    }
    (sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0)
}

fn is_constant(values: &[f64]) -> bool {
    values.iter().all(|&v| v == values[0])
}

/// 1-based ranks; a run of equal values gets the mean of the ranks it spans.
fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Positions start..end hold ranks start+1 ..= end; their mean:
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_get_the_mean_of_their_ranks() {
        assert_eq!(
            average_ranks(&[3.0, 1.0, 3.0, 2.0, 3.0]),
            vec![4.0, 1.0, 4.0, 2.0, 4.0]
        );
    }

    #[test]
    fn constant_side_gives_zero_not_nan() {
        assert_eq!(
            pearson(&[1.0f32, 1.0, 1.0], &[0.0f32, 1.0, 2.0]).unwrap(),
            0.0
        );
        assert_eq!(
            spearman(&[0.0f64, 1.0, 2.0], &[5.0f64, 5.0, 5.0]).unwrap(),
            0.0
        );
    }

    #[test]
    fn single_example_is_constant_so_zero() {
        assert_eq!(pearson(&[2.0f64], &[3.0f64]).unwrap(), 0.0);
        assert_eq!(spearman(&[2.0f64], &[3.0f64]).unwrap(), 0.0);
    }

    #[test]
    fn accepts_f32_predictions_with_f64_labels() {
        let r = pearson(&[1.0f32, 2.0, 3.0], &[2.0f64, 4.0, 6.5]).unwrap();
        assert!(r > 0.99 && r <= 1.0);
    }

    #[test]
    fn nan_input_is_an_error_naming_its_index() {
        let err = spearman(&[1.0f64, f64::NAN, 2.0], &[1.0f64, 2.0, 3.0]).unwrap_err();
        assert!(matches!(
            err,
            Error::NonFinite {
                side: "predictions",
                index: 1,
                ..
            }
        ));
    }
}
