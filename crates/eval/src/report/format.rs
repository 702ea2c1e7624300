//! Cell formatting shared by the Markdown and CSV renderers.

use super::rows::{Retained, Spread};

/// What a cell without a result shows.
pub const MISSING: &str = "–";

/// A percentage with one decimal, as the paper prints.
pub fn score(v: Option<f64>) -> String {
    v.map_or_else(|| MISSING.into(), |v| format!("{v:.1}"))
}

/// A score with its spread over seeds, when it has one: `72.0 ± 2.0`.
pub fn score_spread(v: Option<f64>, spread: Option<Spread>) -> String {
    match (v, spread) {
        (Some(v), Some(s)) => format!("{v:.1} ± {:.1}", s.std),
        _ => score(v),
    }
}

/// A parameter count in millions, as the paper prints: `109M`, `14.5M`; below 1M in thousands
/// (`28K`) so that tiny models do not all show `0.0M`.
pub fn params(v: Option<f64>) -> String {
    match v {
        Some(p) if p >= 100e6 => format!("{:.0}M", p / 1e6),
        Some(p) if p >= 1e6 => format!("{:.1}M", p / 1e6),
        Some(p) => format!("{:.0}K", p / 1e3),
        None => MISSING.into(),
    }
}

/// A speed-up factor: `9.4x`.
pub fn speedup(v: Option<f64>) -> String {
    v.map_or_else(|| MISSING.into(), |v| format!("{v:.1}x"))
}

/// Retained share of the teacher: `96.9`, or `96.9 (2/9)` when not every column is shared.
pub fn retained(r: Option<Retained>) -> String {
    match r {
        Some(r) if r.columns == r.of => format!("{:.1}", r.percent),
        Some(r) => format!("{:.1} ({}/{})", r.percent, r.columns, r.of),
        None => MISSING.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_follow_the_paper() {
        assert_eq!(params(Some(109e6)), "109M");
        assert_eq!(params(Some(14.5e6)), "14.5M");
        assert_eq!(params(Some(67e6)), "67.0M");
        assert_eq!(params(Some(28_300.0)), "28K");
        assert_eq!(speedup(Some(9.4)), "9.4x");
        assert_eq!(score(Some(66.64)), "66.6");
        assert_eq!(score(None), "–");
        let seeds = Some(Spread { std: 0.44, n: 3 });
        assert_eq!(score_spread(Some(72.04), seeds), "72.0 ± 0.4");
        assert_eq!(score_spread(Some(72.04), None), "72.0");
        assert_eq!(params(None), "–");
        let partial = Retained {
            percent: 93.25,
            columns: 2,
            of: 9,
        };
        assert_eq!(retained(Some(partial)), "93.2 (2/9)");
        assert_eq!(retained(None), "–");
    }
}
