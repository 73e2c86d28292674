//! Which layers attend through a sliding window, read the way each config class
//! decides it.

use sizeup_core::arch::SlidingWindow;

use super::config::{Config, Field};
use crate::error::FormatError;

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

/// A window of `size` on `local_layers` layers, or none when either is missing.
pub(crate) fn on(size: Option<u64>, local_layers: u64) -> Option<SlidingWindow> {
    match size {
        Some(size) if local_layers > 0 => Some(SlidingWindow { size, local_layers }),
        _ => None,
    }
}

/// Local layers from `layer_types` when the config lists them, else `by_rule`: the
/// count the class's own rule (described by `rule`) gives.
///
/// # Errors
/// [`FormatError::InvalidField`] when `layer_types` does not have one entry per layer.
pub(crate) fn local_layers(
    cfg: &mut Config,
    layers: u64,
    rule: &str,
    by_rule: u64,
) -> Result<u64, FormatError> {
    match cfg.opt_strings("layer_types")? {
        Some(types) => {
            if types.len() as u64 != layers {
                return Err(cfg.invalid(
                    "layer_types",
                    format!("a list of {} entries", types.len()),
                    format!("one entry per layer ({layers})"),
                ));
            }
            Ok(types.iter().filter(|t| **t == "sliding_attention").count() as u64)
        }
        None => {
            cfg.assume(
                "layer_types",
                format!("{by_rule} of {layers} layers sliding"),
                &format!("`layer_types` absent: {rule}"),
            );
            Ok(by_rule)
        }
    }
}

/// Layers `i` in `0..layers` that are *not* of the form `(i + 1) % n == 0`: the
/// sliding layers when every `n`-th layer is global (Gemma 2 and gpt-oss `n = 2`,
/// OLMo 3 `n = 4`, Gemma 3 `n = sliding_window_pattern`).
pub(crate) fn all_but_every_nth(layers: u64, n: u64) -> u64 {
    layers - layers / n.max(1)
}
