//! Golden cases: published measurements, recomputed, with the error of each prediction.
//!
//! A case states a model (the numbers its source gives), a setup (hardware and
//! layout) and what was reported. The inference and training models predict the
//! same figure, and so does a naive baseline, so the gain over the obvious shows.

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
