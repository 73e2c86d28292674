//! Stacked bars: one bar per category, its line items stacked bottom-up,
//! the total above each bar, a dashed limit line, the legend at the right.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::axis::{value_text, AxisRange, Extent};
use super::legend::{self, Entry, Key};
use super::line::y_label_area;
use super::marks::{self, text_size, text_style, Placer, GRID_COLOR};
use super::{color, font, ChartError, StackedBars};

/// A bar's width as a share of its category's slot.
const BAR_WIDTH: f64 = 0.64;

/// Draw `chart` on `root`.
pub(super) fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &StackedBars,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    // Listed top stack first, so the legend reads in the order the bars do.
    let entries: Vec<Entry> = chart
        .stacks
        .iter()
        .enumerate()
        .rev()
        .map(|(i, s)| Entry {
            name: s.name.clone(),
            key: Key::Fill(color(i)),
        })
        .collect();
    let (plot_area, legend_area) = legend::frame(root, &chart.title, &entries)?;

    let totals: Vec<f64> = (0..chart.categories.len())
        .map(|i| chart.stacks.iter().map(|s| s.values[i]).sum())
        .collect();
    let y = AxisRange::numeric(
        &chart.y,
        Extent::FromZero,
        totals
            .iter()
            .copied()
            .chain(chart.limit.iter().map(|r| r.value)),
    );
    let y_title = y.title(&chart.y);
    let y_area = y_label_area(root, &y)?;
    let slot =
        f64::from(plot_area.dim_in_pixel().0 as i32 - y_area - 40) / chart.categories.len() as f64;
    let mut widest = 1;
    for name in &chart.categories {
        widest = widest.max(text_size(root, name, font::TICK)?.0);
    }
    let stride = (f64::from(widest + 16) / slot.max(1.0)).ceil() as usize;
    let x = AxisRange::categories(&chart.categories, stride);

    let mut ctx = ChartBuilder::on(&plot_area)
        .margin_top(16)
        .margin_right(28)
        .margin_left(12)
        .margin_bottom(8)
        .x_label_area_size(legend::X_LABEL_AREA)
        .y_label_area_size(y_area)
        .build_cartesian_2d(x, y)?;
    ctx.configure_mesh()
        .disable_x_mesh()
        .x_desc(chart.x_label.clone())
        .y_desc(y_title)
        .label_style(text_style(font::TICK, BLACK, HPos::Center, VPos::Top))
        .axis_desc_style(text_style(font::AXIS_TITLE, BLACK, HPos::Center, VPos::Top))
        .bold_line_style(GRID_COLOR)
        .max_light_lines(0)
        .x_labels(chart.categories.len())
        .y_labels(12)
        .draw()?;

    let half = BAR_WIDTH / 2.0;
    for (i, _) in chart.categories.iter().enumerate() {
        let x = i as f64;
        let mut base = 0.0;
        for (k, s) in chart.stacks.iter().enumerate() {
            let top = base + s.values[i];
            ctx.draw_series(std::iter::once(Rectangle::new(
                [(x - half, base), (x + half, top)],
                color(k).filled(),
            )))?;
            base = top;
        }
    }

    let (xs, ys) = ctx.plotting_area().get_pixel_range();
    let mut placer = Placer::new((xs.start, ys.start, xs.end, ys.end));
    // Totals above the bars: all of them if every one fits its slot, else none.
    let texts: Vec<String> = totals
        .iter()
        .map(|t| value_text(chart.y.unit, *t))
        .collect();
    let mut widest = 0;
    for text in &texts {
        widest = widest.max(text_size(root, text, font::POINT_LABEL)?.0);
    }
    if f64::from(widest) <= slot * 0.95 {
        for (i, (text, total)) in texts.into_iter().zip(&totals).enumerate() {
            let (px, py) = ctx.backend_coord(&(i as f64, *total));
            let style = text_style(font::POINT_LABEL, BLACK, HPos::Center, VPos::Bottom);
            root.draw(&Text::new(text, (px, py - 4), style))?;
        }
    }
    if let Some(r) = &chart.limit {
        let (_, py) = ctx.backend_coord(&(-0.5, r.value));
        marks::reference(root, &mut placer, &r.label, (xs.start, xs.end, py))?;
    }

    legend::draw(
        &legend_area,
        &entries,
        ys.start - legend_area.get_base_pixel().1,
    )?;
    root.present()?;
    Ok(())
}
