//! The logits and the cross-entropy loss: how each loss implementation holds
//! them on the stage that computes the loss, and the memory traffic it makes.

use serde::{Deserialize, Serialize};

use crate::arch::Architecture;
use crate::error::{CoreError, Result};
use crate::training::activations::ActivationConfig;
use crate::training::kernels::Kernels;
use crate::units::product;

const Q: &str = "logits bytes";

/// How the output layer's logits and the cross-entropy loss are computed and held.
///
/// The logits peak comes at the end of the forward pass and the start of the
/// backward pass: the loss's gradient is the first thing the backward computes, and
/// every stored activation (the last layer's included) is still alive then. The
/// logits bytes therefore add to the stored activations, not overlap them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// Hugging Face transformers' `ForCausalLMLoss`: the 16-bit logits upcast to fp32,
    /// then `torch.nn.functional.cross_entropy` (a `log_softmax` whose fp32 output is
    /// saved, then `nll_loss`). [`EAGER_LOSS_FP32_BYTES`] per logit at the peak besides the logits.
    Eager,
    /// A fused fp32 softmax cross-entropy that overwrites its input and writes the
    /// gradient in place (Megatron's vocab-parallel cross-entropy, Korthikanti et al.
    /// §4.1's `4·s·b·v`). [`FUSED_LOSS_FP32_BYTES`] per logit besides the logits.
    Fused,
    /// The output projection and the loss run over the tokens in `N` chunks, each
    /// chunk's logits, fp32 softmax and gradient made and freed before the next
    /// (Liger's fused linear cross-entropy, torchtune's `LinearCrossEntropyLoss`):
    /// [`FUSED_LOSS_FP32_BYTES`] besides the logits, per logit of one chunk, `⌈n·b/N⌉` tokens. torchtune's
    /// older `CEWithChunkedOutputLoss` chunks only the upcast and the loss, so its
    /// whole 16-bit output (2 bytes per logit) stays besides: not this mode.
    Chunked(u64),
}

/// `eager`, `fused` or `chunked:N`, as `--loss` reads it.
impl std::fmt::Display for Loss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Loss::Eager => f.write_str("eager"),
            Loss::Fused => f.write_str("fused"),
            Loss::Chunked(n) => write!(f, "chunked:{n}"),
        }
    }
}

/// Bytes per logit at the peak of an eager loss besides the logits themselves: the
/// fp32 log-probabilities `log_softmax` saves, and in the backward the gradient
/// `nll_loss` writes into them and `log_softmax`'s input gradient, both fp32:
/// `4 + 4 + 4`. With the 16-bit logits the output GEMM writes (the caller's output
/// holds them through the backward) that is 14 bytes per logit. The fp32 upcast
/// itself (4 bytes) is freed once `log_softmax` has run, since neither the cast nor
/// `log_softmax` saves its input; logits already in fp32 (an upcast head) take 4
/// bytes instead of 2: 16.
///
/// # Source
/// huggingface/transformers `src/transformers/loss/loss_utils.py` (`ForCausalLMLoss`:
/// `logits = logits.float()`, labels shifted by padding, `fixed_cross_entropy` →
/// `nn.functional.cross_entropy`); PyTorch's `cross_entropy` = `log_softmax` +
/// `nll_loss` with `log_softmax_backward_data(grad, output)`. Transformers before
/// the loss refactor (e.g. 4.40 `LlamaForCausalLM`) also kept the fp32 logits as
/// the output and made a contiguous shifted copy: about 2 bytes more.
pub const EAGER_LOSS_FP32_BYTES: u64 = 12;

/// Bytes per logit of a fused, in-place fp32 cross-entropy besides the logits the
/// output GEMM writes: the fp32 softmax that becomes its own gradient (with 16-bit
/// logits, 6 bytes per logit).
///
/// # Source
/// Korthikanti et al. 2022 §4.1 ("the cross entropy loss requires storing the
/// logits, which are calculated in 32-bit floating point": `4·s·b·v`), plus the
/// 16-bit logits the output GEMM writes before the cast; NVIDIA/Megatron-LM
/// `megatron/core/tensor_parallel/cross_entropy.py` (`exp_logits` computed in place
/// and saved; the backward subtracts the one-hot target from it in place).
pub const FUSED_LOSS_FP32_BYTES: u64 = 4;

/// Bytes of memory traffic per logit of a fused loss, forward and backward: the
/// fp32 cast, the softmax's reads and write, the gradient's write and read.
///
/// # Source
/// Counted from a vocabulary-parallel cross entropy (Megatron `vocab_parallel_cross_entropy`):
/// read 2 + write 4, read 4 + write 4, read 4 + write 2, read 2 + … ≈ 24 bytes.
pub const FUSED_LOSS_TRAFFIC_BYTES: f64 = 24.0;

