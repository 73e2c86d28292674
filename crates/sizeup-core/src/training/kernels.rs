//! How long one GPU takes for a matrix product, an attention kernel or a memory pass.
//!
//! A matrix product of `M×K` by `K×N` runs at the accelerator's measured maximum
//! achievable matmul rate (MAMF, below the datasheet peak), scaled by Calculon's
//! size curve ([`crate::efficiency::matmul_curve`]), plus the time to move its
//! operands once (a roofline whose two terms add, because small and skinny
//! products pay for both). Memory passes (norms, activations, residuals, the loss)
//! run at the memory curve's share of HBM bandwidth. Every rate is further
//! multiplied by one sustained fraction, calibrated on the published training runs.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::assumption::Assumption;
use crate::efficiency::{matmul_at, matmul_top, memory_at};
use crate::error::{CoreError, Result};
use crate::hardware::Accelerator;
use crate::training::states::Precision;

/// Fraction of the kernel-level rates a whole training run sustains: clocks under
/// long full load, gaps between kernels, stragglers, data loading and logging.
///
/// # Source
/// Fitted by `validation::calibration` (`Knob::SustainedFraction`) on every
/// `train_throughput` and `train_time` case run with fused kernels whose
/// prediction depends on it (Megatron-LM, Megatron-Core, Korthikanti, BLOOM,
/// Llama 3, torchtitan, DeepSeek-V3): the value minimising the median
/// |ln(predicted/reported)|. `sizeup validate` lists the cases and the
/// leave-one-source-out range; a test checks the fit still lands here.
pub const SUSTAINED_FRACTION: f64 = 0.87;

/// Share of HBM bandwidth a matrix product's operand traffic reaches.
///
/// # Source
/// Calculon's memory curve for passes of 100 MB and more (DESIGN.md).
pub const GEMM_OPERAND_BANDWIDTH: f64 = 0.9;

/// Peak the Calculon curve's thresholds were written for (A100 BF16 dense), so a
/// product is judged by its ideal duration, not its FLOPs: a 16 GFLOP product is
/// "large" on an A100 but takes a third of the time on an H100.
///
/// # Source
/// NVIDIA A100 datasheet (2021): 312 TFLOP/s BF16 dense; Calculon's A100 system files.
pub const CURVE_REFERENCE_PEAK: f64 = 312e12;

/// Flash attention on head dimensions of 64 or less reaches this share of its
/// head-dim-128 rate.
///
/// # Source
/// Dao 2023 (FlashAttention-2, arXiv:2307.08691) Fig. 4: A100 forward+backward,
/// head dim 64 vs 128 at sequence 2k–8k (≈ 150–170 vs 190–225 TFLOP/s).
pub const SMALL_HEAD_ATTENTION: f64 = 0.8;

pub use crate::hardware::KernelRates;

/// The measured rates of `acc`: its catalog row's `kernel_rates`, a stated default otherwise.
///
/// # Source
/// The rows cite Bekman's MAMF table (A100 SXM 271.2/312 = 0.869, A100 PCIe 0.811,
/// H100 SXM 0.803 BF16 and 0.709 FP8, H200 0.734 FP8, B200 0.776, MI300X 0.514) and
/// Dao 2023 (FlashAttention-2) §4 for attention: 187–225 TFLOP/s forward+backward
/// on A100 (≈ 0.6 of 312); "up to 335 TFLOPs/s on H100" (0.34 of 989).
pub fn rates(acc: &Accelerator) -> KernelRates {
    rates_of(acc).clone()
}

/// [`rates`] borrowed: the catalog row's, or the one shared default (a device is
/// built for every priced layout of a search, without copying them).
fn rates_of(acc: &Accelerator) -> &KernelRates {
    static DEFAULT: std::sync::OnceLock<KernelRates> = std::sync::OnceLock::new();
    acc.kernel_rates.as_ref().unwrap_or_else(|| {
        DEFAULT.get_or_init(|| KernelRates {
            matmul_bf16: DEFAULT_MATMUL,
            matmul_fp8: DEFAULT_MATMUL,
            attention: DEFAULT_ATTENTION,
            source: NO_MEASUREMENT.into(),
        })
    })
}

/// The source of the default rates.
const NO_MEASUREMENT: &str = "no measurement for this accelerator: the median of the MAMF table (0.8) and half of peak for attention";

/// Matmul share of peak for accelerators missing from the MAMF table (its median).
pub const DEFAULT_MATMUL: f64 = 0.8;
/// Flash-attention share of peak for accelerators without a measurement.
pub const DEFAULT_ATTENTION: f64 = 0.5;

