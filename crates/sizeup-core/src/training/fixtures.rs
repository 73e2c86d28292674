//! Accelerators built by hand for tests, each figure from its datasheet.

use crate::hardware::{Accelerator, PeakFlops};

const GIB: u64 = 1 << 30;

fn gpu(
    name: &str,
    memory_gib: u64,
    bandwidth: f64,
    bf16: f64,
    fp8: Option<f64>,
    link: f64,
) -> Accelerator {
    Accelerator {
        name: name.into(),
        vendor: "NVIDIA".into(),
        memory_bytes: memory_gib * GIB,
        memory_bandwidth_bytes_per_sec: bandwidth,
        peak_flops: PeakFlops {
            bf16: Some(bf16),
            fp8,
            ..PeakFlops::default()
        },
        interconnect_bytes_per_sec: link,
        interconnect: "test link".into(),
        price_per_hour_usd: 2.0,
        source: "test fixture".into(),
    }
}

/// NVIDIA A100 SXM4 80GB datasheet (2021): 312 TFLOP/s BF16, 2.039 TB/s, NVLink 3 300 GB/s each way.
pub(crate) fn a100_80() -> Accelerator {
    gpu("A100-SXM-80GB", 80, 2.039e12, 312e12, None, 300e9)
}

/// NVIDIA H100 SXM datasheet (2023): 989.4 TFLOP/s BF16, 1978.9 FP8 dense, 3.35 TB/s, NVLink 4 450 GB/s each way.
pub(crate) fn h100() -> Accelerator {
    gpu("H100-SXM", 80, 3.35e12, 989.4e12, Some(1978.9e12), 450e9)
}

/// NVIDIA RTX 4090 (Ada whitepaper 2022): 165.2 TFLOP/s BF16 with FP32 accumulate, 1.008 TB/s, PCIe 4.0 x16.
pub(crate) fn rtx4090() -> Accelerator {
    gpu("RTX-4090", 24, 1.008e12, 165.2e12, Some(330.3e12), 32e9)
}
