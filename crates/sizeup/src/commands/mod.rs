//! One module per command: read arguments into core types, call core, build a report.

pub mod rough;
