//! The one error type of `sizeup-core`.

use thiserror::Error;

/// Everything that can go wrong while computing from an [`Architecture`](crate::Architecture).
///
/// Variants carry data, never preformatted prose: the binary renders them with
/// the field, the value and a hint.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum CoreError {
    /// An exact count does not fit in a `u64`.
    #[error("the {quantity} overflows a 64-bit count")]
    Overflow {
        /// What was being counted (`parameters`, `KV cache bytes`).
        quantity: &'static str,
    },
    /// A size that must be positive is zero.
    #[error("`{field}` must be at least 1, got 0")]
    Zero {
        /// The field, in the input's own naming.
        field: &'static str,
    },
    /// A value is outside the range where the model makes sense.
    #[error("`{field}` = {value} is invalid: {expected}")]
    Invalid {
        /// The field, in the input's own naming.
        field: &'static str,
        /// The value as given.
        value: String,
        /// What would be valid.
        expected: String,
    },
    /// Text that could not be read (a TOML accelerator file).
    #[error("cannot read the {what}: {message}")]
    Parse {
        /// What was being read (`accelerator file`).
        what: &'static str,
        /// The parser's message.
        message: String,
    },
    /// A name that is not in a catalog.
    #[error("unknown {what} `{name}`")]
    Unknown {
        /// What kind of thing (`accelerator`, `weight format`).
        what: &'static str,
        /// The name as given.
        name: String,
        /// The nearest known names, best first.
        suggestions: Vec<String>,
    },
}

/// Result alias for `sizeup-core`.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;
