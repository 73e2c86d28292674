//! `sizeup plan`: search every configuration of a job and rank those that fit.
//!
//! - [`train`]: `plan train` ranks training layouts by wall time or cost.
//! - [`serve`]: `plan serve` finds the cheapest serving setups that carry a load
//!   within latency targets, confirmed by the serving simulation.
//!
//! Each row carries the `sizeup train` / `sizeup infer` flags that reproduce it.

pub mod serve;
pub mod train;

use clap::Subcommand;
use serde::Serialize;
use sizeup_core::hardware::{self, Accelerator};

use crate::error::AppError;
use crate::humanize::ByteUnits;
use crate::render::{Report, View};
use crate::sweep_axis::SweepAxis;

pub use serve::{run_serve, PlanServeArgs, PlanServeReport};
pub use train::{run_train, PlanTrainArgs, PlanTrainReport};

/// What to plan.
#[derive(Debug, Subcommand)]
pub enum PlanTarget {
    /// Training: every layout (tp, pp with chunks, cp, ep, dp, micro-batch, recompute, ZeRO, sequence parallel) that fits, ranked
    Train(Box<PlanTrainArgs>),
    /// Serving: the cheapest setups (GPU, tp, replicas, weight and KV formats, engine caps) that carry a load within latency targets
    Serve(Box<PlanServeArgs>),
}

/// What `sizeup plan` reports: one report per target, serialized as that report
/// (`plan train`'s report holds the training estimate, which serializes only).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum PlanReport {
    /// `plan train`.
    Train(PlanTrainReport),
    /// `plan serve`.
    Serve(PlanServeReport),
}

impl Report for PlanReport {
    fn view(&self, units: ByteUnits) -> View {
        match self {
            PlanReport::Train(r) => r.view(units),
            PlanReport::Serve(r) => r.view(units),
        }
    }
}

/// Plan, through the library surface ([`crate::api::Estimate`]).
pub fn run(target: &PlanTarget) -> Result<PlanReport, AppError> {
    use crate::api::Estimate;
    match target {
        PlanTarget::Train(args) => args.estimate().map(PlanReport::Train),
        PlanTarget::Serve(args) => args.estimate().map(PlanReport::Serve),
    }
}

/// GPU counts from `--gpus`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuCounts(pub Vec<u64>);

/// `64,128,256`, as `--gpus` reads it.
impl std::fmt::Display for GpuCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let counts: Vec<String> = self.0.iter().map(u64::to_string).collect();
        f.write_str(&counts.join(","))
    }
}

/// `64`, `64,128`, `64..1024`, `8..64:8`, each count through the device door.
fn parse_gpus(s: &str) -> Result<GpuCounts, String> {
    let axis: SweepAxis = format!("gpus={s}")
        .parse()
        .map_err(|e: crate::sweep_axis::SweepAxisError| e.problem.to_string())?;
    let values = axis.whole_values().map_err(|e| e.problem.to_string())?;
    let mut out = Vec::new();
    for v in values {
        crate::door::DEVICES.check(v as f64)?;
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(GpuCounts(out))
}

/// Longest search run without `--allow-long`, in seconds.
const TIME_LIMIT_SECONDS: f64 = 60.0;

/// The catalog accelerators `names` name, each once, in order.
fn accelerators(names: &[String]) -> Result<Vec<Accelerator>, AppError> {
    let mut out: Vec<Accelerator> = Vec::new();
    for n in names {
        let a = hardware::find(n)?.clone();
        if !out.iter().any(|o| o.name == a.name) {
            out.push(a);
        }
    }
    Ok(out)
}

/// `8,16,32`, or `8,16,24,…,16384 (2048 counts)` for a long list.
fn gpus_text(gpus: &[u64]) -> String {
    let all: Vec<String> = gpus.iter().map(u64::to_string).collect();
    if all.len() <= 8 {
        return all.join(",");
    }
    format!(
        "{},…,{} ({} counts)",
        all[..3].join(","),
        all[all.len() - 1],
        all.len()
    )
}
