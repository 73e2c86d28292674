//! A serving point: the estimate `sizeup infer` makes with the point's values,
//! reduced to the figures a sweep compares, and its table columns.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use sizeup_core::inference::{self, Bound, InferRequest, MemoryPerGpu, Warning};
use sizeup_core::kv::{self, KvRequest};
use sizeup_core::{Architecture, Assumption};

use super::axes::{self, Flags};
use super::{Base, SweepPoint, SweepReport};
use crate::error::AppError;
use crate::render::Cell;

/// The architecture at a point where an architecture input is varied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "serve", derive(schemars::JsonSchema))]
pub struct PointShape {
    /// `L`.
    pub layers: u64,
    /// `h`.
    pub hidden_size: u64,
    /// `a`.
    pub heads: u64,
    /// `k`.
    pub kv_heads: u64,
    /// `d`.
    pub head_dim: u64,
    /// `f` of the dense MLP.
    pub intermediate_size: u64,
}

impl PointShape {
    /// The shape of `arch`.
    pub fn of(arch: &Architecture) -> PointShape {
        PointShape {
            layers: arch.num_layers(),
            hidden_size: arch.hidden_size,
            heads: arch.heads(),
            kv_heads: arch.kv_heads(),
            head_dim: arch.head_dim(),
            intermediate_size: arch
                .blocks()
                .find_map(|(b, _)| b.dense().map(|m| m.intermediate_size))
                .unwrap_or(0),
        }
    }

    /// `L32 h4096 32/8×128 f14336`.
    pub fn text(&self) -> String {
        format!(
            "L{} h{} {}/{}×{} f{}",
            self.layers,
            self.hidden_size,
            self.heads,
            self.kv_heads,
            self.head_dim,
            self.intermediate_size
        )
    }
}

/// What serving looks like at one point, in base units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "serve", derive(schemars::JsonSchema))]
pub struct ServePoint {
    /// All parameters of the model at this point.
    pub params_total: u64,
    /// Devices in all.
    pub gpus: u64,
    /// Tensor-parallel ranks per replica.
    pub tp: u64,
    /// Requests held at once per replica.
    pub batch: u64,
    /// The context the KV cache is sized for.
    pub context: u64,
    /// Memory of each device, line by line.
    pub memory: MemoryPerGpu,
    /// Bytes left for the KV cache once everything else is placed, per device.
    pub kv_budget_bytes: u64,
    /// KV cache of one request at `context`, all ranks together (as `sizeup kv`).
    pub kv_per_request_bytes: u64,
    /// Whether it fits.
    pub fits: bool,
    /// Requests per replica that fit at the context.
    pub max_batch_at_context: u64,
    /// Time to first token, seconds.
    pub time_to_first_token_seconds: f64,
    /// Time per output token, seconds.
    pub time_per_output_token_seconds: f64,
    /// Output tokens per second of all replicas.
    pub output_tokens_per_sec: f64,
    /// What bounds a decode step.
    pub decode_bound: Bound,
    /// US dollars per million output tokens, if there is a price.
    pub usd_per_million_output_tokens: Option<f64>,
    /// The architecture, when an architecture input is varied.
    pub shape: Option<PointShape>,
    /// Things to know about this point.
    pub warnings: Vec<Warning>,
}

/// The model and the request at a point: the base flags with the point's values set.
fn inputs<'a>(
    base: &Base<'a>,
    values: &[f64],
) -> Result<(Cow<'a, Architecture>, InferRequest), AppError> {
    let mut device = base.device.clone();
    let mut serve = base.serve.clone();
    let arch = axes::apply(
        base.arch,
        base.swept,
        values,
        &mut device,
        Flags::Serve(&mut serve),
    )?;
    let gpu = base.accelerator(&device)?;
    Ok((arch, serve.request_on(&device, &gpu, base.checkpoint)?))
}

/// Estimate serving at one point.
pub fn evaluate(base: &Base<'_>, values: &[f64]) -> Result<ServePoint, AppError> {
    let (arch, mut req) = inputs(base, values)?;
    // A sweep reports each point; the ridge search and fit advice are per-model work.
    req.detail = inference::Detail::Point;
    let e = inference::estimate(&arch, &req)?;
    let one = kv::size(
        &arch,
        &KvRequest {
            seq_len: e.context.max(1),
            batch: 1,
            dtype: e.kv_dtype,
            tp: 1,
            block_tokens: req.profile.kv_block_tokens,
        },
    )?;
    let varies_arch = base.swept.iter().any(|s| s.def.is_arch());
    Ok(ServePoint {
        params_total: e.params_total,
        gpus: e.gpus,
        tp: e.tp,
        batch: e.load.requests(),
        context: e.context,
        memory: e.memory,
        kv_budget_bytes: e.memory.kv_budget_bytes(),
        kv_per_request_bytes: one.bytes_per_sequence,
        fits: e.fits,
        max_batch_at_context: e.max_batch_at_context,
        time_to_first_token_seconds: e.schedule.time_to_first_token_seconds,
        time_per_output_token_seconds: e.schedule.time_per_output_token_seconds,
        output_tokens_per_sec: e.output_tokens_per_sec_total,
        decode_bound: e.decode.bound,
        usd_per_million_output_tokens: e.cost.map(|c| c.usd_per_million_output_tokens),
        shape: varies_arch.then(|| PointShape::of(&arch)),
        warnings: e.warnings,
    })
}

