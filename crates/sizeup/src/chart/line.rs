//! Line charts: one line per series, markers on the points, optional point
//! labels (`B=32`), dashed reference lines, the legend at the right.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axis::{AxisRange, Extent};
use super::legend::{self, Entry, Key};
use super::marks::{self, text_size, text_style, Placer, GRID_COLOR};
use super::{color, font, ChartError, LineChart, Mark};
use plotters::style::text_anchor::{HPos, VPos};

/// Space between tick labels along the x axis, in pixels.
const TICK_GAP: i32 = 24;

/// Draw `chart` on `root`.
pub(super) fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &LineChart,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    let entries: Vec<Entry> = chart
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| Entry {
            name: s.name.clone(),
            key: match s.mark {
                Mark::Line => Key::Line(color(i)),
                Mark::Highlight => Key::Ring(color(i)),
            },
        })
        .collect();
    let (plot_area, legend_area) = legend::frame(root, &chart.title, &entries)?;

    let points = || chart.series.iter().flat_map(|s| s.points.iter());
    let x = AxisRange::numeric(&chart.x, Extent::Data, points().map(|p| p.0));
    let y = AxisRange::numeric(
        &chart.y,
        Extent::FromZero,
        points()
            .map(|p| p.1)
            .chain(chart.references.iter().map(|r| r.value)),
    );
    let (x_title, y_title) = (x.title(&chart.x), y.title(&chart.y));
    let x_low = x.bounds().0;
    let y_area = y_label_area(root, &y)?;
    let x_labels = x_label_count(root, &x, plot_area.dim_in_pixel().0 as i32 - y_area)?;

    let mut ctx = ChartBuilder::on(&plot_area)
        .margin_top(16)
        .margin_right(28)
        .margin_left(12)
        .margin_bottom(8)
        .x_label_area_size(legend::X_LABEL_AREA)
        .y_label_area_size(y_area)
        .build_cartesian_2d(x, y)?;
    ctx.configure_mesh()
        .x_desc(x_title)
        .y_desc(y_title)
        .label_style(text_style(font::TICK, BLACK, HPos::Center, VPos::Top))
        .axis_desc_style(text_style(font::AXIS_TITLE, BLACK, HPos::Center, VPos::Top))
        .bold_line_style(GRID_COLOR)
        .max_light_lines(0)
        .x_labels(x_labels)
        .y_labels(12)
        .draw()?;

    let (xs, ys) = ctx.plotting_area().get_pixel_range();
    let mut placer = Placer::new((xs.start, ys.start, xs.end, ys.end));
    for r in &chart.references {
        let (_, py) = ctx.backend_coord(&(x_low, r.value));
        marks::reference(root, &mut placer, &r.label, (xs.start, xs.end, py))?;
    }
    for (i, s) in chart.series.iter().enumerate() {
        let c = color(i);
        match s.mark {
            Mark::Line => {
                ctx.draw_series(std::iter::once(PathElement::new(
                    s.points.clone(),
                    c.stroke_width(3),
                )))?;
                ctx.draw_series(s.points.iter().map(|p| Circle::new(*p, 5, c.filled())))?;
            }
            Mark::Highlight => {
                for p in &s.points {
                    marks::ring(root, ctx.backend_coord(p), c)?;
                }
            }
        }
    }
    // Keep labels off every line and marker, then place them series by series.
    for s in &chart.series {
        let pixels: Vec<(i32, i32)> = s.points.iter().map(|p| ctx.backend_coord(p)).collect();
        let r = marker_radius(s.mark);
        for &(px, py) in &pixels {
            placer.reserve((px - r, py - r, px + r, py + r));
        }
        if s.mark == Mark::Line {
            placer.reserve_path(&pixels);
        }
    }
    for (i, s) in chart.series.iter().enumerate() {
        if let Some(labels) = &s.point_labels {
            for (p, text) in s.points.iter().zip(labels) {
                let gap = marker_radius(s.mark) + 1;
                placer.label(root, text, ctx.backend_coord(p), gap, color(i))?;
            }
        }
    }

    legend::draw(
        &legend_area,
        &entries,
        ys.start - legend_area.get_base_pixel().1,
    )?;
    root.present()?;
    Ok(())
}

/// Half the side of the square a marker keeps clear of labels, in pixels.
fn marker_radius(mark: Mark) -> i32 {
    match mark {
        Mark::Line => 6,
        Mark::Highlight => marks::RING_RADIUS + 2,
    }
}

/// Room left of the plot for y tick labels and the rotated y title.
pub(super) fn y_label_area<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    y: &AxisRange,
) -> Result<i32, ChartError>
where
    DB::ErrorType: 'static,
{
    let mut widest = 0;
    for t in y.ticks() {
        widest = widest.max(text_size(area, &y.label(*t), font::TICK)?.0);
    }
    Ok(widest + font::AXIS_TITLE as i32 + 36)
}

/// How many x ticks fit side by side in `width` pixels without touching.
pub(super) fn x_label_count<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    x: &AxisRange,
    width: i32,
) -> Result<usize, ChartError>
where
    DB::ErrorType: 'static,
{
    let mut widest = 1;
    for t in x.ticks() {
        widest = widest.max(text_size(area, &x.label(*t), font::TICK)?.0);
    }
    Ok((width / (widest + TICK_GAP)).max(2) as usize)
}
