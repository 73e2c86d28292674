//! Exact parameter counts, KV cache sizes and cost models for transformer language models.
//!
//! `sizeup-core` is pure computation: it turns an [`Architecture`] into numbers and
//! never reads files, prints, or touches the network, so the same code runs in the
//! CLI, a web page and (on `wasm32-unknown-unknown`) a browser.
//!
//! ```
//! use sizeup_core::{params, Shape};
//!
//! // Llama-2-7B: 32 layers, h = 4096, 32 heads, f = 11008, V = 32000
//! let arch = Shape::llama(32, 4096, 32, 32, 11008, 32000).build().unwrap();
//! let count = params::count(&arch).unwrap();
//! assert_eq!(count.total, 6_738_415_616); // shared/fixtures/models/llama-2-7b
//! ```
#![deny(missing_docs)]

pub mod arch;
pub mod assumption;
pub mod card;
pub mod device;
pub mod dtype;
pub mod efficiency;
pub mod error;
pub mod hardware;
pub mod inference;
pub mod kv;
mod named;
pub mod ops;
pub mod params;
pub mod plan;
pub mod resize;
pub mod rough;
pub mod shape;
#[cfg(test)]
mod testing;
pub mod training;
pub mod units;

pub use arch::Architecture;
pub use assumption::Assumption;
pub use dtype::{BlockLayout, KvDtype, WeightFormat};
pub use error::{CoreError, Result};
pub use shape::{BlockStyle, Shape};
