//! GLUE metrics as pure functions on slices, defined as scikit-learn and scipy define them.
//!
//! Scores are fractions (accuracy 0.71, not 71). Every function takes `(predictions, labels)`,
//! returns [`Error::LengthMismatch`] when their lengths differ and [`Error::Empty`] on zero
//! examples. Degenerate inputs have defined values, never NaN:
//! - [`f1`] is 0 when there are no true positives (scikit-learn's `zero_division=0`), which
//!   covers "no positive predictions" and "no positive labels";
//! - [`matthews_corr`] is 0 when either side has one class only (scikit-learn);
//! - [`pearson`] and [`spearman`] are 0 when either side is constant (a single example
//!   included), where scipy returns NaN: "no measurable association". A NaN or infinite value
//!   in the inputs is an [`Error::NonFinite`] naming its index.

mod classification;
mod correlation;

pub use classification::{accuracy, f1, matthews_corr};
pub use correlation::{pearson, spearman};

use crate::error::{Error, Result};

/// Checks the shared preconditions of every metric: equal, non-zero lengths.
fn check_lengths(metric: &'static str, left: usize, right: usize) -> Result<()> {
    if left != right {
        return Err(Error::LengthMismatch {
            metric,
            left,
            right,
        });
    }
    if left == 0 {
        return Err(Error::Empty { metric });
    }
    Ok(())
}
