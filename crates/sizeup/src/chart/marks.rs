//! Marks both chart kinds draw: text styles, dashed reference lines, and
//! labels placed where they overlap nothing already placed.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{font, ChartError, REFERENCE_COLOR};

/// Light grey grid lines.
pub(super) const GRID_COLOR: RGBColor = RGBColor(0xDD, 0xDD, 0xDD);

/// Text of `size` pixels in `color`, anchored at `h`, `v`.
pub(super) fn text_style(size: f64, color: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    ("sans-serif", size)
        .into_font()
        .color(&color)
        .pos(Pos::new(h, v))
}

/// Width and height of `text` in pixels.
pub(super) fn text_size<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    size: f64,
) -> Result<(i32, i32), ChartError>
where
    DB::ErrorType: 'static,
{
    let style = text_style(size, BLACK, HPos::Left, VPos::Top);
    let (w, h) = area.estimate_text_size(text, &style)?;
    Ok((w as i32, h as i32))
}

/// A pixel rectangle: left, top, right, bottom.
pub(super) type Rect = (i32, i32, i32, i32);

fn overlaps(a: Rect, b: Rect) -> bool {
    a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
}

fn inside(a: Rect, bounds: Rect) -> bool {
    a.0 >= bounds.0 && a.2 <= bounds.2 && a.1 >= bounds.1 && a.3 <= bounds.3
}

/// Whether the segment `a`–`b` crosses or touches `r` (Liang–Barsky clipping).
fn segment_hits(a: (i32, i32), b: (i32, i32), r: Rect) -> bool {
    let (x0, y0) = (f64::from(a.0), f64::from(a.1));
    let (dx, dy) = (f64::from(b.0) - x0, f64::from(b.1) - y0);
    let (mut t0, mut t1) = (0.0_f64, 1.0_f64);
    let edges = [
        (-dx, x0 - f64::from(r.0)),
        (dx, f64::from(r.2) - x0),
        (-dy, y0 - f64::from(r.1)),
        (dy, f64::from(r.3) - y0),
    ];
    for (p, q) in edges {
        if p == 0.0 {
            if q < 0.0 {
                return false;
            }
        } else {
            let t = q / p;
            if p < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
            if t0 > t1 {
                return false;
            }
        }
    }
    true
}

/// Labels placed so far, and the lines drawn, to keep later labels off them.
pub(super) struct Placer {
    bounds: Rect,
    taken: Vec<Rect>,
    lines: Vec<((i32, i32), (i32, i32))>,
}

impl Placer {
    /// Labels must stay within `bounds` (the plot, in pixels).
    pub fn new(bounds: Rect) -> Placer {
        Placer {
            bounds,
            taken: Vec::new(),
            lines: Vec::new(),
        }
    }

    /// Keep labels off the polyline through `points` (pixels).
    pub fn reserve_path(&mut self, points: &[(i32, i32)]) {
        self.lines.extend(points.windows(2).map(|w| (w[0], w[1])));
    }

    fn is_free(&self, r: Rect) -> bool {
        inside(r, self.bounds)
            && !self.taken.iter().any(|t| overlaps(*t, r))
            && !self.lines.iter().any(|(a, b)| segment_hits(*a, *b, r))
    }

    /// Reserve a rectangle (a legend, another label) without drawing.
    pub fn reserve(&mut self, r: Rect) {
        self.taken.push(r);
    }

    /// Draw `text` `gap` pixels from `at` (right-above, right-below, left-above,
    /// left-below, then centred above, centred below, left or right, the first
    /// that is free); leave it out if none is.
    pub fn label<DB: DrawingBackend>(
        &mut self,
        root: &DrawingArea<DB, Shift>,
        text: &str,
        at: (i32, i32),
        gap: i32,
        color: RGBColor,
    ) -> Result<bool, ChartError>
    where
        DB::ErrorType: 'static,
    {
        let (w, h) = text_size(root, text, font::POINT_LABEL)?;
        let (x, y) = at;
        let candidates = [
            (x + gap, y - gap - h),
            (x + gap, y + gap),
            (x - gap - w, y - gap - h),
            (x - gap - w, y + gap),
            (x - w / 2, y - gap - h),
            (x - w / 2, y + gap),
            (x - gap - w, y - h / 2),
            (x + gap, y - h / 2),
        ];
        for (left, top) in candidates {
            let r = (left, top, left + w, top + h);
            if self.is_free(r) {
                self.taken.push(r);
                let style = text_style(font::POINT_LABEL, color, HPos::Left, VPos::Top);
                root.draw(&Text::new(text.to_string(), (left, top), style))?;
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// A dashed horizontal line from `x0` to `x1` at pixel row `y`, its label
/// right-aligned just above it on a white ground.
pub(super) fn reference<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    placer: &mut Placer,
    label: &str,
    (x0, x1, y): (i32, i32, i32),
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    dashed(root, (x0, y), (x1, y), REFERENCE_COLOR)?;
    let (w, h) = text_size(root, label, font::LEGEND)?;
    let (right, bottom) = (x1 - 8, y - 4);
    let r = (right - w - 4, bottom - h - 2, right + 4, bottom);
    root.draw(&Rectangle::new(
        [(r.0, r.1), (r.2, r.3)],
        WHITE.mix(0.85).filled(),
    ))?;
    let style = text_style(font::LEGEND, REFERENCE_COLOR, HPos::Right, VPos::Bottom);
    root.draw(&Text::new(label.to_string(), (right, bottom), style))?;
    placer.reserve(r);
    placer.reserve_path(&[(x0, y), (x1, y)]);
    Ok(())
}

/// Outer radius of a highlighted point's ring, in pixels.
pub(super) const RING_RADIUS: i32 = 11;

/// A highlighted point at pixel `at`: a filled dot inside a ring, larger than a
/// line's markers so it reads on top of them.
pub(super) fn ring<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    at: (i32, i32),
    color: RGBColor,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    root.draw(&Circle::new(at, RING_RADIUS - 2, color.stroke_width(3)))?;
    root.draw(&Circle::new(at, 5, color.filled()))?;
    Ok(())
}

/// A dashed straight line (plotters 0.3 has none).
pub(super) fn dashed<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    from: (i32, i32),
    to: (i32, i32),
    color: RGBColor,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    const DASH: f64 = 10.0;
    const GAP: f64 = 6.0;
    let (dx, dy) = (f64::from(to.0 - from.0), f64::from(to.1 - from.1));
    let length = dx.hypot(dy);
    if length < 1.0 {
        return Ok(());
    }
    let at = |d: f64| {
        let t = (d / length).min(1.0);
        (
            from.0 + (dx * t).round() as i32,
            from.1 + (dy * t).round() as i32,
        )
    };
    let style = color.stroke_width(2);
    let mut d = 0.0;
    while d < length {
        root.draw(&PathElement::new(vec![at(d), at(d + DASH)], style))?;
        d += DASH + GAP;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_hit_rectangles_they_cross() {
        let r = (10, 10, 20, 20);
        assert!(segment_hits((0, 15), (30, 15), r)); // straight through
        assert!(segment_hits((15, 15), (40, 40), r)); // starts inside
        assert!(segment_hits((0, 0), (30, 30), r)); // diagonal through
        assert!(!segment_hits((0, 0), (30, 5), r)); // passes above
        assert!(!segment_hits((0, 30), (5, 0), r)); // passes left
        assert!(!segment_hits((25, 0), (25, 30), r)); // vertical, right of it
    }
}
