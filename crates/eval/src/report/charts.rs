//! SVG charts (plotters): dev score vs step per task, and score vs parameters / speed-up.
//!
//! Text is written as SVG `<text>` elements, so no font files or system libraries are needed.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::rows::{ReportRow, Source};
use super::scored::ScoredRun;
use crate::error::{Error, Result};
use crate::glue::GlueColumn;

/// One series of a chart: points in data coordinates, joined by a line or not, with an
/// optional text next to each point (`point_labels` is empty or one per point).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub line: bool,
    pub point_labels: Vec<String>,
}

/// A chart to draw: `file` is relative to the report folder (`charts/….svg`).
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub file: String,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// Logarithmic x axis (parameter counts, speed-ups).
    pub log_x: bool,
    pub series: Vec<Series>,
}

const SIZE: (u32, u32) = (800, 480);

/// One chart per task of the table's `columns` that has dev evaluations in some run's
/// `metrics.jsonl`: the selection score (percent) against the step, one line per run (labelled
/// by its row).
pub fn dev_curve_charts(
    rows: &[(String, Vec<ScoredRun>)],
    columns: &[GlueColumn],
) -> Result<Vec<Chart>> {
    let mut charts: Vec<Chart> = Vec::new();
    for (label, runs) in rows {
        for run in runs {
            let task = run.task.name();
            if !columns.iter().any(|c| c.task == run.task) {
                continue;
            }
            let points: Vec<(f64, f64)> = run
                .run
                .metrics
                .iter()
                .filter_map(|m| m.dev.as_ref().map(|d| (m.step as f64, d.score * 100.0)))
                .collect();
            if points.is_empty() {
                continue;
            }
            let file = format!("charts/dev_{task}.svg");
            let series = Series {
                label: label.clone(),
                points,
                line: true,
                point_labels: Vec::new(),
            };
            match charts.iter_mut().find(|c| c.file == file) {
                Some(chart) => chart.series.push(series),
                None => charts.push(Chart {
                    file,
                    title: format!("{task}: dev score vs step"),
                    x_label: "step".into(),
                    y_label: "dev selection score (%)".into(),
                    log_x: false,
                    series: vec![series],
                }),
            }
        }
    }
    charts.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(charts)
}

/// Score against parameters and against speed-up: for our rows one series per column (dev),
/// for the paper's rows their average (`paper_split`). Paper points carry their row's label, and
/// each of our rows is named at its first point. Charts without points are left out.
pub fn size_charts(rows: &[ReportRow], columns: &[GlueColumn], paper_split: &str) -> Vec<Chart> {
    let axes: [(&str, &str, &str, XOf); 2] = [
        (
            "charts/score_vs_params.svg",
            "parameters (millions)",
            "parameters",
            |r| r.params.map(|p| p / 1e6),
        ),
        (
            "charts/score_vs_speedup.svg",
            "inference speed-up (x)",
            "speed-up",
            |r| r.speedup,
        ),
    ];
    let mut charts = Vec::new();
    for (file, x_label, what, x_of) in axes {
        let mut series = Vec::new();
        let mut labelled: Vec<String> = Vec::new();
        for (i, c) in columns.iter().enumerate() {
            let (points, labels) = sorted_points(rows, Source::Ours, x_of, |r| r.cells[i]);
            if points.is_empty() {
                continue;
            }
            // Each of our rows is named once, at its first point.
            let point_labels = labels
                .into_iter()
                .map(|l| {
                    if labelled.contains(&l) {
                        String::new()
                    } else {
                        labelled.push(l.clone());
                        l
                    }
                })
                .collect();
            series.push(Series {
                label: format!("ours: {} (dev)", c.name),
                points,
                line: true,
                point_labels,
            });
        }
        let (points, labels) = sorted_points(rows, Source::Paper, x_of, |r| r.avg);
        if !points.is_empty() {
            series.push(Series {
                label: format!("paper: avg ({paper_split})"),
                points,
                line: false,
                point_labels: labels,
            });
        }
        if !series.is_empty() {
            charts.push(Chart {
                file: file.into(),
                title: format!("score vs {what}"),
                x_label: x_label.into(),
                y_label: "score (%)".into(),
                log_x: true,
                series,
            });
        }
    }
    charts
}

/// The x value of a row on a size chart.
type XOf = fn(&ReportRow) -> Option<f64>;

