//! The device model: what one operation of the operator list costs on one accelerator.
//!
//! One function family prices every operation, for serving and training alike:
//! a matrix product from its shape `m×k · k×n` and precision ([`Device::matmul`]),
//! an attention kernel ([`Device::attention`]), a memory-bound pass
//! ([`Device::memory_pass`]) and, in [`collective`], a collective over a group of
//! ranks. Each operation is a roofline: the larger of its arithmetic time and its
//! memory time, plus a fixed cost per kernel.
//!
//! The accelerator's figures are data: datasheet peaks, bandwidth and
//! multiprocessor count, and the measured kernel rates of its catalog row
//! ([`crate::hardware::KernelRates`]: the best matmul and flash-attention shares
//! of peak), read from the row itself, so a `--gpu-file` card is priced by its
//! own rows; a row without measurements gets the stated defaults
//! ([`DEFAULT_MATMUL`], [`DEFAULT_ATTENTION`]). What the software reaches of those rates (a serving
//! engine's kernels, a training run's sustained share) is the caller's
//! [`Library`].

pub mod collective;

use serde::Serialize;

use crate::assumption::Assumption;
use crate::dtype::ComputePrecision;
use crate::efficiency::{matmul_at, matmul_top, memory_at};
use crate::hardware::{Accelerator, KernelRates};

/// Matmul share of peak for accelerators without a measurement (the median of
/// Bekman's MAMF table).
pub const DEFAULT_MATMUL: f64 = 0.8;
/// Flash-attention share of the 16-bit peak for accelerators without a measurement.
pub const DEFAULT_ATTENTION: f64 = 0.5;

/// The source of the default rates.
const NO_MEASUREMENT: &str = "no measurement for this accelerator: the median of the MAMF table (0.8) and half of peak for attention";

/// Peak the Calculon curve's thresholds were written for (A100 BF16 dense), so a
/// product is judged by its ideal duration, not its FLOPs: a 16 GFLOP product is
/// "large" on an A100 but takes a third of the time on an H100.
///
/// # Source
/// NVIDIA A100 datasheet (2021): 312 TFLOP/s BF16 dense; Calculon's A100 system files.
pub const CURVE_REFERENCE_PEAK: f64 = 312e12;

/// Output tile of one thread block of a tensor-core GEMM (rows × columns): a
/// product of `m×n` outputs runs `⌈m/128⌉·⌈n/128⌉` tiles in waves of one tile per
/// multiprocessor.
///
/// # Source
/// CUTLASS's default tensor-core threadblock shape 128×128 (Ampere and Hopper
/// `GemmShape<128, 128, 32/64>`); NVIDIA, "Matrix Multiplication Background User's
/// Guide" (Deep Learning Performance docs), section "Wave Quantization".
pub const GEMM_TILE: f64 = 128.0;

/// Flash attention on head dimensions of 64 or less reaches this share of its
/// head-dim-128 rate.
///
/// # Source
/// Dao 2023 (FlashAttention-2, arXiv:2307.08691) Fig. 4: A100 forward+backward,
/// head dim 64 vs 128 at sequence 2k–8k (≈ 150–170 vs 190–225 TFLOP/s).
pub const SMALL_HEAD_ATTENTION: f64 = 0.8;

/// The measured rates of `acc`: its catalog row's `kernel_rates`, else the stated defaults.
pub fn rates(acc: &Accelerator) -> &KernelRates {
    static DEFAULT: std::sync::OnceLock<KernelRates> = std::sync::OnceLock::new();
    acc.kernel_rates.as_ref().unwrap_or_else(|| {
        DEFAULT.get_or_init(|| KernelRates {
            matmul_bf16: DEFAULT_MATMUL,
            matmul_fp8: DEFAULT_MATMUL,
            attention: DEFAULT_ATTENTION,
            attention_forward: None,
            source: NO_MEASUREMENT.into(),
        })
    })
}