/// Whether element-wise work runs in fused kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Kernels {
    /// Fused norms, bias-activation and bias-dropout-add kernels (Megatron, Transformer Engine, torch.compile).
    Fused,
    /// One kernel per PyTorch operator, with the casts and copies autograd keeps.
    Eager,
}

pub use crate::ops::FUSED_ELEMENTWISE_PER_H;

/// Eager PyTorch moves this many times the fused traffic (upcasts, copies and
/// a separate kernel, reading and writing, for each operator).
///
/// # Source
/// Fitted by `validation::calibration` (`Knob::EagerTrafficFactor`, given
/// [`SUSTAINED_FRACTION`]) on the training-speed cases that run eager kernels:
/// MosaicML llm-foundry's benchmark table (unfused PyTorch blocks), the MPT-7B
/// run and sizeup's own plain-PyTorch H200 runs. Its leave-one-source-out range
/// is wide (`sizeup validate` prints it): three source families only.
pub const EAGER_TRAFFIC_FACTOR: f64 = 2.8;

/// One GPU running one training job: the accelerator, its rates and the precision.
#[derive(Debug, Clone, PartialEq)]
pub struct Device<'a> {
    /// The accelerator.
    pub acc: &'a Accelerator,
    /// Its measured kernel rates.
    pub rates: Cow<'a, KernelRates>,
    /// Precision of the matrix products.
    pub precision: Precision,
    /// Fused or eager element-wise kernels.
    pub kernels: Kernels,
    /// Datasheet peak of the matmul precision, FLOP/s.
    pub peak: f64,
    /// Datasheet 16-bit peak, FLOP/s (attention and the loss stay in 16 bits).
    pub peak_16: f64,
    /// The GPU link's bandwidth each way (0 where there is none).
    pub link: f64,
    /// Share of the kernel rates a whole run sustains ([`SUSTAINED_FRACTION`] unless overridden).
    pub sustained: f64,
    /// Eager kernels' element-wise traffic over the fused one ([`EAGER_TRAFFIC_FACTOR`] unless overridden).
    pub eager_traffic: f64,
}

impl<'a> Device<'a> {
    /// The device for `acc` at `precision`.
    ///
    /// # Errors
    /// [`CoreError::Invalid`] when the accelerator has no tensor path for the precision.
    pub fn new(acc: &'a Accelerator, precision: Precision, kernels: Kernels) -> Result<Self> {
        let missing = |p: &str| CoreError::Invalid {
            field: "precision",
            value: p.to_string(),
            expected: format!("a precision `{}` has tensor cores for", acc.name),
        };
        let peak_16 = acc.peak_flops.bf16.ok_or_else(|| missing("bf16"))?;
        let peak = match precision {
            Precision::Bf16 | Precision::Fp16 => peak_16,
            Precision::Fp8 => acc.peak_flops.fp8.ok_or_else(|| missing("fp8"))?,
        };
        Ok(Device {
            acc,
            rates: Cow::Borrowed(rates_of(acc)),
            precision,
            kernels,
            peak,
            peak_16,
            link: acc.interconnect_bytes_per_sec.unwrap_or(0.0),
            sustained: SUSTAINED_FRACTION,
            eager_traffic: EAGER_TRAFFIC_FACTOR,
        })
    }

    fn operand_bytes(&self) -> f64 {
        if self.precision == Precision::Fp8 {
            1.0
        } else {
            2.0
        }
    }

    /// Seconds for `batch` products of `M×K` by `K×N`.
    ///
    /// # Formula
    /// ```text
    /// t = 2·M·N·K·batch / (peak · mamf · sustained · curve(2MNK·batch · 312T/peak) / 0.95)
    ///   + (M·K + K·N + M·N)·bytes·batch / (bandwidth · 0.9 · sustained)
    /// FP8 adds the casts of both inputs: 3 bytes per input element read and written
    /// ```
    pub fn gemm(&self, m: f64, n: f64, k: f64, batch: f64) -> f64 {
        let flops = 2.0 * m * n * k * batch;
        if flops <= 0.0 {
            return 0.0;
        }
        let mamf = if self.precision == Precision::Fp8 {
            self.rates.matmul_fp8
        } else {
            self.rates.matmul_bf16
        };
        let top = matmul_top();
        let size_factor = matmul_at(flops * CURVE_REFERENCE_PEAK / self.peak) / top;
        let compute = flops / (self.peak * mamf * self.sustained * size_factor);
        let mut bytes = (m * k + k * n + m * n) * self.operand_bytes() * batch;
        if self.precision == Precision::Fp8 {
            bytes += 3.0 * (m * k + k * n) * batch;
        }
        let memory = bytes
            / (self.acc.memory_bandwidth_bytes_per_sec * GEMM_OPERAND_BANDWIDTH * self.sustained);
        compute + memory
    }