/// Bytes of memory traffic per logit of the eager loss, forward and backward:
/// `logits.float()` (2 + 4), `log_softmax` (4 + 4), `nll_loss`'s backward writing
/// its gradient (4), `log_softmax_backward` (4 + 4 + 4), the cast's backward (4 + 2).
///
/// # Source
/// Counted from transformers `ForCausalLMLoss` and PyTorch's `cross_entropy`
/// (`log_softmax` + `nll_loss`, `log_softmax_backward_data(grad, output)`).
pub const EAGER_LOSS_TRAFFIC_BYTES: f64 = 36.0;

/// The chunk count of `chunked` when none is given.
///
/// # Source
/// pytorch/torchtune `torchtune/modules/loss` (`num_output_chunks: int = 8` in
/// `CEWithChunkedOutputLoss` and `LinearCrossEntropyLoss`). Liger's fused linear
/// cross-entropy (linkedin/Liger-Kernel `ops/fused_linear_cross_entropy.py`) picks
/// about `⌈V/h⌉` chunks (`chunk_size = next_power_of_2(⌈B·T/⌈V/H⌉⌉)`): `chunked:32`
/// for a 128k vocabulary at `h = 4096`.
pub const DEFAULT_LOSS_CHUNKS: u64 = 8;

impl Loss {
    /// The loss a kernel setting implies when none is asked for: eager kernels run
    /// transformers' eager loss, fused kernels a fused cross-entropy.
    pub fn default_for(kernels: Kernels) -> Loss {
        match kernels {
            Kernels::Eager => Loss::Eager,
            Kernels::Fused => Loss::Fused,
        }
    }

    /// The name used on the command line (`eager`, `fused`, `chunked:N`).
    pub fn name(self) -> String {
        match self {
            Loss::Eager => "eager".into(),
            Loss::Fused => "fused".into(),
            Loss::Chunked(n) => format!("chunked:{n}"),
        }
    }

    /// Bytes per logit at the loss's peak when the output layer writes
    /// `logit_bytes`-byte logits (2 for 16-bit, 4 for fp32).
    ///
    /// # Formula
    /// ```text
    /// eager: logit_bytes + 12        fused, chunked: logit_bytes + 4
    /// ```
    pub fn bytes_per_logit(self, logit_bytes: u64) -> u64 {
        logit_bytes
            + match self {
                Loss::Eager => EAGER_LOSS_FP32_BYTES,
                Loss::Fused | Loss::Chunked(_) => FUSED_LOSS_FP32_BYTES,
            }
    }

    /// Bytes of memory traffic per logit, forward and backward
    /// ([`EAGER_LOSS_TRAFFIC_BYTES`], else [`FUSED_LOSS_TRAFFIC_BYTES`]).
    pub fn traffic_bytes(self) -> f64 {
        match self {
            Loss::Eager => EAGER_LOSS_TRAFFIC_BYTES,
            Loss::Fused | Loss::Chunked(_) => FUSED_LOSS_TRAFFIC_BYTES,
        }
    }

    /// What the loss holds, in words, with its source, for `logit_bytes`-byte logits.
    pub fn describe(self, logit_bytes: u64) -> (String, &'static str) {
        let logits = if logit_bytes == 4 { "fp32" } else { "16-bit" };
        let per = self.bytes_per_logit(logit_bytes);
        let moved = self.traffic_bytes();
        match self {
            Loss::Eager => (
                format!("eager: {logits} logits, fp32 log-probabilities and two fp32 gradients ({per} bytes per logit), added to the stored activations; {moved} bytes of traffic per logit, forward and backward"),
                "transformers ForCausalLMLoss (logits.float() + cross_entropy)",
            ),
            Loss::Fused => (
                format!("fused: {logits} logits and an in-place fp32 softmax ({per} bytes per logit), added to the stored activations; {moved} bytes of traffic per logit, forward and backward"),
                "Korthikanti et al. 2022 §4.1; Megatron-LM vocab-parallel cross-entropy",
            ),
            Loss::Chunked(n) => (
                format!("chunked over {n} token chunks: {per} bytes per logit of one chunk, added to the stored activations; {moved} bytes of traffic per logit, forward and backward"),
                "Liger fused linear cross-entropy; torchtune LinearCrossEntropyLoss",
            ),
        }
    }
}

impl std::str::FromStr for Loss {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self> {
        let norm = s.trim().to_ascii_lowercase();
        let unknown = || CoreError::Unknown {
            what: "loss implementation",
            name: s.to_string(),
            suggestions: vec!["eager".into(), "fused".into(), "chunked:N".into()],
        };
        match norm.split_once(':') {
            None if norm == "eager" => Ok(Loss::Eager),
            None if norm == "fused" => Ok(Loss::Fused),
            None if norm == "chunked" => Ok(Loss::Chunked(DEFAULT_LOSS_CHUNKS)),
            Some(("chunked", n)) => match n.trim().parse::<u64>() {
                Ok(0) => Err(CoreError::Zero {
                    field: "loss chunks",
                }),
                Ok(n) => Ok(Loss::Chunked(n)),
                Err(_) => Err(unknown()),
            },
            _ => Err(unknown()),
        }
    }
}

