//! Golden cases: published measurements, recomputed, with the error of each prediction.
//!
//! A case states a model (the numbers its source gives), a setup (hardware and
//! layout) and what was reported. The inference and training models predict the
//! same figure, and so does a naive baseline, so the gain over the obvious shows.
//!
//! Everything is predicted through `sizeup-core`'s public surface; this crate
//! holds no formula of its own, only how a case is read and how errors are summed.
#![deny(missing_docs)]

pub mod calibration;
pub mod grids;
pub mod inference;
pub mod reading;
pub mod sources;
pub mod training;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One published measurement, in the schema of `shared/validation/cases.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// Stable identifier.
    pub id: String,
    /// The paper, repository or document, and the table.
    pub source: String,
    /// What was measured (`train_throughput`, `infer_decode`…).
    pub kind: String,
    /// The architecture numbers the source states (`layers`, `hidden`, `heads`…).
    pub model: serde_json::Map<String, Value>,
    /// Hardware and layout (`gpus`, `gpu_type`, `tp`, `precision`…).
    pub setup: serde_json::Map<String, Value>,
    /// Measured figures; each key names its unit (`tokens_per_s`, `gpu_hours`).
    pub reported: serde_json::Map<String, Value>,
    /// Free-text notes.
    #[serde(default)]
    pub notes: Option<String>,
    /// The figure was read from a secondary copy or a field had to be inferred.
    #[serde(default)]
    pub uncertain: bool,
}

/// sizeup's own measurements (`cases/README.md` in this crate), embedded.
pub const OWN_CASES: &str = include_str!("../cases/h200-2026-11-28.json");

/// Where [`OWN_CASES`] lives in the repository, to name it in messages.
pub const OWN_CASES_PATH: &str = "crates/sizeup-validation/cases/h200-2026-11-28.json";

/// Fields of a case's `model` and `setup` that hold totals (tokens trained, parameter
/// counts, tokens per batch), up to [`MAX_CASE_TOTAL`]; every other number is a size
/// or a count (layers, widths, GPUs, batch, lengths), up to [`MAX_CASE_COUNT`].
const CASE_TOTALS: &[&str] = &[
    "tokens",
    "params",
    "active_params",
    "tokens_per_batch",
    "global_batch_tokens",
];

/// Fields that may be 0: a measurement with no prompt or no generated tokens, a
/// run without ZeRO (stage 0), a mixture of experts without shared experts or
/// dense first layers.
const CASE_ZERO_ALLOWED: &[&str] = &[
    "prompt_tokens",
    "gen_tokens",
    "zero_stage",
    "shared_experts",
    "dense_first_layers",
];

/// Fields that are shares or percentages, not whole numbers; every other size,
/// count or total must be whole (a readers' `as u64` then loses nothing).
const CASE_FRACTIONS: &[&str] = &["gpu_memory_utilization", "flops_utilization_pct"];

/// The largest size or count a case may state: 2²⁴ (real cases stay under 2·10⁵),
/// so that products of a few of them stay exact in 64 bits.
pub const MAX_CASE_COUNT: f64 = 16_777_216.0;

/// The largest total a case may state (real cases stay under 3·10¹⁴).
pub const MAX_CASE_TOTAL: f64 = 1e16;

impl Case {
    /// Check every number of `model` and `setup`, and of the objects nested in them
    /// (`model.moe`, `model.mla`), at the door: finite, positive (zero only where it
    /// means none), whole (but for shares), and within [`MAX_CASE_COUNT`] or, for
    /// totals, [`MAX_CASE_TOTAL`].
    ///
    /// # Errors
    /// The first offending field, as `section.key = value: expected`
    /// (`model.moe.routed_experts = 0: …`).
    pub fn check(&self) -> Result<(), String> {
        check_numbers("model", &self.model)?;
        check_numbers("setup", &self.setup)
    }
}

/// [`Case::check`] of one object, `path` naming it; nested objects and lists are
/// walked with their path extended (`model.moe`, `setup.formats[0]`).
fn check_numbers(path: &str, map: &serde_json::Map<String, Value>) -> Result<(), String> {
    for (key, value) in map {
        check_value(&format!("{path}.{key}"), key, value)?;
    }
    Ok(())
}

fn check_value(path: &str, key: &str, value: &Value) -> Result<(), String> {
    match value {
        Value::Object(map) => check_numbers(path, map),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| check_value(&format!("{path}[{i}]"), key, v)),
        Value::Number(n) => {
            let Some(v) = n.as_f64() else { return Ok(()) };
            let max = if CASE_TOTALS.contains(&key) {
                MAX_CASE_TOTAL
            } else {
                MAX_CASE_COUNT
            };
            let min_ok = v > 0.0 || (v == 0.0 && CASE_ZERO_ALLOWED.contains(&key));
            let whole_ok = v.fract() == 0.0 || CASE_FRACTIONS.contains(&key);
            if min_ok && whole_ok && v <= max {
                Ok(())
            } else {
                Err(format!(
                    "`{path}` = {v}: expected a positive whole number up to {max:e}"
                ))
            }
        }
        _ => Ok(()),
    }
}

/// A case recomputed: what was reported, what sizeup predicts, what a naive baseline predicts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseOutcome {
    /// The case's `id`.
    pub id: String,
    /// The case's `kind`.
    pub kind: String,
    /// The compared figure's name, with its unit (`decode_tokens_per_sec`).
    pub metric: String,
    /// The reported value.
    pub reported: f64,
    /// sizeup's prediction; `None` when the case cannot be predicted.
    pub predicted: Option<f64>,
    /// The naive baseline's prediction.
    pub baseline: Option<f64>,
    /// Why the case cannot be predicted, or what was assumed where the source is silent.
    pub note: Option<String>,
    /// For a predicted speed: whether the memory model says the layout fits the
    /// accelerator (`false` flags a speed predicted for a run that could not have
    /// happened as modelled); `None` for other figures.
    pub fits: Option<bool>,
    /// Where the source leaves inputs unstated that the figure depends on: the
    /// predictions over their plausible values. `predicted` is then the point of
    /// the range nearest the reported figure (inside it, the reported figure
    /// itself), so the case is scored by its distance to the range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<GuessRange>,
}

/// The predictions of a case over the plausible values of its unstated inputs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GuessRange {
    /// The prediction at the reader's default for each unstated input.
    pub guess: f64,
    /// The smallest prediction over the plausible values.
    pub low: f64,
    /// The largest.
    pub high: f64,
}

impl GuessRange {
    /// The range's point nearest `reported`: `reported` clamped to `[low, high]`.
    pub fn nearest(&self, reported: f64) -> f64 {
        reported.clamp(self.low, self.high)
    }
}

impl CaseOutcome {
    /// Signed relative error of the prediction at the reader's guesses (the
    /// range's guess where there is a range), unlike [`CaseOutcome::error`].
    pub fn guess_error(&self) -> Option<f64> {
        match self.range {
            Some(r) => Some(relative_error(r.guess, self.reported)),
            None => self.error(),
        }
    }

    /// Signed relative error of the prediction: `(predicted − reported) / reported`.
    pub fn error(&self) -> Option<f64> {
        self.predicted.map(|p| relative_error(p, self.reported))
    }

    /// The outcome with `notes` added to its note (what the case's source states
    /// beyond the case, [`sources::complete`]).
    pub fn with_notes(mut self, notes: &[String]) -> CaseOutcome {
        if notes.is_empty() {
            return self;
        }
        let mut all: Vec<String> = self.note.take().into_iter().collect();
        all.extend(notes.iter().cloned());
        self.note = Some(all.join("; "));
        self
    }

    /// Signed relative error of the baseline.
    pub fn baseline_error(&self) -> Option<f64> {
        self.baseline.map(|p| relative_error(p, self.reported))
    }
}

/// `(predicted − reported) / reported`.
pub fn relative_error(predicted: f64, reported: f64) -> f64 {
    (predicted - reported) / reported
}

/// The `q`-quantile (0 ≤ q ≤ 1) of absolute values, by linear interpolation; `None` if empty.
pub fn abs_quantile(values: &[f64], q: f64) -> Option<f64> {
    let mut v: Vec<f64> = values
        .iter()
        .map(|x| x.abs())
        .filter(|x| x.is_finite())
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(v[lo] + (v[hi] - v[lo]) * (pos - lo as f64))
}

/// The shared golden cases, read in place beside the repository (tests only).
#[cfg(test)]
pub(crate) fn shared_cases() -> Vec<Case> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/validation/cases.json"
    );
    let text = std::fs::read_to_string(path).expect("shared/validation/cases.json beside the repo");
    serde_json::from_str(&text).expect("cases.json parses")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_absolute_errors() {
        let e = [-0.3, 0.1, 0.2, -0.05];
        assert!((abs_quantile(&e, 0.5).unwrap() - 0.15).abs() < 1e-12);
        assert_eq!(abs_quantile(&e, 1.0), Some(0.3));
        assert_eq!(abs_quantile(&[], 0.5), None);
    }

    #[test]
    fn shared_cases_file_parses() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/validation/cases.json"
        );
        let text =
            std::fs::read_to_string(path).expect("shared/validation/cases.json beside the repo");
        let cases: Vec<Case> = serde_json::from_str(&text).unwrap();
        assert_eq!(cases.len(), 97); // shared/validation/cases.json as laid out on 2026-11-28
        assert!(cases.iter().all(|c| c.check().is_ok()));
    }

    /// Every numeric field of every shared case set to the edges the door lets in
    /// (1, 2, 3 and the largest) is predicted or refused, never a panic.
    #[test]
    fn cases_at_the_edges_of_the_door_never_panic() {
        for case in shared_cases() {
            for section in ["model", "setup"] {
                let map = if section == "model" {
                    &case.model
                } else {
                    &case.setup
                };
                for key in map.keys().filter(|k| map[*k].is_number()) {
                    let max = if CASE_TOTALS.contains(&key.as_str()) {
                        MAX_CASE_TOTAL
                    } else {
                        MAX_CASE_COUNT
                    };
                    for v in [1.0, 2.0, 3.0, max] {
                        let mut c = case.clone();
                        let m = if section == "model" {
                            &mut c.model
                        } else {
                            &mut c.setup
                        };
                        m.insert(key.clone(), serde_json::json!(v));
                        assert!(c.check().is_ok(), "{}: {key} = {v}", c.id);
                        let _ = inference::predict(&c);
                        let _ = training::predict(&c);
                    }
                }
            }
            // texts no source wrote, with characters of any width before a number
            for gpu_type in ["H100 ×96GB", "×GB", "A100 ½40gb", "é1.5 TB/s", "GB", "."] {
                let mut c = case.clone();
                c.setup
                    .insert("gpu_type".into(), serde_json::json!(gpu_type));
                let _ = inference::predict(&c);
                let _ = training::predict(&c);
            }
        }
    }

    #[test]
    fn the_door_refuses_what_no_case_can_mean() {
        let mut case = shared_cases().remove(0);
        case.model.insert("layers".into(), serde_json::json!(0.5));
        assert_eq!(
            case.check(),
            Err("`model.layers` = 0.5: expected a positive whole number up to 1.6777216e7".into())
        );
        case.model
            .insert("layers".into(), serde_json::json!(4294967296u64));
        assert!(case.check().is_err());
        case.model.insert("layers".into(), serde_json::json!(-1));
        assert!(case.check().is_err());
    }
}
