//! A training point: the estimate `sizeup train` makes with the point's values,
//! reduced to the figures a sweep compares, and its table columns.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use sizeup_core::training::verdict::FitVerdict;
use sizeup_core::training::{self, MemoryPerGpu, TrainRequest};
use sizeup_core::{Architecture, Assumption};

use super::axes::{self, Flags};
use super::serve::{error_row, PointShape};
use super::{Base, SweepPoint, SweepReport};
use crate::cli::DeviceArgs;
use crate::error::AppError;
use crate::render::Cell;

/// What training looks like at one point, in base units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "serve", derive(schemars::JsonSchema))]
pub struct TrainPoint {
    /// All parameters of the model at this point.
    pub params_total: u64,
    /// Parameters trained (adapters for LoRA and QLoRA).
    pub params_trainable: u64,
    /// GPUs in the run.
    pub gpus: u64,
    /// Tensor-parallel size.
    pub tp: u64,
    /// Pipeline stages.
    pub pp: u64,
    /// Data-parallel size.
    pub dp: u64,
    /// Sequences per micro-batch.
    pub micro_batch: u64,
    /// Sequences per optimizer step.
    pub global_batch: u64,
    /// Tokens per sequence.
    pub seq_len: u64,
    /// Memory per GPU of the stage that needs the most, line by line.
    pub memory: MemoryPerGpu,
    /// Whether it fits (a tight fit included).
    pub fits: bool,
    /// Whether it fits with the margin to spare, tightly, or not at all.
    pub verdict: FitVerdict,
    /// The largest micro-batch that fits (`None`: not even 1).
    pub largest_micro_batch: Option<u64>,
    /// Seconds per optimizer step.
    pub step_seconds: f64,
    /// Training tokens per second, all GPUs.
    pub tokens_per_second: f64,
    /// Model FLOPs utilization.
    pub mfu: f64,
    /// GPU-hours for the training tokens.
    pub gpu_hours: f64,
    /// US dollars for the training tokens, if there is a price.
    pub cost_usd: Option<f64>,
    /// The architecture, when an architecture input is varied.
    pub shape: Option<PointShape>,
}

/// The model and the request at a point: the base flags with the point's values set.
fn inputs<'a>(
    base: &Base<'a>,
    values: &[f64],
) -> Result<(Cow<'a, Architecture>, TrainRequest, DeviceArgs), AppError> {
    let mut device = base.device.clone();
    let mut train = base.train.clone();
    let arch = axes::apply(
        base.arch,
        base.swept,
        values,
        &mut device,
        Flags::Train(&mut train),
    )?;
    let req = train.request(&device)?;
    Ok((arch, req, device))
}

/// Estimate training at one point.
pub fn evaluate(base: &Base<'_>, values: &[f64]) -> Result<TrainPoint, AppError> {
    let (arch, req, device) = inputs(base, values)?;
    let e = training::estimate(&arch, base.accelerator(&device)?.as_ref(), &req)?;
    let varies_arch = base.swept.iter().any(|s| s.def.is_arch());
    Ok(TrainPoint {
        params_total: e.params_total,
        params_trainable: e.params_trainable,
        gpus: req.gpus,
        tp: e.layout.tp,
        pp: e.layout.pp,
        dp: e.layout.dp,
        micro_batch: req.micro_batch,
        global_batch: req.global_batch,
        seq_len: req.seq_len,
        memory: e.memory,
        fits: e.fits,
        verdict: e.verdict,
        largest_micro_batch: e.largest_micro_batch,
        step_seconds: e.time.step_seconds,
        tokens_per_second: e.time.tokens_per_second,
        mfu: e.time.mfu,
        gpu_hours: e.time.gpu_hours,
        cost_usd: e.time.cost_usd,
        shape: varies_arch.then(|| PointShape::of(&arch)),
    })
}

/// The assumptions of the estimate at one point.
pub fn assumptions(base: &Base<'_>, values: &[f64]) -> Result<Vec<Assumption>, AppError> {
    let (arch, req, device) = inputs(base, values)?;
    Ok(training::estimate(&arch, base.accelerator(&device)?.as_ref(), &req)?.assumptions)
}