fn sorted_points(
    rows: &[ReportRow],
    source: Source,
    x_of: XOf,
    y_of: impl Fn(&ReportRow) -> Option<f64>,
) -> (Vec<(f64, f64)>, Vec<String>) {
    let mut points: Vec<(f64, f64, String)> = rows
        .iter()
        .filter(|r| r.source == source)
        .filter_map(|r| Some((x_of(r)?, y_of(r)?, r.label.clone())))
        .filter(|(x, _, _)| *x > 0.0)
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    points.into_iter().map(|(x, y, l)| ((x, y), l)).unzip()
}

/// Tableau-10 colours: distinguishable and readable on white.
const COLORS: [RGBColor; 10] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0x17, 0xbe, 0xcf),
];

/// Renders a chart to an SVG document.
pub fn render_svg(chart: &Chart) -> Result<String> {
    let mut svg = String::new();
    draw(chart, &mut svg).map_err(|message| Error::Chart {
        path: chart.file.clone().into(),
        message,
    })?;
    Ok(svg)
}

fn draw(chart: &Chart, svg: &mut String) -> std::result::Result<(), String> {
    let fail = |e: &dyn std::fmt::Display| e.to_string();
    // A log axis is drawn as log10(x) with labels mapped back.
    let tx = |x: f64| if chart.log_x { x.log10() } else { x };
    let all = || chart.series.iter().flat_map(|s| s.points.iter());
    let (x0, x1) = padded(all().map(|p| tx(p.0)), chart.log_x);
    let (y0, y1) = padded(all().map(|p| p.1), false);
    let root = SVGBackend::with_string(svg, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let mut ctx = ChartBuilder::on(&root)
        .caption(&chart.title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(
            TickAxis {
                range: x0..x1,
                ticks: x_ticks(x0, x1, chart.log_x),
            },
            y0..y1,
        )
        .map_err(|e| fail(&e))?;
    let log_x = chart.log_x;
    let x_fmt = move |v: &f64| {
        let x = if log_x { 10f64.powf(*v) } else { *v };
        tick_label(x)
    };
    ctx.configure_mesh()
        .x_desc(chart.x_label.as_str())
        .y_desc(chart.y_label.as_str())
        .x_label_formatter(&x_fmt)
        .draw()
        .map_err(|e| fail(&e))?;
    for (i, s) in chart.series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let points: Vec<(f64, f64)> = s.points.iter().map(|&(x, y)| (tx(x), y)).collect();
        if s.line && points.len() > 1 {
            ctx.draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(|e| fail(&e))?;
        }
        ctx.draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))
            .map_err(|e| fail(&e))?
            .label(s.label.as_str())
            .legend(move |(x, y)| Circle::new((x + 8, y), 4, color.filled()));
        // Labels sit right of their point, or left of it in the right quarter of the plot.
        let right_edge = x0 + 0.75 * (x1 - x0);
        let font = ("sans-serif", 11).into_font().color(&color);
        let labels = points
            .iter()
            .zip(&s.point_labels)
            .filter(|(_, text)| !text.is_empty())
            .map(|(&p, text)| {
                let (dx, h) = if p.0 > right_edge {
                    (-7, HPos::Right)
                } else {
                    (7, HPos::Left)
                };
                let style = font.clone().pos(Pos::new(h, VPos::Bottom));
                EmptyElement::at(p) + Text::new(text.clone(), (dx, -4), style)
            });
        ctx.draw_series(labels).map_err(|e| fail(&e))?;
    }
    ctx.configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| fail(&e))?;
    root.present().map_err(|e| fail(&e))?;
    Ok(())
}

/// A linear f64 axis with given tick positions (plotters' own picks evenly spaced ticks, which
/// on a log10-transformed axis are not round numbers).
struct TickAxis {
    range: Range<f64>,
    ticks: Vec<f64>,
}

impl Ranged for TickAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let width = self.range.end - self.range.start;
        if width <= 0.0 {
            return (limit.0 + limit.1) / 2;
        }
        let frac = (value - self.range.start) / width;
        limit.0 + ((limit.1 - limit.0) as f64 * frac).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// Tick positions for an x axis from `lo` to `hi` (in log10 units when `log`): multiples of
