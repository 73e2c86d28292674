//! One GPU running one training job: the device model ([`crate::device`]) with
//! a training run's share of its rates.
//!
//! A matrix product of `M×K` by `K×N` and its two backward products (the input
//! gradient `M×N · N×K`, the weight gradient `K×M · M×N`) are priced by
//! [`crate::device::Device::matmul`] from their shapes, moving their operands
//! once; attention kernels and memory passes (norms, activations, residuals, the
//! loss) by the same device model. A whole run sustains one fitted share of the
//! kernel rates ([`SUSTAINED_FRACTION`]): clocks under long full load, stragglers,
//! data loading and logging.

use serde::{Deserialize, Serialize};

use crate::assumption::Assumption;
use crate::device::{self, AttentionPass, Gemm, Library};
use crate::dtype::ComputePrecision;
use crate::error::{CoreError, Result};
use crate::hardware::Accelerator;
use crate::training::eager::Residual;
use crate::training::states::Precision;

/// Fraction of the kernel-level rates a whole training run sustains: clocks under
/// long full load, gaps between kernels, stragglers, data loading and logging.
///
/// # Source
/// Fitted by `sizeup_validation::calibration` (`Knob::SustainedFraction`) on every
/// `train_throughput` and `train_time` case whose prediction depends on it, fused
/// and eager kernels alike (Megatron-LM, Megatron-Core, Korthikanti, BLOOM, Llama 3,
/// torchtitan, DeepSeek-V3, llm-foundry, sizeup's own H200 runs): the value minimising the median
/// |ln(predicted/reported)|. `sizeup validate` lists the cases and the
/// leave-one-source-out range; a test checks the fit still lands here.
pub const SUSTAINED_FRACTION: f64 = 0.80;

/// Fixed cost of each kernel of a training step: the launch and the gap before
/// the next kernel when the host keeps the queue full.
///
/// # Source
/// NVIDIA, "Getting Started with CUDA Graphs" (Gray 2019): a 2.9 µs kernel takes
/// 3.8 µs per launch when launches are queued back to back (≈ 1 µs each).
pub const KERNEL_GAP_SECONDS: f64 = 1e-6;

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

/// One GPU running one training job: the accelerator, its rates and the precision.
#[derive(Debug, Clone, Copy)]
pub struct Gpu<'a> {
    /// The accelerator.
    pub acc: &'a Accelerator,
    /// The device model with the run's share of the rates.
    pub device: device::Device<'a>,
    /// Precision of the matrix products.
    pub precision: Precision,
    /// Fused or eager element-wise kernels.
    pub kernels: Kernels,
    /// Datasheet peak of the matmul precision, FLOP/s.
    pub peak: f64,
    /// How eager kernels hold the parameters (the residual stream's width and
    /// autocast's casts); fused kernels ignore it.
    pub residual: Residual,
}

