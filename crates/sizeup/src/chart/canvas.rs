//! A drawing backend wrapper that measures text, and for bitmaps draws it,
//! with the embedded font.
//!
//! plotters measures and draws text through a system font (`ttf`, needs
//! fontconfig) or a registered one (`ab_glyph`, whose glyph placement drops the
//! left side bearing, so `bf16` reads `bf1 6`). Wrapping the backend keeps both
//! in our hands: every backend measures with Noto Sans; the bitmap also draws
//! with it, placing each glyph at its pen position with kerning, and anchoring
//! text the way the SVG backend does, so PNG and SVG lay out alike.

use ab_glyph::{point, Font, FontRef, GlyphId, PxScale, ScaleFont};
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
};

use super::ChartError;

/// plotters' text size is the line height; the em is this much smaller
/// (plotters-svg writes `font-size` = size / 1.24).
const LINE_PER_EM: f64 = 1.24;
/// Noto Sans x-height in ems (OS/2 sxHeight 1098 / unitsPerEm 2048): the
/// `ex` that the SVG backend's vertical anchors are written in.
const X_HEIGHT_EM: f32 = 0.536;
/// The SVG backend puts the baseline 0.76 em below a top-anchored position.
const TOP_BASELINE_EM: f32 = 0.76;

/// A backend whose text is measured, and optionally drawn, with the embedded font.
pub(super) struct Canvas<B> {
    inner: B,
    font: FontRef<'static>,
    draws_text: bool,
}

impl<B: DrawingBackend> Canvas<B> {
    /// Wrap `inner`; the wrapper draws text itself when `draws_text` (bitmaps),
    /// and leaves it to `inner` otherwise (SVG writes `<text>` elements).
    pub fn new(inner: B, draws_text: bool) -> Result<Canvas<B>, ChartError> {
        let font = FontRef::try_from_slice(ttf_noto_sans::REGULAR).map_err(|_| ChartError::Font)?;
        Ok(Canvas {
            inner,
            font,
            draws_text,
        })
    }

    /// The glyph scale for plotters' text `size`.
    fn scale(&self, size: f64) -> PxScale {
        let em = (size / LINE_PER_EM) as f32;
        let units = self.font.units_per_em().unwrap_or(1000.0);
        PxScale::from(em * self.font.height_unscaled() / units)
    }

    /// Glyph ids and pen positions along a baseline at y = 0, and the advance width.
    fn layout(&self, text: &str, scale: PxScale) -> (Vec<(GlyphId, f32)>, f32) {
        let scaled = self.font.as_scaled(scale);
        let mut caret = 0.0;
        let mut prev: Option<GlyphId> = None;
        let mut glyphs = Vec::with_capacity(text.len());
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = prev {
                caret += scaled.kern(p, id);
            }
            glyphs.push((id, caret));
            caret += scaled.h_advance(id);
            prev = Some(id);
        }
        (glyphs, caret)
    }

    fn rasterize<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let scale = self.scale(style.size());
        let em = (style.size() / LINE_PER_EM) as f32;
        let (glyphs, width) = self.layout(text, scale);
        let dx = match style.anchor().h_pos {
            HPos::Left => 0.0,
            HPos::Center => -width / 2.0,
            HPos::Right => -width,
        };
        let baseline = match style.anchor().v_pos {
            VPos::Top => TOP_BASELINE_EM * em,
            VPos::Center => 0.5 * X_HEIGHT_EM * em,
            VPos::Bottom => -0.5 * X_HEIGHT_EM * em,
        };
        let transform = style.transform();
        let (w, h) = self.inner.get_size();
        let mut result = Ok(());
        for (id, x) in glyphs {
            let glyph = id.with_scale_and_position(scale, point(x + dx, baseline));
            let Some(outline) = self.font.outline_glyph(glyph) else {
                continue;
            };
            let bounds = outline.px_bounds();
            let inner = &mut self.inner;
            outline.draw(|gx, gy, coverage| {
                if result.is_err() || coverage <= 0.0 {
                    return;
                }
                let (tx, ty) = transform.transform(
                    bounds.min.x as i32 + gx as i32,
                    bounds.min.y as i32 + gy as i32,
                );
                let (px, py) = (pos.0 + tx, pos.1 + ty);
                if px >= 0 && py >= 0 && (px as u32) < w && (py as u32) < h {
                    let pixel = BackendColor {
                        alpha: color.alpha * f64::from(coverage.min(1.0)),
                        rgb: color.rgb,
                    };
                    result = inner.draw_pixel((px, py), pixel);
                }
            });
            result
                .as_ref()
                .map_err(|_| DrawingErrorKind::FontError(Box::new(GlyphError)))?;
        }
        Ok(())
    }
}

/// A glyph could not be written to the bitmap.
#[derive(Debug)]
struct GlyphError;

impl std::fmt::Display for GlyphError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a glyph could not be drawn")
    }
}

impl std::error::Error for GlyphError {}

impl<B: DrawingBackend> DrawingBackend for Canvas<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.fill_polygon(vert, style)
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        if self.draws_text {
            self.rasterize(text, style, pos)
        } else {
            self.inner.draw_text(text, style, pos)
        }
    }

    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> Result<(u32, u32), DrawingErrorKind<B::ErrorType>> {
        let scale = self.scale(style.size());
        let (_, width) = self.layout(text, scale);
        let scaled = self.font.as_scaled(scale);
        let height = scaled.ascent() - scaled.descent();
        Ok((width.ceil() as u32, height.ceil() as u32))
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.blit_bitmap(pos, size, src)
    }
}