/// Logits and loss buffers of the last stage for one micro-batch, at their peak.
///
/// # Formula
/// ```text
/// eager:      (s/cp) · b · ⌈V/t⌉ · (w + 12)
/// fused:      (s/cp) · b · ⌈V/t⌉ · (w + 4)
/// chunked:N:  ⌈(s/cp) · b / N⌉ · ⌈V/t⌉ · (w + 4)
/// ```
/// with `w` the logits' element bytes (2, or 4 for an fp32 head).
///
/// # Source
/// [`EAGER_LOSS_FP32_BYTES`], [`FUSED_LOSS_FP32_BYTES`], [`DEFAULT_LOSS_CHUNKS`].
///
/// # Errors
/// `N = 0`, or a product past 64 bits.
pub fn logits_bytes(arch: &Architecture, cfg: &ActivationConfig, loss: Loss) -> Result<u64> {
    let tokens = product(Q, &[cfg.seq_len / cfg.cp.max(1), cfg.micro_batch])?;
    let vocab = arch.vocab_size.div_ceil(cfg.tp.max(1));
    let per = loss.bytes_per_logit(cfg.element_bytes);
    match loss {
        Loss::Eager | Loss::Fused => product(Q, &[tokens, vocab, per]),
        Loss::Chunked(0) => Err(CoreError::Zero {
            field: "loss chunks",
        }),
        Loss::Chunked(n) => product(Q, &[tokens.div_ceil(n), vocab, per]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::activations::Recompute;

    fn llama31_8b_at(seq_len: u64, micro_batch: u64, tp: u64) -> (Architecture, ActivationConfig) {
        // Llama-3.1-8B config.json: 32 layers, h 4096, 32 heads, 8 KV heads, f 14336, V 128256
        let arch = crate::testing::llama31_8b();
        let cfg = ActivationConfig {
            seq_len,
            micro_batch,
            tp,
            cp: 1,
            sequence_parallel: false,
            recompute: Recompute::None,
            flash_attention: true,
            dropout: false,
            element_bytes: 2,
            eager: None,
        };
        (arch, cfg)
    }

    #[test]
    fn llama31_8b_logits_at_8192_tokens_per_loss() {
        let (arch, cfg) = llama31_8b_at(8192, 1, 1);
        let at = |loss| logits_bytes(&arch, &cfg, loss).unwrap();
        // 8192 tokens · 128256 logits = 1,050,673,152 logits
        assert_eq!(at(Loss::Eager), 14_709_424_128); // · 14 bytes: 13.7 GiB
        assert_eq!(at(Loss::Fused), 6_304_038_912); // · 6 bytes: 5.87 GiB
        assert_eq!(at(Loss::Chunked(8)), 788_004_864); // 1024 tokens · 128256 · 6
        assert_eq!(at(Loss::Chunked(32)), 197_001_216); // 256 tokens · 128256 · 6
                                                        // fp32 logits (an upcast head): 2 bytes more per logit
        let wide = ActivationConfig {
            element_bytes: 4,
            ..cfg
        };
        let at = |loss| logits_bytes(&arch, &wide, loss).unwrap();
        assert_eq!(at(Loss::Eager), 16 * 1_050_673_152);
        assert_eq!(at(Loss::Fused), 8 * 1_050_673_152);
        assert_eq!(
            "chunked".parse::<Loss>().unwrap(),
            Loss::Chunked(DEFAULT_LOSS_CHUNKS)
        );
    }

    #[test]
    fn chunked_holds_no_more_than_fused_and_fused_no_more_than_eager() {
        for (seq, b, tp) in [
            (1, 1, 1),
            (7, 3, 1),
            (2048, 8, 1),
            (8192, 1, 8),
            (131072, 2, 4),
        ] {
            let (arch, cfg) = llama31_8b_at(seq, b, tp);
            let at = |loss| logits_bytes(&arch, &cfg, loss).unwrap();
            for n in [1, 2, 3, 8, 32, 1000, 1 << 20] {
                assert!(
                    at(Loss::Chunked(n)) <= at(Loss::Fused),
                    "{seq}·{b}, chunked:{n}"
                );
            }
            assert_eq!(at(Loss::Chunked(1)), at(Loss::Fused));
            assert!(at(Loss::Fused) <= at(Loss::Eager));
        }
    }

    #[test]
    fn loss_names_read_back_and_zero_chunks_are_refused() {
        for loss in [Loss::Eager, Loss::Fused, Loss::Chunked(16)] {
            assert_eq!(loss.name().parse::<Loss>().unwrap(), loss);
        }
        assert!("chunked:0".parse::<Loss>().is_err());
        assert!("softmax".parse::<Loss>().is_err());
        let (arch, cfg) = llama31_8b_at(8, 1, 1);
        assert!(logits_bytes(&arch, &cfg, Loss::Chunked(0)).is_err());
        assert_eq!(Loss::default_for(Kernels::Eager), Loss::Eager);
        assert_eq!(Loss::default_for(Kernels::Fused), Loss::Fused);
    }
}