impl<'a> Gpu<'a> {
    /// The GPU for `acc` at `precision`, sustaining [`SUSTAINED_FRACTION`].
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
        Ok(Gpu {
            acc,
            device: device::Device::new(acc, library(SUSTAINED_FRACTION)),
            precision,
            kernels,
            peak,
            residual: Residual::Bits16,
        })
    }

    /// The share of the kernel rates the run sustains.
    pub fn sustained(&self) -> f64 {
        self.device.library.matmul_16bit
    }

    /// Sustain `fraction` of the kernel rates instead.
    pub fn set_sustained(&mut self, fraction: f64) {
        self.device.library = library(fraction);
    }

    fn compute_precision(&self) -> ComputePrecision {
        match self.precision {
            Precision::Fp8 => ComputePrecision::Fp8,
            Precision::Bf16 | Precision::Fp16 => ComputePrecision::Bf16,
        }
    }

    /// Bytes a product `M×K · K×N` moves: its operands once, at 2 bytes (1 in FP8,
    /// which adds the casts of both inputs: 3 bytes per input element read and written).
    fn operand_bytes(&self, m: f64, n: f64, k: f64, batch: f64) -> f64 {
        let inputs = m * k + k * n;
        if self.precision == Precision::Fp8 {
            (inputs + m * n + 3.0 * inputs) * batch
        } else {
            (inputs + m * n) * 2.0 * batch
        }
    }

    /// Bytes the product kernel itself moves: FP8 inputs at 1 byte, the 16-bit
    /// output at 2 (the casts that made the inputs are their own kernels,
    /// [`Gpu::fp8_casts`]); 16-bit products as [`Gpu::operand_bytes`].
    fn kernel_bytes(&self, m: f64, n: f64, k: f64, batch: f64) -> f64 {
        if self.precision == Precision::Fp8 {
            (m * k + k * n + 2.0 * m * n) * batch
        } else {
            self.operand_bytes(m, n, k, batch)
        }
    }

    /// Seconds of the FP8 casts around a weight product `M×K · K×N` and its
    /// gradients, each its own memory-bound kernel before the product: forward,
    /// the input `M×K` and the weight `K×N`; backward, the output gradient `M×N`
    /// (0 for 16-bit products).
    ///
    /// # Formula
    /// `forward = pass((M·K + K·N) · 4 · batch)`, `backward = pass(M·N · 4 · batch)`:
    /// each cast reads 2 bytes and writes the FP8 copy and its FP8 transpose (the
    /// operand of the gradient product that needs it transposed), 1 byte each;
    /// a frozen weight has no weight gradient, so its input needs no transpose
    /// (3 bytes), but the weight still does for the input gradient
    ///
    /// # Source
    /// TransformerEngine `transformer_engine/pytorch/module/linear.py` (`_Linear`):
    /// the forward calls `fp8_cast_transpose_fused` on the input and, unless FP8
    /// weights are cached over micro-batches (`is_first_microbatch`), on the
    /// weight, then `fp8_gemm`; the backward casts and transposes the output
    /// gradient (`grad_output_preprocess`) before the dgrad and wgrad products.
    /// torchao's float8 linear casts both inputs and the output gradient the same way.
    ///
    /// # Assumptions / limits
    /// The weight is cast every micro-batch (TransformerEngine when the caller
    /// passes no `is_first_microbatch`); a framework that caches it
    /// over gradient accumulation (Megatron) casts it once per step, which this
    /// over-counts by `k·n` elements per extra micro-batch.
    pub fn fp8_casts(&self, m: f64, n: f64, k: f64, batch: f64, frozen: bool) -> (f64, f64) {
        if self.precision != Precision::Fp8 {
            return (0.0, 0.0);
        }
        let input = if frozen { 3.0 } else { 4.0 };
        (
            self.memory_pass((m * k * input + k * n * 4.0) * batch),
            self.memory_pass(m * n * 4.0 * batch),
        )
    }

    /// The same GPU running its products in 16 bits (a layer that FP8 training
    /// leaves in 16 bits: the LM head).
    pub fn at_16bit(&self) -> Self {
        match self.precision {
            Precision::Fp8 => Gpu {
                precision: Precision::Bf16,
                peak: self.acc.peak_flops.bf16.unwrap_or(self.peak),
                ..*self
            },
            _ => *self,
        }
    }

    /// Seconds for `batch` products of `M×K` by `K×N`, moving their operands once.
    ///
    /// # Formula
    /// `t = device.matmul(M, N, K, batch; bytes = operand bytes)`
    pub fn gemm(&self, m: f64, n: f64, k: f64, batch: f64) -> f64 {
        if m <= 0.0 || n <= 0.0 || k <= 0.0 || batch <= 0.0 {
            return 0.0;
        }
        let g = Gemm { m, n, k, batch };
        let bytes = self.operand_bytes(m, n, k, batch);
        self.device
            .matmul(&g, self.compute_precision(), bytes)
            .seconds()
    }

    /// Seconds of a forward product `M×K · K×N` and of its backward: the input
    /// gradient (`M×N · N×K`) and, unless the weight is frozen, the weight gradient
    /// (`K×M · M×N`), each priced from its own shape.
    ///
    /// # Formula
    /// the three share their FLOPs, so their size step: one compute time, divided by
    /// each shape's wave efficiency ([`device::Device::matmul_shaped`]); in FP8 each
    /// side adds its casts ([`Gpu::fp8_casts`]), which run before the products
    pub fn product(&self, m: f64, n: f64, k: f64, batch: f64, frozen: bool) -> (f64, f64) {
        if m <= 0.0 || n <= 0.0 || k <= 0.0 || batch <= 0.0 {
            return (0.0, 0.0);
        }
        let d = &self.device;
        let compute = d.matmul_compute(2.0 * m * n * k * batch, self.compute_precision());
        let time = |m: f64, n: f64, k: f64| {
            let g = Gemm { m, n, k, batch };
            d.matmul_shaped(&g, compute, self.kernel_bytes(m, n, k, batch))
                .seconds()
        };
        let forward = time(m, n, k);
        let input = time(m, k, n);
        let weight = if frozen { 0.0 } else { time(k, n, m) };
        let (cast_fwd, cast_bwd) = self.fp8_casts(m, n, k, batch, frozen);
        (forward + cast_fwd, input + weight + cast_bwd)
    }

    /// Seconds for a memory-bound pass moving `bytes`.
    pub fn memory_pass(&self, bytes: f64) -> f64 {
        self.device.memory_pass(bytes).seconds()
    }

    /// Seconds for a flash-attention kernel doing `flops` (causal work actually done).
    pub fn flash_attention(&self, flops: f64, head_dim: u64) -> f64 {
        self.device
            .attention(AttentionPass::Training, flops, head_dim, 0.0)
            .seconds()
    }

    /// The assumptions this GPU's timings rest on.
    pub fn assumptions(&self) -> Vec<Assumption> {
        let mut out = device::assumptions(self.acc);
        out.extend([
            Assumption::new(
                "backward products",
                "input and weight gradients priced from their own shapes",
                "the device model (device::Device::matmul)",
            ),
            Assumption::new(
                "sustained share of kernel rates",
                format!("{}", self.sustained()),
                "fitted by `sizeup validate` on the training-speed cases (sizeup_validation::calibration)",
            ),
            Assumption::new(
                "fixed cost per kernel",
                format!("{} µs", KERNEL_GAP_SECONDS * 1e6),
                "NVIDIA, Getting Started with CUDA Graphs (2019)",
            ),
            Assumption::new(
                "element-wise kernels",
                match self.kernels {
                    Kernels::Fused => format!(
                        "fused: {FUSED_ELEMENTWISE_PER_H}·h bytes per token-layer outside the MLP"
                    ),
                    Kernels::Eager => match self.residual {
                        Residual::Bits16 => "eager PyTorch, one kernel per operator, 16-bit parameters and residual stream".to_string(),
                        Residual::Autocast => format!(
                            "eager PyTorch, one kernel per operator, autocast over fp32 parameters: fp32 residual stream, a cast before each product, {} bytes of weight casts per parameter and micro-batch",
                            super::eager::AUTOCAST_WEIGHT_BYTES
                        ),
                    },
                },
                match self.kernels {
                    Kernels::Fused => "Korthikanti et al. 2022 Table 4",
                    Kernels::Eager => "counted from transformers' modeling code (LlamaRMSNorm, apply_rotary_pos_emb, LlamaMLP) and torch.autocast's cast rules (training::eager); autocast where the kernels are eager, fp32 master weights are kept and neither ZeRO nor FSDP shards the parameters, else 16-bit parameters",
                },
            ),
        ]);
        out
    }
}

