//! Accelerators: compute, memory, bandwidth and price, each figure with its source.

use serde::{Deserialize, Serialize};

/// One accelerator (GPU or unified-memory chip) as the cost models see it.
///
/// Every rate is the vendor's dense (no sparsity) peak; achieved rates come from
/// [`crate::efficiency`]-style utilization assumptions, never from editing these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Accelerator {
    /// Canonical name used on the command line (`H100-SXM`).
    pub name: String,
    /// Vendor (`NVIDIA`, `AMD`, `Apple`).
    pub vendor: String,
    /// Memory in bytes (HBM, GDDR or unified memory).
    pub memory_bytes: u64,
    /// Peak memory bandwidth in bytes per second.
    pub memory_bandwidth_bytes_per_sec: f64,
    /// Dense tensor throughput per precision, in FLOP/s (or OP/s for int8).
    pub peak_flops: PeakFlops,
    /// Per-GPU interconnect bandwidth in bytes per second, one direction
    /// (NVLink, xGMI, or PCIe where there is no GPU link).
    pub interconnect_bytes_per_sec: f64,
    /// What the interconnect is (`NVLink 4`, `PCIe 5.0 x16`).
    pub interconnect: String,
    /// A typical on-demand price per GPU-hour in US dollars (overridable).
    pub price_per_hour_usd: f64,
    /// Where the figures come from (datasheet title and date, or URL).
    pub source: String,
}

/// Dense peak throughput per precision, in FLOP/s; `None` where the chip has no such path.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct PeakFlops {
    /// FP32 (non-tensor).
    pub fp32: Option<f64>,
    /// TF32 tensor.
    pub tf32: Option<f64>,
    /// BF16/FP16 tensor.
    pub bf16: Option<f64>,
    /// FP8 tensor.
    pub fp8: Option<f64>,
    /// INT8 tensor (OP/s).
    pub int8: Option<f64>,
    /// FP4 tensor.
    pub fp4: Option<f64>,
}
