//! Readers that turn model descriptions into sizeup [`Architecture`](sizeup_core::Architecture)s.
//!
//! * [`hf`]: Hugging Face `config.json`, one reader per `model_type` family.
//! * [`catalog`]: sizeup's own embedded list of real models, checked against the
//!   reference counts.
//!
//! Nothing here computes a cost: every count is `sizeup_core`'s.
#![deny(missing_docs)]

pub mod catalog;
pub mod error;
pub mod hf;
pub mod source;

pub use error::FormatError;