/// A training run's library: `sustained` of every measured rate and of the
/// memory curve, [`KERNEL_GAP_SECONDS`] per kernel.
fn library(sustained: f64) -> Library {
    Library {
        fp16_accumulate: false,
        matmul_16bit: sustained,
        matmul_8bit: sustained,
        attention: sustained,
        memory: sustained,
        per_kernel_seconds: KERNEL_GAP_SECONDS,
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
    fn products_move_their_operands_and_run_at_the_sustained_rate() {
        let acc = a100_80();
        let d = Gpu::new(&acc, Precision::Bf16, Kernels::Fused).unwrap();
        // 8192³: 1.1 TFLOP, 4096 tiles in 38 waves of the A100's 108 SMs; compute-bound
        let n = 8192.0;
        let t = d.gemm(n, n, n, 1.0);
        let compute = 2.0 * n * n * n / (312e12 * 0.869 * SUSTAINED_FRACTION * (4096.0 / 4104.0));
        assert!((t - (compute + KERNEL_GAP_SECONDS)).abs() < 1e-12);
        // its backward: two products of the same size and shape class
        let (fwd, bwd) = d.product(n, n, n, 1.0, false);
        assert_eq!(fwd, t);
        assert!((bwd - 2.0 * t).abs() < 1e-12);
        // a frozen weight has no weight gradient
        assert_eq!(d.product(n, n, n, 1.0, true).1, t);
        // a skinny product (4 tokens) is bound by its weight traffic: 8192² · 2 bytes
        // at 0.9 of 2.039 TB/s (Calculon's ≥100 MB step) × the sustained share
        let skinny = d.gemm(4.0, n, n, 1.0);
        let bytes = (4.0 * n * 2.0 + n * n) * 2.0;
        let want = bytes / (2.039e12 * 0.9 * SUSTAINED_FRACTION) + KERNEL_GAP_SECONDS;
        assert!((skinny - want).abs() < 1e-12);
    }

    #[test]
    fn fp8_products_add_their_casts_as_memory_passes() {
        let acc = hardware::find("H100-SXM").unwrap().clone();
        let d = Gpu::new(&acc, Precision::Fp8, Kernels::Fused).unwrap();
        let (m, n, k) = (8192.0, 4096.0, 4096.0);
        // TransformerEngine's fp8_cast_transpose_fused: 2 bytes read, the FP8 copy and
        // its transpose written, per element of the input (m·k) and the weight (k·n)
        // before the forward, of the output gradient (m·n) before the backward
        let (cast_fwd, cast_bwd) = d.fp8_casts(m, n, k, 1.0, false);
        assert_eq!(cast_fwd, d.memory_pass((m * k + k * n) * 4.0));
        assert_eq!(cast_bwd, d.memory_pass(m * n * 4.0));
        // a frozen weight's input needs no transpose: 3 bytes
        assert_eq!(
            d.fp8_casts(m, n, k, 1.0, true).0,
            d.memory_pass(m * k * 3.0 + k * n * 4.0)
        );
        // the product kernel moves FP8 inputs (1 byte) and a 16-bit output
        let compute = d
            .device
            .matmul_compute(2.0 * m * n * k, ComputePrecision::Fp8);
        let gemm = |m: f64, n: f64, k: f64| {
            d.device
                .matmul_shaped(
                    &Gemm {
                        m,
                        n,
                        k,
                        batch: 1.0,
                    },
                    compute,
                    m * k + k * n + 2.0 * m * n,
                )
                .seconds()
        };
        let (fwd, bwd) = d.product(m, n, k, 1.0, false);
        assert_eq!(fwd, gemm(m, n, k) + cast_fwd);
        assert_eq!(bwd, gemm(m, k, n) + gemm(k, n, m) + cast_bwd);
        // 16-bit products have no casts; the 16-bit view of an FP8 GPU runs at the BF16 peak
        let h = d.at_16bit();
        assert_eq!((h.precision, h.peak), (Precision::Bf16, 989.4e12));
        assert_eq!(h.fp8_casts(m, n, k, 1.0, false), (0.0, 0.0));
    }

    #[test]
    fn fp8_needs_an_fp8_peak() {
        let acc = a100_80();
        assert!(matches!(
            Gpu::new(&acc, Precision::Fp8, Kernels::Fused),
            Err(CoreError::Invalid {
                field: "precision",
                ..
            })
        ));
    }
}