    /// Seconds for a memory-bound pass moving `bytes`.
    ///
    /// # Formula
    /// `t = bytes / (bandwidth · memory_curve(bytes) · sustained)`
    pub fn memory_pass(&self, bytes: f64) -> f64 {
        if bytes <= 0.0 {
            return 0.0;
        }
        bytes / (self.acc.memory_bandwidth_bytes_per_sec * memory_at(bytes) * self.sustained)
    }

    /// Seconds for a flash-attention kernel doing `flops` (causal work actually done).
    ///
    /// # Formula
    /// `t = flops / (peak₁₆ · attention_rate · sustained · (0.8 if d ≤ 64))`
    pub fn flash_attention(&self, flops: f64, head_dim: u64) -> f64 {
        let small = if head_dim <= 64 {
            SMALL_HEAD_ATTENTION
        } else {
            1.0
        };
        flops / (self.peak_16 * self.rates.attention * self.sustained * small)
    }

    /// Element-wise bytes multiplier for the kernel style.
    pub fn elementwise_factor(&self) -> f64 {
        match self.kernels {
            Kernels::Fused => 1.0,
            Kernels::Eager => self.eager_traffic,
        }
    }

    /// The assumptions this device's timings rest on.
    pub fn assumptions(&self) -> Vec<Assumption> {
        vec![
            Assumption::new(
                "matmul rate (share of datasheet peak, large products)",
                format!(
                    "{:.3} bf16, {:.3} fp8",
                    self.rates.matmul_bf16, self.rates.matmul_fp8
                ),
                self.rates.source.clone(),
            ),
            Assumption::new(
                "flash attention rate (share of 16-bit peak)",
                format!("{:.2}", self.rates.attention),
                "Dao 2023 (FlashAttention-2) §4: A100 187–225 TFLOP/s, H100 up to 335 TFLOP/s forward+backward",
            ),
            Assumption::new(
                "matmul size curve",
                "Calculon steps ≥128/16/1 GFLOP → 0.95/0.9/0.6 (else 0.3), sizes scaled to an A100's 312 TFLOP/s",
                "Isaev et al. 2023 (Calculon) system files; DESIGN.md",
            ),
            Assumption::new(
                "sustained share of kernel rates",
                format!("{}", self.sustained),
                "fitted by `sizeup validate` on the training-speed cases (validation::calibration)",
            ),
            Assumption::new(
                "element-wise kernels",
                match self.kernels {
                    Kernels::Fused => format!("fused: {FUSED_ELEMENTWISE_PER_H}·h bytes per token-layer outside the MLP"),
                    Kernels::Eager => format!("eager PyTorch: {}× the fused element-wise traffic", self.eager_traffic),
                },
                "Korthikanti et al. 2022 Table 4 (fused); MosaicML llm-foundry benchmarks (eager)",
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware;

    fn a100_80() -> Accelerator {
        hardware::find("A100-SXM-80GB").unwrap().clone()
    }

    #[test]
    fn large_products_run_at_mamf_times_sustained() {
        let acc = a100_80();
        let d = Device::new(&acc, Precision::Bf16, Kernels::Fused).unwrap();
        // 8192³: 1.1 TFLOP, operand traffic 402 MB
        let n = 8192.0;
        let t = d.gemm(n, n, n, 1.0);
        let compute = 2.0 * n * n * n / (312e12 * 0.869 * SUSTAINED_FRACTION);
        let memory = 3.0 * n * n * 2.0 / (2.039e12 * 0.9 * SUSTAINED_FRACTION);
        assert!((t - (compute + memory)).abs() < 1e-12);
        // a small product is judged by the curve's lower steps
        let small = d.gemm(1024.0, 1024.0, 256.0, 1.0);
        let ideal = 2.0 * 1024.0 * 1024.0 * 256.0 / 312e12;
        assert!(small > ideal / (0.869 * 0.3 / 0.95));
    }

    #[test]
    fn fp8_needs_an_fp8_peak() {
        let acc = a100_80();
        assert!(matches!(
            Device::new(&acc, Precision::Fp8, Kernels::Fused),
            Err(CoreError::Invalid {
                field: "precision",
                ..
            })
        ));
    }
}
