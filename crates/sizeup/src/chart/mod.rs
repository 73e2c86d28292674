//! Charts as data, and pure writers that turn them into SVG or PNG bytes.
//!
//! A chart is described by plain data ([`LineChart`], [`StackedBars`]) in base
//! units (bytes, seconds, tokens); the writers choose tick positions, humanize
//! tick labels through [`crate::humanize`], draw a legend beside the plot, and
//! return bytes. They never touch the file system: the caller writes the file.
//!
//! Text is measured (SVG and PNG) and drawn (PNG) with an embedded font, Noto
//! Sans Regular from the `ttf-noto-sans` crate (Apache-2.0), through
//! [`canvas::Canvas`], so a machine with no system fonts or fontconfig renders
//! the same chart.

mod axis;
mod bars;
mod canvas;
mod legend;
mod line;
mod marks;

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use thiserror::Error;

use self::canvas::Canvas;

use crate::humanize::ByteUnits;

/// Width and height of every chart, in pixels (PNG) or user units (SVG).
const SIZE: (u32, u32) = (1200, 720);

/// Series colors, in order: the Okabe–Ito palette, which stays distinct under
/// the common color-vision deficiencies (Okabe & Ito 2008, "Color Universal
/// Design"), without its yellow, which is unreadable as a thin line on white.
const PALETTE: [RGBColor; 7] = [
    RGBColor(0x00, 0x72, 0xB2), // blue
    RGBColor(0xD5, 0x5E, 0x00), // vermillion
    RGBColor(0x00, 0x9E, 0x73), // bluish green
    RGBColor(0xCC, 0x79, 0xA7), // reddish purple
    RGBColor(0xE6, 0x9F, 0x00), // orange
    RGBColor(0x56, 0xB4, 0xE9), // sky blue
    RGBColor(0x00, 0x00, 0x00), // black
];

/// Reference lines (limits) are dark grey and dashed, apart from any series.
const REFERENCE_COLOR: RGBColor = RGBColor(0x44, 0x44, 0x44);

/// The color of the `i`th series or stack.
fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Font sizes in pixels.
mod font {
    pub const TITLE: f64 = 28.0;
    pub const AXIS_TITLE: f64 = 21.0;
    pub const TICK: f64 = 18.0;
    pub const LEGEND: f64 = 18.0;
    pub const POINT_LABEL: f64 = 15.0;
}

/// What the numbers on an axis measure: it picks the tick labels and the unit
/// shown in the axis title. Values are always given in base units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AxisUnit {
    /// A plain count (batch size, GPUs); the label names what is counted.
    Count,
    /// Tokens; ticks read `4k`, `128k` with k = 1024.
    Tokens,
    /// Bytes, in binary (GiB) or SI (GB) units.
    Bytes(ByteUnits),
    /// Seconds; the axis is labelled in µs, ms, s, min or h.
    Seconds,
    /// Tokens per second.
    TokensPerSec,
    /// US dollars.
    // No chart plots dollars or fractions yet (the sweep's charts plot bytes,
    // seconds and rates); the writers and their tests cover them already.
    #[cfg_attr(not(test), allow(dead_code))]
    Usd,
    /// A fraction, shown as a percentage.
    #[cfg_attr(not(test), allow(dead_code))]
    Ratio,
}

/// One axis: what it shows, in which unit, on which scale.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Axis {
    /// What the axis shows (`KV cache per request`); the unit is added to it.
    pub label: String,
    /// The unit of the values.
    pub unit: AxisUnit,
    /// Logarithmic scale (every value must then be positive).
    pub log_scale: bool,
}

impl Axis {
    /// A linear axis.
    pub fn linear(label: &str, unit: AxisUnit) -> Axis {
        Axis {
            label: label.to_string(),
            unit,
            log_scale: false,
        }
    }

    /// A logarithmic axis.
    pub fn log(label: &str, unit: AxisUnit) -> Axis {
        Axis {
            log_scale: true,
            ..Axis::linear(label, unit)
        }
    }

    /// A log axis when `values` are positive and span at least [`LOG_SPAN`]
    /// (doubling ranges then space evenly), else a linear one.
    pub fn fitting(label: &str, unit: AxisUnit, values: impl Iterator<Item = f64> + Clone) -> Axis {
        let lo = values.clone().fold(f64::INFINITY, f64::min);
        let hi = values.fold(0.0, f64::max);
        if lo > 0.0 && hi >= LOG_SPAN * lo {
            Axis::log(label, unit)
        } else {
            Axis::linear(label, unit)
        }
    }
}

/// A range whose largest value is at least this many times its smallest is
/// drawn on a log scale by [`Axis::fitting`].
const LOG_SPAN: f64 = 8.0;