/// The assumptions of the estimate at one point.
pub fn assumptions(base: &Base<'_>, values: &[f64]) -> Result<Vec<Assumption>, AppError> {
    let (arch, req) = inputs(base, values)?;
    Ok(inference::estimate(&arch, &req)?.assumptions)
}

/// The result columns a report shows; some only when they carry something.
pub struct Columns {
    shape: bool,
    kv_request: bool,
    short: bool,
    cost: bool,
    error: bool,
}

impl Columns {
    /// The columns `report` needs.
    pub fn new(report: &SweepReport) -> Columns {
        let served = || report.points.iter().filter_map(SweepPoint::serve);
        Columns {
            shape: served().any(|p| p.shape.is_some()),
            kv_request: report
                .swept()
                .iter()
                .any(|s| matches!(s.def.name, "context" | "kv_heads" | "layers" | "hidden")),
            short: served().any(|p| !p.fits),
            cost: served().any(|p| p.usd_per_million_output_tokens.is_some()),
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
            ("weights/GPU", "weights_bytes_per_gpu"),
            ("KV/GPU", "kv_cache_bytes_per_gpu"),
        ]);
        if self.kv_request {
            h.push(("KV/request", "kv_bytes_per_request"));
        }
        h.push(("free/GPU", "free_bytes_per_gpu"));
        if self.short {
            h.push(("short/GPU", "shortfall_bytes_per_gpu"));
        }
        h.extend([
            ("fits", "fits"),
            ("max batch", "max_batch_at_context"),
            ("TTFT", "time_to_first_token_seconds"),
            ("TPOT", "time_per_output_token_seconds"),
            ("tokens/s", "output_tokens_per_sec"),
        ]);
        if self.cost {
            h.push(("$/M out", "usd_per_million_output_tokens"));
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
        let Some(p) = point.serve() else {
            return error_row(self.headers().len(), point);
        };
        let mut row = Vec::new();
        if self.shape {
            row.push(p.shape.map_or(Cell::Empty, |s| Cell::Text(s.text())));
            row.push(Cell::Count(p.params_total));
        }
        let m = &p.memory;
        row.extend([Cell::Bytes(m.weights_bytes), Cell::Bytes(m.kv_cache_bytes)]);
        if self.kv_request {
            row.push(Cell::Bytes(p.kv_per_request_bytes));
        }
        row.push(Cell::Bytes(m.free_bytes));
        if self.short {
            row.push(Cell::Bytes(m.shortfall_bytes));
        }
        row.extend([
            Cell::Text(if p.fits { "yes" } else { "no" }.into()),
            Cell::Exact(p.max_batch_at_context),
            Cell::Seconds(p.time_to_first_token_seconds),
            Cell::Seconds(p.time_per_output_token_seconds),
            Cell::Number(p.output_tokens_per_sec, ""),
        ]);
        if self.cost {
            row.push(
                p.usd_per_million_output_tokens
                    .map_or(Cell::Empty, |c| Cell::Number(c, "")),
            );
        }
        if self.error {
            row.push(Cell::Empty);
        }
        row
    }
}

/// The row of a point without an estimate: empty cells, then its error.
pub fn error_row(columns: usize, point: &SweepPoint) -> Vec<Cell> {
    let mut row = vec![Cell::Empty; columns.saturating_sub(1)];
    row.push(Cell::Text(point.error().unwrap_or_default().to_string()));
    row
}

/// Notes under the table: each distinct warning once, with how many points it concerns.
pub fn notes(report: &SweepReport) -> Vec<String> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for w in report
        .points
        .iter()
        .filter_map(SweepPoint::serve)
        .flat_map(|p| &p.warnings)
    {
        let text = w.to_string();
        match counts.iter_mut().find(|(t, _)| *t == text) {
            Some(c) => c.1 += 1,
            None => counts.push((text, 1)),
        }
    }
    let mut notes: Vec<String> = counts
        .into_iter()
        .map(|(t, n)| match n {
            1 => format!("warning: {t}"),
            n => format!("warning ({n} points): {t}"),
        })
        .collect();
    notes.push(
        "KV/GPU and free/GPU are per device for the whole batch; TTFT, TPOT and tokens/s as `sizeup infer`"
            .into(),
    );
    if report.swept().iter().any(|s| s.def.name == "context") {
        notes.push(
            "the context sizes the KV cache (memory, max batch); TTFT and TPOT follow `--prompt` and `--output` (vary `prompt` to see prefill grow)"
                .into(),
        );
    }
    notes
}