/// What the device model assumes about `acc`: its measured rates (with the row's
/// source), the size curves and wave quantization over the row's multiprocessors.
pub fn assumptions(acc: &Accelerator) -> Vec<Assumption> {
    let r = rates(acc);
    let forward = r
        .attention_forward
        .map_or(String::new(), |f| format!(", forward alone {f:.2}"));
    vec![
        Assumption::new(
            "measured kernel rates (shares of datasheet peak)",
            format!(
                "matmul {:.3} bf16, {:.3} fp8; flash attention {:.2} forward + backward{forward}",
                r.matmul_bf16, r.matmul_fp8, r.attention
            ),
            r.source.clone(),
        ),
        Assumption::new(
            "operation shape",
            match acc.sm_count {
                Some(sms) => format!("Calculon size steps (products ≥128/16/1 GFLOP at an A100's peak → 0.95/0.9/0.6, else 0.3; passes ≥100/10/1 MB → 0.9/0.75/0.6, else 0.3); {GEMM_TILE}×{GEMM_TILE} tiles in waves over {sms} SMs"),
                None => "Calculon size steps (products ≥128/16/1 GFLOP at an A100's peak → 0.95/0.9/0.6, else 0.3; passes ≥100/10/1 MB → 0.9/0.75/0.6, else 0.3); no SM count: no wave quantization".into(),
            },
            "Isaev et al. 2023 (Calculon) system files; NVIDIA GEMM performance guide (wave quantization); DESIGN.md",
        ),
    ]
}

/// Peak FLOP/s of `acc` in `precision`, falling back to 16 bits (and 16 to FP32)
/// where the chip has no such path.
pub fn peak_flops(acc: &Accelerator, precision: ComputePrecision) -> f64 {
    let p = &acc.peak_flops;
    let sixteen = p.bf16.or(p.fp32).unwrap_or(0.0);
    match precision {
        ComputePrecision::Fp32 => p.fp32.unwrap_or(sixteen),
        ComputePrecision::Bf16 => sixteen,
        ComputePrecision::Fp8 => p.fp8.unwrap_or(sixteen),
        ComputePrecision::Int8 => p.int8.unwrap_or(sixteen),
    }
}

/// Whether `precision` runs on an 8-bit path of `acc` (and so at its 8-bit rates).
pub fn runs_8bit(acc: &Accelerator, precision: ComputePrecision) -> bool {
    match precision {
        ComputePrecision::Fp8 => acc.peak_flops.fp8.is_some(),
        ComputePrecision::Int8 => acc.peak_flops.int8.is_some(),
        _ => false,
    }
}

/// Which passes of attention a kernel runs: their measured rates differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttentionPass {
    /// The forward pass alone (serving): the row's `attention_forward`, else `attention`.
    Forward,
    /// Forward and backward (training): the row's `attention`.
    Training,
}

/// What the software's kernels reach of the device's rates, and what each kernel
/// costs besides its work.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Library {
    /// Share of the measured 16-bit (and FP32) matmul rate.
    pub matmul_16bit: f64,
    /// Share of the measured 8-bit matmul rate.
    pub matmul_8bit: f64,
    /// Share of the measured flash-attention rate.
    pub attention: f64,
    /// Share of the memory curve's bandwidth.
    pub memory: f64,
    /// Fixed seconds each kernel adds (launch, the gap before the next kernel).
    pub per_kernel_seconds: f64,
    /// 16-bit products accumulate in FP16: priced at the row's
    /// `fp16_fp16_accumulate` peak where it has one.
    pub fp16_accumulate: bool,
}

/// The time of one operation and where it goes.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct OpTime {
    /// Arithmetic time at the achieved rate, seconds.
    pub compute_seconds: f64,
    /// Memory traffic time at the achieved bandwidth, seconds.
    pub memory_seconds: f64,
    /// Fixed per-kernel cost, seconds.
    pub fixed_seconds: f64,
}

impl OpTime {
    /// Wall seconds: `max(compute, memory) + fixed`.
    pub fn seconds(&self) -> f64 {
        self.compute_seconds.max(self.memory_seconds) + self.fixed_seconds
    }

    /// Whether arithmetic (not memory) bounds the operation.
    pub fn compute_bound(&self) -> bool {
        self.compute_seconds >= self.memory_seconds
    }
}

