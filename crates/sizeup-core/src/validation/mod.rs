//! Golden cases: published measurements, recomputed, with the error of each prediction.
//!
//! A case states a model (the numbers its source gives), a setup (hardware and
//! layout) and what was reported. The inference and training models predict the
//! same figure, and so does a naive baseline, so the gain over the obvious shows.

pub mod calibration;
pub mod inference;
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
}

impl CaseOutcome {
    /// Signed relative error of the prediction: `(predicted − reported) / reported`.
    pub fn error(&self) -> Option<f64> {
        self.predicted.map(|p| relative_error(p, self.reported))
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
    }
}
