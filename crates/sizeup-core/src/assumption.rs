//! Assumptions: every estimate says what it assumed, with the source of each default.

use serde::{Deserialize, Serialize};

/// One assumption behind an estimate (a utilization factor, an overhead, a precision).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Assumption {
    /// What is assumed (`decode memory-bandwidth utilization`).
    pub name: String,
    /// The value used, with its unit (`0.80`, `512 MiB`).
    pub value: String,
    /// Where the value comes from (a paper, a measured table, "user flag").
    pub source: String,
}

impl Assumption {
    /// Build an assumption from anything printable.
    pub fn new(name: impl Into<String>, value: impl ToString, source: impl Into<String>) -> Self {
        Assumption {
            name: name.into(),
            value: value.to_string(),
            source: source.into(),
        }
    }
}