/// How a series' points are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    /// Markers joined by a line (a curve, a front).
    Line,
    /// Large ringed markers and no line: points singled out (the setups a plan chose).
    Highlight,
}

/// One line: its legend entry and its points, in the axes' base units.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Series {
    /// The legend entry.
    pub name: String,
    /// `(x, y)` points, drawn in the given order.
    pub points: Vec<(f64, f64)>,
    /// How they are drawn.
    pub mark: Mark,
    /// A label beside each point (`B=32`), one per point; labels that would
    /// overlap another are left out.
    pub point_labels: Option<Vec<String>>,
}

/// A horizontal line at a limit, labelled on the line (`GPU memory 80 GiB`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reference {
    /// The text drawn on the line.
    pub label: String,
    /// Its height, in the y axis's base unit.
    pub value: f64,
}

/// Lines over two numeric axes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LineChart {
    /// Drawn above the plot.
    pub title: String,
    /// The horizontal axis.
    pub x: Axis,
    /// The vertical axis.
    pub y: Axis,
    /// The lines, colored in palette order.
    pub series: Vec<Series>,
    /// Horizontal limits.
    pub references: Vec<Reference>,
}

/// One layer of stacked bars: its legend entry and one value per category.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Stack {
    /// The legend entry (`weights`, `KV cache`).
    pub name: String,
    /// One value per category, in the y axis's base unit, each ≥ 0.
    pub values: Vec<f64>,
}

/// Bars made of stacked line items, one bar per category.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StackedBars {
    /// Drawn above the plot.
    pub title: String,
    /// What the categories are (`Context length (tokens)`).
    pub x_label: String,
    /// The bars' names, left to right.
    pub categories: Vec<String>,
    /// The layers, bottom first.
    pub stacks: Vec<Stack>,
    /// The value axis; always linear (stacked areas on a log scale mislead).
    pub y: Axis,
    /// A horizontal limit (the GPU's memory).
    pub limit: Option<Reference>,
}

/// Any chart the writers draw.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Chart {
    /// Lines over two numeric axes.
    Line(LineChart),
    /// Stacked bars over categories.
    Bars(StackedBars),
}

/// Why a chart could not be drawn.
#[derive(Debug, Error)]
#[non_exhaustive]
pub(crate) enum ChartError {
    /// Nothing to plot: no series, no points or no categories.
    #[error("chart `{chart}` has no data to plot")]
    Empty {
        /// The chart's title.
        chart: String,
    },
    /// A point is NaN or infinite.
    #[error("series `{series}` point {index} is not a finite number: ({x}, {y})")]
    NotFinite {
        /// The series' name.
        series: String,
        /// The point's position in the series.
        index: usize,
        /// Its x.
        x: f64,
        /// Its y.
        y: f64,
    },
    /// Point labels and points differ in number.
    #[error("series `{series}` has {labels} point labels for {points} points")]
    LabelCount {
        /// The series' name.
        series: String,
        /// How many labels.
        labels: usize,
        /// How many points.
        points: usize,
    },
    /// A log-scale axis holds a value ≤ 0.
    #[error("axis `{axis}` uses a log scale but holds `{value}`, which is not positive")]
    NotPositiveOnLog {
        /// The axis label.
        axis: String,
        /// The offending value.
        value: f64,
    },
    /// Stacked bars were asked for a log scale.
    #[error("axis `{axis}` of stacked bars cannot use a log scale")]
    LogStackedBars {
        /// The axis label.
        axis: String,
    },
    /// A stack has a value per category missing or extra.
    #[error("stack `{stack}` has {values} values for {categories} categories")]
    StackLength {
        /// The stack's name.
        stack: String,
        /// How many values.
        values: usize,
        /// How many categories.
        categories: usize,
    },
    /// A stack value is negative, NaN or infinite.
    #[error("stack `{stack}` value {index} is `{value}`; stacked bars need finite values ≥ 0")]
    StackValue {
        /// The stack's name.
        stack: String,
        /// The category's position.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// A reference line's height is NaN or infinite.
    #[error("reference line `{label}` is at `{value}`, which is not a finite number")]
    Reference {
        /// Its label.
        label: String,
        /// Its value.
        value: f64,
    },
    /// The file name does not say which format to write.
    #[error(
        "cannot tell the chart format of `{path}`: expected a name ending in `.svg` or `.png`"
    )]
    UnknownExtension {
        /// The file name given.
        path: String,
    },
    /// The embedded font did not load (a build defect, not an input error).
    #[error("the embedded chart font could not be loaded")]
    Font,
    /// The drawing library failed.
    #[error("drawing the chart failed: {0}")]
    Draw(String),
    /// Encoding the bitmap as PNG failed.
    #[error("encoding the chart as PNG failed")]
    Png(#[source] png::EncodingError),
}

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for ChartError {
    fn from(e: DrawingAreaErrorKind<E>) -> ChartError {
        ChartError::Draw(e.to_string())
    }
}