/// The memory line items of a training point that charts and tables show, in
/// order: `(name, bytes per GPU)`. Logits, communication buffers and framework
/// overhead are summed as "other".
pub fn memory_items(p: &TrainPoint) -> [(&'static str, u64); 5] {
    let m = &p.memory;
    [
        ("weights", m.weights_bytes),
        ("gradients", m.gradients_bytes),
        ("optimizer states", m.optimizer_states_bytes),
        ("activations", m.activations_bytes),
        (
            "logits, buffers, framework",
            m.logits_and_loss_bytes
                .saturating_add(m.communication_buffers_bytes)
                .saturating_add(m.framework_overhead_bytes),
        ),
    ]
}

/// The result columns a training report shows; some only when they carry something.
pub struct Columns {
    shape: bool,
    cost: bool,
    error: bool,
}

impl Columns {
    /// The columns `report` needs.
    pub fn new(report: &SweepReport) -> Columns {
        let trained = || report.points.iter().filter_map(SweepPoint::train);
        Columns {
            shape: trained().any(|p| p.shape.is_some()),
            cost: trained().any(|p| p.cost_usd.is_some()),
            error: report.points.iter().any(|p| p.error().is_some()),
        }
    }

    /// `(header, csv key)` of each column.
    pub fn headers(&self) -> Vec<(String, String)> {
        let mut h: Vec<(&str, &str)> = Vec::new();
        if self.shape {
            h.extend([("shape", "shape"), ("params", "params_total")]);
        }
        h.extend([
            ("weights", "weights_bytes_per_gpu"),
            ("grads", "gradients_bytes_per_gpu"),
            ("optimizer", "optimizer_states_bytes_per_gpu"),
            ("activations", "activations_bytes_per_gpu"),
            ("other", "other_bytes_per_gpu"),
            ("total/GPU", "total_bytes_per_gpu"),
            ("fits", "fits"),
            ("max micro", "largest_micro_batch"),
            ("step", "step_seconds"),
            ("tokens/s", "tokens_per_second"),
            ("MFU", "mfu"),
            ("GPU-hours", "gpu_hours"),
        ]);
        if self.cost {
            h.push(("$", "cost_usd"));
        }
        if self.error {
            h.push(("error", "error"));
        }
        h.into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    /// The cells of one point, in [`Columns::headers`] order.
    pub fn cells(&self, point: &SweepPoint) -> Vec<Cell> {
        let Some(p) = point.train() else {
            return error_row(self.headers().len(), point);
        };
        let mut row = Vec::new();
        if self.shape {
            row.push(p.shape.map_or(Cell::Empty, |s| Cell::Text(s.text())));
            row.push(Cell::Count(p.params_total));
        }
        row.extend(memory_items(p).map(|(_, b)| Cell::Bytes(b)));
        row.extend([
            Cell::Bytes(p.memory.total_bytes),
            Cell::Text(p.verdict.word().into()),
            p.largest_micro_batch.map_or(Cell::Empty, Cell::Exact),
            Cell::Seconds(p.step_seconds),
            Cell::Number(p.tokens_per_second, ""),
            Cell::Ratio(p.mfu),
            Cell::Number(p.gpu_hours, ""),
        ]);
        if self.cost {
            row.push(p.cost_usd.map_or(Cell::Empty, |c| Cell::Number(c, "")));
        }
        if self.error {
            row.push(Cell::Empty);
        }
        row
    }
}

/// Notes under the table.
pub fn notes(report: &SweepReport) -> Vec<String> {
    let mut notes = vec![
        "memory per GPU of the stage that needs the most; other = logits and loss, communication buffers, framework overhead".to_string(),
        "step, tokens/s and MFU as `sizeup train`; GPU-hours for the training tokens (`--tokens`, default 20 per parameter)".to_string(),
    ];
    if let Some(first) = report.points.iter().find_map(SweepPoint::train) {
        if report
            .points
            .iter()
            .filter_map(SweepPoint::train)
            .all(|p| p.global_batch == first.global_batch)
        {
            notes.push(format!(
                "global batch {} sequences at every point",
                first.global_batch
            ));
        } else {
            notes.push("the global batch follows the micro-batch (one per data-parallel rank) unless `--global-batch` is given".into());
        }
    }
    notes
}
