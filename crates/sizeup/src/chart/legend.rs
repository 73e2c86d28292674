//! The legend: a column to the right of the plot, so it never covers data.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::marks::{text_size, text_style};
use super::{font, ChartError};

/// How an entry's key is drawn.
#[derive(Debug, Clone, Copy)]
pub(super) enum Key {
    /// A line with a point marker (a series).
    Line(RGBColor),
    /// A filled square (a stack of bars).
    Fill(RGBColor),
    /// A ringed marker without a line (highlighted points).
    Ring(RGBColor),
}

/// One legend row.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub name: String,
    pub key: Key,
}

const KEY_WIDTH: i32 = 30;
const KEY_GAP: i32 = 10;
const ROW: i32 = 32;
const PADDING: i32 = 16;
/// The legend takes at most this share of the chart's width; longer names are shortened.
const MAX_SHARE: f64 = 0.3;

/// The plot's area (left) and the legend's (right).
type Split<DB> = (DrawingArea<DB, Shift>, DrawingArea<DB, Shift>);

/// Room below a plot for the x tick labels and the x title, in pixels.
pub(super) const X_LABEL_AREA: i32 = 66;

/// The frame every chart shares: a white page, the title on top, the plot on the
/// left and the legend of `entries` in a column on the right.
pub(super) fn frame<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    entries: &[Entry],
) -> Result<Split<DB>, ChartError>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let body = root.titled(
        title,
        text_style(font::TITLE, BLACK, HPos::Center, VPos::Top),
    )?;
    split(&body, entries)
}

/// Split `area` into the plot (left) and the legend column (right).
pub(super) fn split<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[Entry],
) -> Result<Split<DB>, ChartError>
where
    DB::ErrorType: 'static,
{
    let (total, _) = area.dim_in_pixel();
    let mut widest = 0;
    for e in entries {
        widest = widest.max(text_size(area, &e.name, font::LEGEND)?.0);
    }
    let wanted = KEY_WIDTH + KEY_GAP + widest + 3 * PADDING;
    let width = wanted.min((f64::from(total) * MAX_SHARE) as i32).max(0);
    let split_at = (total as i32 - width).max(0);
    Ok(area.split_horizontally(split_at))
}

/// Draw `entries` in `area`, the first row's center at pixel row `top`
/// (the plot's top edge, in `area`'s coordinates).
pub(super) fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[Entry],
    top: i32,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    let (width, _) = area.dim_in_pixel();
    let text_room = width as i32 - KEY_WIDTH - KEY_GAP - 3 * PADDING;
    for (i, e) in entries.iter().enumerate() {
        let y = top + ROW / 2 + i as i32 * ROW;
        let x = PADDING;
        match e.key {
            Key::Line(c) => {
                area.draw(&PathElement::new(
                    vec![(x, y), (x + KEY_WIDTH, y)],
                    c.stroke_width(3),
                ))?;
                area.draw(&Circle::new((x + KEY_WIDTH / 2, y), 5, c.filled()))?;
            }
            Key::Ring(c) => {
                super::marks::ring(area, (x + KEY_WIDTH / 2, y), c)?;
            }
            Key::Fill(c) => {
                area.draw(&Rectangle::new(
                    [(x + 4, y - 11), (x + KEY_WIDTH - 4, y + 11)],
                    c.filled(),
                ))?;
            }
        }
        let name = fit(area, &e.name, text_room)?;
        let style = text_style(font::LEGEND, BLACK, HPos::Left, VPos::Center);
        area.draw(&Text::new(name, (x + KEY_WIDTH + KEY_GAP, y), style))?;
    }
    Ok(())
}

/// `name`, shortened with an ellipsis until it fits in `room` pixels.
fn fit<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    name: &str,
    room: i32,
) -> Result<String, ChartError>
where
    DB::ErrorType: 'static,
{
    if text_size(area, name, font::LEGEND)?.0 <= room {
        return Ok(name.to_string());
    }
    let mut chars: Vec<char> = name.chars().collect();
    while !chars.is_empty() {
        chars.pop();
        let shortened: String = chars.iter().collect::<String>() + "…";
        if text_size(area, &shortened, font::LEGEND)?.0 <= room {
            return Ok(shortened);
        }
    }
    Ok(String::new())
}
