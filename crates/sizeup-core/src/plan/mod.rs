//! Configuration search: every layout of a job that fits and divides, ranked.
//!
//! `plan` is a group: [`train`] searches training layouts, [`serve`] serving
//! setups under a load. Both have one shape: a space, an exhaustive walk, a
//! streaming top N ([`top::TopN`]), the rows priced by the command's own
//! `estimate`.
//!
//! A search never prices a candidate by a formula of its own: every number it
//! ranks by comes from [`crate::training::estimate`] or the serving estimate's
//! functions ([`crate::inference::Replica`]), so a plan's winner and `sizeup
//! train` / `sizeup infer` with the winner's flags agree to the last bit.

pub mod serve;
pub mod space;
pub mod top;
pub mod train;

pub use space::{Candidate, Space};
pub use top::TopN;
pub use train::{search, PlanRequest, RankBy, TrainPlan};