/// A `--chart` file name: it must end in `.svg` or `.png` (any case), the
/// format the writers choose by.
pub(crate) fn parse_chart_path(s: &str) -> Result<PathBuf, String> {
    let lower = s.to_ascii_lowercase();
    if lower.ends_with(".svg") || lower.ends_with(".png") {
        Ok(PathBuf::from(s))
    } else {
        Err(format!(
            "`{s}` must end in `.svg` or `.png` (the chart format)"
        ))
    }
}

/// The bytes of `chart` in the format that `path`'s extension names (`.svg`
/// or `.png`, any case). Pure: the caller writes them to `path`.
pub(crate) fn write_chart(path: &Path, chart: &Chart) -> Result<Vec<u8>, ChartError> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("svg") => to_svg(chart).map(String::into_bytes),
        Some("png") => to_png(chart),
        _ => Err(ChartError::UnknownExtension {
            path: path.display().to_string(),
        }),
    }
}

/// `chart` as an SVG document.
pub(crate) fn to_svg(chart: &Chart) -> Result<String, ChartError> {
    check(chart)?;
    let mut svg = String::new();
    {
        let root = Canvas::new(SVGBackend::with_string(&mut svg, SIZE), false)?.into_drawing_area();
        draw(&root, chart)?;
    }
    Ok(svg)
}

/// `chart` as a PNG image (8-bit RGB).
pub(crate) fn to_png(chart: &Chart) -> Result<Vec<u8>, ChartError> {
    check(chart)?;
    let (width, height) = SIZE;
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    {
        let root =
            Canvas::new(BitMapBackend::with_buffer(&mut rgb, SIZE), true)?.into_drawing_area();
        draw(&root, chart)?;
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .write_header()
        .and_then(|mut writer| writer.write_image_data(&rgb))
        .map_err(ChartError::Png)?;
    Ok(out)
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    match chart {
        Chart::Line(c) => line::draw(root, c),
        Chart::Bars(c) => bars::draw(root, c),
    }
}

/// Reject data the writers cannot draw faithfully.
fn check(chart: &Chart) -> Result<(), ChartError> {
    match chart {
        Chart::Line(c) => check_line(c),
        Chart::Bars(c) => check_bars(c),
    }
}

fn check_line(c: &LineChart) -> Result<(), ChartError> {
    if c.series.iter().all(|s| s.points.is_empty()) {
        return Err(ChartError::Empty {
            chart: c.title.clone(),
        });
    }
    for s in &c.series {
        for (index, &(x, y)) in s.points.iter().enumerate() {
            if !x.is_finite() || !y.is_finite() {
                return Err(ChartError::NotFinite {
                    series: s.name.clone(),
                    index,
                    x,
                    y,
                });
            }
            check_log(&c.x, x)?;
            check_log(&c.y, y)?;
        }
        if let Some(labels) = &s.point_labels {
            if labels.len() != s.points.len() {
                return Err(ChartError::LabelCount {
                    series: s.name.clone(),
                    labels: labels.len(),
                    points: s.points.len(),
                });
            }
        }
    }
    for r in &c.references {
        check_reference(r)?;
        check_log(&c.y, r.value)?;
    }
    Ok(())
}

fn check_bars(c: &StackedBars) -> Result<(), ChartError> {
    if c.categories.is_empty() || c.stacks.is_empty() {
        return Err(ChartError::Empty {
            chart: c.title.clone(),
        });
    }
    if c.y.log_scale {
        return Err(ChartError::LogStackedBars {
            axis: c.y.label.clone(),
        });
    }
    for s in &c.stacks {
        if s.values.len() != c.categories.len() {
            return Err(ChartError::StackLength {
                stack: s.name.clone(),
                values: s.values.len(),
                categories: c.categories.len(),
            });
        }
        if let Some((index, &value)) = s
            .values
            .iter()
            .enumerate()
            .find(|(_, v)| !v.is_finite() || **v < 0.0)
        {
            return Err(ChartError::StackValue {
                stack: s.name.clone(),
                index,
                value,
            });
        }
    }
    if let Some(r) = &c.limit {
        check_reference(r)?;
    }
    Ok(())
}

fn check_reference(r: &Reference) -> Result<(), ChartError> {
    if r.value.is_finite() {
        Ok(())
    } else {
        Err(ChartError::Reference {
            label: r.label.clone(),
            value: r.value,
        })
    }
}

fn check_log(axis: &Axis, value: f64) -> Result<(), ChartError> {
    if axis.log_scale && value <= 0.0 {
        Err(ChartError::NotPositiveOnLog {
            axis: axis.label.clone(),
            value,
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