/// 1, 2 and 5 of a power of ten (adding 3 on a log axis spanning less than a decade or so).
fn x_ticks(lo: f64, hi: f64, log: bool) -> Vec<f64> {
    if !log {
        let raw = (hi - lo) / 8.0;
        let magnitude = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0]
            .into_iter()
            .map(|m| m * magnitude)
            .find(|s| *s >= raw)
            .unwrap_or(10.0 * magnitude);
        let first = (lo / step).ceil() as i64;
        let last = (hi / step).floor() as i64;
        return (first..=last).map(|k| k as f64 * step).collect();
    }
    let in_range = |mantissas: &[f64]| -> Vec<f64> {
        let mut ticks = Vec::new();
        for decade in lo.floor() as i32..=hi.ceil() as i32 {
            for m in mantissas {
                let t = (m * 10f64.powi(decade)).log10();
                if t >= lo && t <= hi {
                    ticks.push(t);
                }
            }
        }
        ticks
    };
    let ticks = in_range(&[1.0, 2.0, 5.0]);
    if ticks.len() >= 4 {
        ticks
    } else {
        in_range(&[1.0, 2.0, 3.0, 5.0])
    }
}

fn tick_label(x: f64) -> String {
    if (x - x.round()).abs() < 1e-6 * x.abs().max(1.0) {
        format!("{x:.0}")
    } else if x.abs() >= 1.0 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}

/// The range of `values` widened by 5% on each side (a fixed width when all are equal).
fn padded(values: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    let pad = if hi > lo {
        (hi - lo) * 0.05
    } else if log {
        0.1
    } else {
        lo.abs().max(1.0) * 0.05
    };
    (lo - pad, hi + pad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_has_title_axis_labels_and_legend_as_text() {
        let chart = Chart {
            file: "charts/x.svg".into(),
            title: "RTE: dev score vs step".into(),
            x_label: "step".into(),
            y_label: "score".into(),
            log_x: false,
            series: vec![
                Series {
                    label: "student".into(),
                    points: vec![(0.0, 50.0), (100.0, 60.0)],
                    line: true,
                    point_labels: Vec::new(),
                },
                Series {
                    label: "teacher".into(),
                    points: vec![(50.0, 70.0)],
                    line: true,
                    point_labels: Vec::new(),
                },
            ],
        };
        let svg = render_svg(&chart).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40.min(svg.len())]);
        // plotters writes each text on its own line inside <text>.
        for text in [
            "RTE: dev score vs step",
            "\nstep\n",
            "\nstudent\n",
            "\nteacher\n",
        ] {
            assert!(svg.contains(text), "missing {text:?}");
        }
        assert!(svg.contains("\n100\n"), "a tick at step 100");
        // Grid lines are polylines too: count the thick series line only.
        assert_eq!(svg.matches("stroke-width=\"2\"").count(), 1);
    }

    #[test]
    fn log_axis_labels_are_in_data_units() {
        let chart = Chart {
            file: "charts/p.svg".into(),
            title: "score vs parameters".into(),
            x_label: "parameters (millions)".into(),
            y_label: "score (%)".into(),
            log_x: true,
            series: vec![Series {
                label: "paper".into(),
                points: vec![(14.5, 77.0), (109.0, 79.5)],
                line: false,
                point_labels: vec!["TinyBERT-4".into(), "BERT-base".into()],
            }],
        };
        let svg = render_svg(&chart).unwrap();
        for text in [
            "\n20\n",
            "\n50\n",
            "\n100\n",
            "\nTinyBERT-4\n",
            "\nBERT-base\n",
        ] {
            assert!(svg.contains(text), "missing {text:?}");
        }
        assert!(!svg.contains("stroke-width=\"2\""), "scatter only");
    }

    #[test]
    fn ticks_are_round_numbers() {
        assert_eq!(x_ticks(0.0, 1000.0, false)[..3], [0.0, 200.0, 400.0]);
        let log: Vec<String> = x_ticks(1.0, 2.1, true)
            .into_iter()
            .map(|t| tick_label(10f64.powf(t)))
            .collect();
        assert_eq!(log, ["10", "20", "50", "100"]);
        let short: Vec<String> = x_ticks(14f64.log10(), 70f64.log10(), true)
            .into_iter()
            .map(|t| tick_label(10f64.powf(t)))
            .collect();
        assert_eq!(short, ["20", "30", "50"]);
    }

    #[test]
    fn padding_of_a_single_value_is_not_empty() {
        let (lo, hi) = padded([5.0].into_iter(), false);
        assert!(lo < 5.0 && hi > 5.0);
        assert_eq!(padded(std::iter::empty(), false), (0.0, 1.0));
    }
}
