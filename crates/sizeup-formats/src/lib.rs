//! Readers that turn model descriptions into sizeup [`Architecture`](sizeup_core::Architecture)s.
//!
//! * [`hf`]: Hugging Face `config.json`, one reader per `model_type` family.
//! * [`catalog`]: sizeup's own embedded list of real models, checked against the
//!   reference counts.
//! * [`safetensors`], [`gguf`]: checkpoint headers (never the weights), as a
//!   format-neutral [`tensors`] table; GGUF metadata also gives an architecture.
//! * `hub` (feature `hub`): the same from the Hugging Face Hub, by range requests.
//!
//! Nothing here computes a cost: every count is `sizeup_core`'s.
#![deny(missing_docs)]

pub mod catalog;
pub mod error;
pub mod file;
pub mod gguf;
pub mod hf;
#[cfg(feature = "hub")]
pub mod hub;
pub mod safetensors;
pub mod source;
pub mod tensors;

pub use error::FormatError;
