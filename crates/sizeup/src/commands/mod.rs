//! One module per command: read arguments into core types, call core, build a report.

pub mod card;
pub mod gpus;
pub mod infer;
pub mod inspect;
pub mod kv;
pub mod models;
pub mod params;
pub mod plan;
pub mod rough;
pub mod sweep;
pub mod train;
pub mod validate;