/// The shape of a (batched) matrix product: `batch` products of `m×k · k×n`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gemm {
    /// Rows of the output (tokens).
    pub m: f64,
    /// Columns of the output (output features).
    pub n: f64,
    /// The reduced dimension (input features).
    pub k: f64,
    /// Independent products of this shape (experts, heads).
    pub batch: f64,
}

impl Gemm {
    /// FLOPs: `2·m·n·k·batch`.
    pub fn flops(&self) -> f64 {
        2.0 * self.m * self.n * self.k * self.batch
    }
}

/// One accelerator running one library's kernels.
#[derive(Debug, Clone, Copy)]
pub struct Device<'a> {
    /// The accelerator.
    pub acc: &'a Accelerator,
    /// Its measured rates (row or defaults).
    pub rates: &'a KernelRates,
    /// The software's share of them.
    pub library: Library,
}

impl<'a> Device<'a> {
    /// `acc` running `library`'s kernels.
    pub fn new(acc: &'a Accelerator, library: Library) -> Device<'a> {
        Device {
            acc,
            rates: rates(acc),
            library,
        }
    }

    /// The measured matmul share of peak and the library's share of it for `precision`.
    fn matmul_rate(&self, precision: ComputePrecision) -> f64 {
        if runs_8bit(self.acc, precision) {
            self.rates.matmul_fp8 * self.library.matmul_8bit
        } else {
            self.rates.matmul_bf16 * self.library.matmul_16bit
        }
    }

    /// Share of the multiprocessors the waves of a product's tiles keep busy (1
    /// where the row states no multiprocessor count, [`Accelerator::sm_count`]).
    ///
    /// # Formula
    /// ```text
    /// tiles = ⌈m/128⌉·⌈n/128⌉·batch
    /// share = tiles / (⌈tiles / SMs⌉·SMs)   when tiles > SMs, else 1
    /// ```
    ///
    /// # Assumptions / limits
    /// A product with fewer tiles than multiprocessors is split along `k` (split-K,
    /// stream-K) or run with smaller tiles, which fill the machine; its smallness is
    /// left to the size curve.
    ///
    /// # Source
    /// NVIDIA "Matrix Multiplication Background User's Guide" (wave quantization);
    /// Osama et al. 2023 (Stream-K, arXiv:2301.03598) for the small-product path.
    pub fn wave_efficiency(&self, g: &Gemm) -> f64 {
        let Some(sms) = self.acc.sm_count.filter(|&s| s > 0) else {
            return 1.0;
        };
        let sms = sms as f64;
        let tiles = (g.m / GEMM_TILE).ceil().max(1.0)
            * (g.n / GEMM_TILE).ceil().max(1.0)
            * g.batch.ceil().max(1.0);
        if tiles <= sms {
            return 1.0;
        }
        tiles / ((tiles / sms).ceil() * sms)
    }

    /// Time of a matrix product of shape `g` in `precision` that moves `bytes`.
    ///
    /// # Formula
    /// ```text
    /// compute = F / (P_p · r_p · l_p · c(F · 312T/P_p)/0.95 · w(m, n))
    /// memory  = bytes / (BW · m(bytes) · l_m)
    /// time    = max(compute, memory) + per-kernel cost
    /// ```
    ///
    /// # Symbols
    /// `F = 2·m·n·k·batch`, `P_p` the datasheet peak of the precision, `r_p` the row's
    /// measured matmul share (MAMF), `l` the library's shares, `c` Calculon's matmul
    /// curve judged by the product's ideal duration (its FLOPs at an A100's peak),
    /// `w` the wave efficiency ([`Device::wave_efficiency`]), `m` Calculon's memory curve.
    ///
    /// # Source
    /// Bekman, ml-engineering "Maximum Achievable Matmul FLOPS" (the rates);
    /// Isaev et al. 2023 (Calculon) for the size curves; NVIDIA's GEMM performance
    /// guide for wave quantization.
    pub fn matmul(&self, g: &Gemm, precision: ComputePrecision, bytes: f64) -> OpTime {
        let flops = g.flops();
        if flops <= 0.0 && bytes <= 0.0 {
            return OpTime::default();
        }
        self.matmul_shaped(g, self.matmul_compute(flops, precision), bytes)
    }

    /// [`Device::matmul`] of shape `g` given its compute seconds before wave
    /// quantization ([`Device::matmul_compute`]): products of equal FLOPs (a forward
    /// product and its two gradients) share it, and only their waves differ.
    pub fn matmul_shaped(&self, g: &Gemm, compute_seconds: f64, bytes: f64) -> OpTime {
        OpTime {
            compute_seconds: compute_seconds / self.wave_efficiency(g),
            memory_seconds: self.memory_seconds(bytes),
            fixed_seconds: self.library.per_kernel_seconds,
        }
    }

    /// Compute seconds of a product of `flops` in `precision`, before wave quantization.
    ///
    /// # Formula
    /// `F / (P_p · r_p · l_p · c(F · 312T/P_p)/0.95)` (0 for no FLOPs); `P_p` the
    /// FP16-accumulate peak for a 16-bit product of a library that accumulates in
    /// FP16, on a row that lists one
    pub fn matmul_compute(&self, flops: f64, precision: ComputePrecision) -> f64 {
        if flops <= 0.0 {
            return 0.0;
        }
        let fp16_accumulate = match precision {
            ComputePrecision::Bf16 if self.library.fp16_accumulate => {
                self.acc.peak_flops.fp16_fp16_accumulate
            }
            _ => None,
        };
        let peak = fp16_accumulate.unwrap_or_else(|| peak_flops(self.acc, precision));
        let size = matmul_at(flops * CURVE_REFERENCE_PEAK / peak) / matmul_top();
        flops / (peak * self.matmul_rate(precision) * size)
    }

    /// Time of an attention kernel of `pass` doing `flops` (the causal work actually
    /// done) with heads of `head_dim` and moving `bytes`.
    ///
    /// # Formula
    /// `max(F / (P₁₆ · r_att · l_att · (0.8 if d ≤ 64)), bytes / (BW · m(bytes) · l_m)) + per-kernel cost`
    /// with `r_att` the row's forward rate for [`AttentionPass::Forward`], its
    /// forward + backward rate for [`AttentionPass::Training`]
    ///
    /// # Source
    /// Dao 2023 (FlashAttention-2) and Shah et al. 2024 (FlashAttention-3) for the
    /// measured rates (each row cites its own); Dao 2023 Fig. 4 for small heads.
    pub fn attention(&self, pass: AttentionPass, flops: f64, head_dim: u64, bytes: f64) -> OpTime {
        if flops <= 0.0 && bytes <= 0.0 {
            return OpTime::default();
        }
        let small = if head_dim <= 64 {
            SMALL_HEAD_ATTENTION
        } else {
            1.0
        };
        let peak = peak_flops(self.acc, ComputePrecision::Bf16);
        let rate = match pass {
            AttentionPass::Forward => self.rates.attention_forward.unwrap_or(self.rates.attention),
            AttentionPass::Training => self.rates.attention,
        };
        OpTime {
            compute_seconds: flops / (peak * rate * self.library.attention * small),
            memory_seconds: self.memory_seconds(bytes),
            fixed_seconds: self.library.per_kernel_seconds,
        }
    }

    /// Time of a memory-bound pass moving `bytes` (norms, activations, residuals, the loss).
    ///
    /// # Formula
    /// `bytes / (BW · m(bytes) · l_m) + per-kernel cost`
    pub fn memory_pass(&self, bytes: f64) -> OpTime {
        if bytes <= 0.0 {
            return OpTime::default();
        }
        OpTime {
            compute_seconds: 0.0,
            memory_seconds: self.memory_seconds(bytes),
            fixed_seconds: self.library.per_kernel_seconds,
        }
    }

    fn memory_seconds(&self, bytes: f64) -> f64 {
        if bytes <= 0.0 {
            return 0.0;
        }
        bytes / (self.acc.memory_bandwidth_bytes_per_sec * memory_at(bytes) * self.library.memory)
    }
}

#[cfg(test)]
mod tests;
