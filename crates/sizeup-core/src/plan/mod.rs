//! Configuration search: every layout of a job that fits and divides, ranked.
//!
//! `plan` is a group: [`train`] searches training layouts today; a `serve`
//! module (replicas, tensor parallelism, engine and batch for a serving target)
//! belongs beside it and will reuse [`top::TopN`] and the same shape
//! (a space, an exhaustive walk, a streaming top N, the winner priced by the
//! command's own `estimate`).
//!
//! The search never prices a candidate by a formula of its own: every number
//! it ranks by comes from [`crate::training::estimate`], so a plan's winner and
//! `sizeup train` with the winner's flags agree to the last bit.

pub mod space;
pub mod top;
pub mod train;

pub use space::{Candidate, Space};
pub use top::TopN;
pub use train::{search, PlanRequest, RankBy, TrainPlan};
