//! Which layers attend through a sliding window, read the way each config class
//! decides it.

use super::draft::SlidingWindow;

use super::config::{Config, Field};
use crate::error::FormatError;

/// The `layer_types` entry of a sliding-window layer.
pub(crate) const SLIDING: &str = "sliding_attention";
/// The `layer_types` entry of a layer that attends to the whole context.
pub(crate) const FULL: &str = "full_attention";

/// The window size under `sliding_window`: the value when present, `None` when
/// null, the class `default` when absent (itself `None` for classes without one).
pub(crate) fn size(cfg: &mut Config, default: Option<u64>) -> Result<Option<u64>, FormatError> {
    match cfg.field("sliding_window") {
        Field::Null => Ok(None),
        Field::Value(_) => cfg.opt_size(&["sliding_window"]),
        Field::Absent => {
            if let Some(w) = default {
                cfg.assume(
                    "sliding_window",
                    w,
                    &format!("`sliding_window` defaults to {w}"),
                );
            }
            Ok(default)
        }
    }
}

/// A window on the layers flagged local, or none when no layer slides.
pub(crate) fn on(size: Option<u64>, local: Vec<bool>) -> Option<SlidingWindow> {
    match size {
        Some(size) if local.iter().any(|&l| l) => Some(SlidingWindow { size, local }),
        _ => None,
    }
}

/// Every one of `layers` layers local.
pub(crate) fn all(layers: u64) -> Vec<bool> {
    vec![true; layers.min(sizeup_core::arch::MAX_LAYERS) as usize]
}

/// Layers `i` with `pred(i)` local.
pub(crate) fn where_(layers: u64, pred: impl Fn(u64) -> bool) -> Vec<bool> {
    (0..layers.min(sizeup_core::arch::MAX_LAYERS))
        .map(pred)
        .collect()
}

/// Local layers from `layer_types` when the config lists them, else `by_rule`: the
/// count the class's own rule (described by `rule`) gives.
///
/// # Errors
/// [`FormatError::InvalidField`] when `layer_types` does not have one entry per layer,
/// each [`SLIDING`] or [`FULL`].
pub(crate) fn local_layers(
    cfg: &mut Config,
    layers: u64,
    rule: &str,
    by_rule: Vec<bool>,
) -> Result<Vec<bool>, FormatError> {
    match cfg.layer_types(layers, &[SLIDING, FULL])? {
        Some(types) => Ok(types.iter().map(|t| *t == SLIDING).collect()),
        None => {
            let local = by_rule.iter().filter(|&&l| l).count();
            cfg.assume(
                "layer_types",
                format!("{local} of {layers} layers sliding"),
                &format!("`layer_types` absent: {rule}"),
            );
            Ok(by_rule)
        }
    }
}

/// Layers `i` in `0..layers` that are *not* of the form `(i + 1) % n == 0`: the
/// sliding layers when every `n`-th layer is global (Gemma 2 and gpt-oss `n = 2`,
/// OLMo 3 `n = 4`, Gemma 3 `n = sliding_window_pattern`).
pub(crate) fn all_but_every_nth(layers: u64, n: u64) -> Vec<bool> {
    where_(layers, |i| (i + 1) % n.max(1) != 0)
}
