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
    /// Megatron-DeepSpeed's `GPTModelPipe` on DeepSpeed's pipeline engine: the fused
    /// in-place loss of [`Loss::Fused`] on the fp32 logits the model's last layer
    /// returns, which the engine keeps in its pipe buffer after the backward until
    /// the buffer's next forward replaces them: besides the fused loss's bytes, the
    /// fp32 logits of the last `min(2, m)` micro-batches, alive through every
    /// forward, backward and optimizer step ([`DEEPSPEED_PIPE_BUFFERS_LAST_STAGE`]).
    #[serde(rename = "deepspeed-pipeline")]
    DeepspeedPipeline,
}

/// `eager`, `fused`, `chunked:N` or `deepspeed-pipeline`, as `--loss` reads it.
impl std::fmt::Display for Loss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
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

/// Pipe buffers DeepSpeed's pipeline engine gives the last stage (and a single
/// stage), each keeping the output of the micro-batch that last ran forward in it.
///
/// With Megatron-DeepSpeed that output is the fp32 logits: `GPTModelPipe` ends
/// with `float16_to_fp32`, and its loss (`CrossEntropy`:
/// `vocab_parallel_cross_entropy(output.contiguous().float(), labels)`, a no-op
/// cast of an fp32 tensor) overwrites them in place with the softmax and then its
/// gradient. The engine's `_exec_backward_pass` returns on the last stage right
/// after `backward(self.loss)`, before the lines that clear
/// `pipe_buffers['outputs'][buffer_id]` on the other stages, and nothing else
/// clears them between steps: micro-batch `k` runs in buffer `k mod 2`, so at each
/// forward the outputs of the last `min(2, m)` micro-batches are alive (the one
/// the new output replaces goes only when the forward returns), and through each
/// backward and the optimizer step `min(2, m)` of them.
///
/// # Source
/// microsoft/DeepSpeed `deepspeed/runtime/pipe/schedule.py`,
/// `TrainSchedule.num_pipe_buffers() = max(2, min(stages − stage_id + 1,
/// micro_batches))`, 2 for `stage_id = stages − 1`; `deepspeed/runtime/pipe/engine.py`
/// `_exec_forward_pass` (`self.pipe_buffers['outputs'][buffer_id] = outputs`, then
/// the loss) and `_exec_backward_pass` (the last stage's early `return`), alike
/// from v0.5.0 (2021-08) to v0.12.0 (2023-11); bigscience-workshop/Megatron-DeepSpeed
/// `megatron/model/gpt_model.py` (`GPTModelPipe`: `float16_to_fp32` after the tied
/// head when `--fp16` or `--bf16`; `CrossEntropy`) and `megatron/mpu/cross_entropy.py`
/// (`sub_`, `torch.exp(..., out=exp_logits)`, `div_`, saved; `mul_` in the
/// backward), alike in 2021-08 and 2022-02.
pub const DEEPSPEED_PIPE_BUFFERS_LAST_STAGE: u64 = 2;

impl Loss {
    /// The loss a kernel setting implies when none is asked for: eager kernels run
    /// transformers' eager loss, fused kernels a fused cross-entropy.
    pub fn default_for(kernels: Kernels) -> Loss {
        match kernels {
            Kernels::Eager => Loss::Eager,
            Kernels::Fused => Loss::Fused,
        }
    }

    /// The name used on the command line (`eager`, `fused`, `chunked:N`,
    /// `deepspeed-pipeline`).
    pub fn name(self) -> String {
        match self {
            Loss::Eager => "eager".into(),
            Loss::Fused => "fused".into(),
            Loss::Chunked(n) => format!("chunked:{n}"),
            Loss::DeepspeedPipeline => "deepspeed-pipeline".into(),
        }
    }

    /// Bytes per logit of one micro-batch at the loss's peak when the output layer
    /// writes `logit_bytes`-byte logits (2 for 16-bit, 4 for fp32) and a step runs
    /// `micro_batches` micro-batches `m`.
    ///
    /// # Formula
    /// ```text
    /// eager: w + 12    fused, chunked: w + 4    deepspeed-pipeline: w + 4 + 4·min(2, m)
    /// ```
    pub fn bytes_per_logit(self, logit_bytes: u64, micro_batches: u64) -> u64 {
        logit_bytes
            + match self {
                Loss::Eager => EAGER_LOSS_FP32_BYTES,
                Loss::Fused | Loss::Chunked(_) => FUSED_LOSS_FP32_BYTES,
                Loss::DeepspeedPipeline => {
                    FUSED_LOSS_FP32_BYTES + self.kept_bytes_per_logit(micro_batches)
                }
            }
    }

    /// Bytes per logit of one micro-batch that stay alive after the loss's backward
    /// (beside the recomputed layers, and through the optimizer step): the fp32
    /// outputs DeepSpeed's pipeline engine keeps, `4·min(2, m)`; 0 for the others,
    /// whose backward frees the logits.
    pub fn kept_bytes_per_logit(self, micro_batches: u64) -> u64 {
        match self {
            Loss::DeepspeedPipeline => {
                FUSED_LOSS_FP32_BYTES * micro_batches.clamp(1, DEEPSPEED_PIPE_BUFFERS_LAST_STAGE)
            }
            Loss::Eager | Loss::Fused | Loss::Chunked(_) => 0,
        }
    }

    /// Bytes of memory traffic per logit, forward and backward
    /// ([`EAGER_LOSS_TRAFFIC_BYTES`], else [`FUSED_LOSS_TRAFFIC_BYTES`]: the
    /// DeepSpeed pipeline runs the fused loss's kernels and keeps their output).
    pub fn traffic_bytes(self) -> f64 {
        match self {
            Loss::Eager => EAGER_LOSS_TRAFFIC_BYTES,
            Loss::Fused | Loss::Chunked(_) | Loss::DeepspeedPipeline => FUSED_LOSS_TRAFFIC_BYTES,
        }
    }

    /// What the loss holds, in words, with its source, for `logit_bytes`-byte logits
    /// and `micro_batches` micro-batches per step.
    pub fn describe(self, logit_bytes: u64, micro_batches: u64) -> (String, &'static str) {
        let logits = if logit_bytes == 4 { "fp32" } else { "16-bit" };
        let per = self.bytes_per_logit(logit_bytes, micro_batches);
        let kept = self.kept_bytes_per_logit(micro_batches);
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
            Loss::DeepspeedPipeline => (
                format!("deepspeed-pipeline: {logits} logits, their fp32 copy that the fused loss overwrites in place, and the fp32 logits of the last {} micro-batches that DeepSpeed's pipeline engine keeps in its pipe buffers ({per} bytes per logit at a forward, {kept} kept through the backward and the optimizer step), added to the stored activations; {moved} bytes of traffic per logit, forward and backward", kept / FUSED_LOSS_FP32_BYTES),
                "DeepSpeed runtime/pipe/engine.py and schedule.py (the last stage's 2 pipe buffers keep its outputs); Megatron-DeepSpeed GPTModelPipe (float16_to_fp32) and mpu/cross_entropy.py",
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
            suggestions: vec![
                "eager".into(),
                "fused".into(),
                "chunked:N".into(),
                "deepspeed-pipeline".into(),
            ],
        };
        match norm.split_once(':') {
            None if norm == "eager" => Ok(Loss::Eager),
            None if norm.replace('_', "-") == "deepspeed-pipeline" => Ok(Loss::DeepspeedPipeline),
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

/// Logits and loss buffers on the stage that computes the loss, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LogitsBytes {
    /// At the loss's peak, for one micro-batch (with what earlier ones left).
    pub peak_bytes: u64,
    /// Still alive after the loss's backward, beside the recomputed layers and
    /// through the optimizer step ([`Loss::kept_bytes_per_logit`]).
    pub kept_bytes: u64,
}

/// Logits and loss buffers of the last stage for one micro-batch of a step of
/// `micro_batches` micro-batches `m`: at their peak, and what stays after the
/// loss's backward.
///
/// # Formula
/// ```text
/// n = (s/cp) · b tokens, v = ⌈V/t⌉ logits per token
/// eager:               peak n · v · (w + 12)                   kept 0
/// fused:               peak n · v · (w + 4)                    kept 0
/// chunked:N:           peak ⌈n/N⌉ · v · (w + 4)                kept 0
/// deepspeed-pipeline:  peak n · v · (w + 4 + 4·min(2, m))      kept n · v · 4·min(2, m)
/// ```
/// with `w` the logits' element bytes (2, or 4 for an fp32 head).
///
/// # Source
/// [`EAGER_LOSS_FP32_BYTES`], [`FUSED_LOSS_FP32_BYTES`], [`DEFAULT_LOSS_CHUNKS`],
/// [`DEEPSPEED_PIPE_BUFFERS_LAST_STAGE`].
///
/// # Errors
/// `N = 0`, or a product past 64 bits.
pub fn logits_bytes(
    arch: &Architecture,
    cfg: &ActivationConfig,
    loss: Loss,
    micro_batches: u64,
) -> Result<LogitsBytes> {
    let tokens = product(Q, &[cfg.seq_len / cfg.cp.max(1), cfg.micro_batch])?;
    let vocab = arch.vocab_size.div_ceil(cfg.tp.max(1));
    let per = loss.bytes_per_logit(cfg.element_bytes, micro_batches);
    let kept = product(
        Q,
        &[tokens, vocab, loss.kept_bytes_per_logit(micro_batches)],
    )?;
    let peak_bytes = match loss {
        Loss::Eager | Loss::Fused | Loss::DeepspeedPipeline => product(Q, &[tokens, vocab, per])?,
        Loss::Chunked(0) => {
            return Err(CoreError::Zero {
                field: "loss chunks",
            })
        }
        Loss::Chunked(n) => product(Q, &[tokens.div_ceil(n), vocab, per])?,
    };
    Ok(LogitsBytes {
        peak_bytes,
        kept_bytes: kept,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn llama31_8b_at(seq_len: u64, micro_batch: u64, tp: u64) -> (Architecture, ActivationConfig) {
        // Llama-3.1-8B config.json: 32 layers, h 4096, 32 heads, 8 KV heads, f 14336, V 128256
        (
            crate::testing::llama31_8b(),
            ActivationConfig::flash(seq_len, micro_batch, tp),
        )
    }

    #[test]
    fn llama31_8b_logits_at_8192_tokens_per_loss() {
        let (arch, cfg) = llama31_8b_at(8192, 1, 1);
        let at = |loss| logits_bytes(&arch, &cfg, loss, 1).unwrap().peak_bytes;
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
        let at = |loss| logits_bytes(&arch, &wide, loss, 1).unwrap().peak_bytes;
        assert_eq!(at(Loss::Eager), 16 * 1_050_673_152);
        assert_eq!(at(Loss::Fused), 8 * 1_050_673_152);
        assert_eq!(
            "chunked".parse::<Loss>().unwrap(),
            Loss::Chunked(DEFAULT_LOSS_CHUNKS)
        );
    }

    #[test]
    fn deepspeed_pipeline_keeps_the_fp32_logits_of_two_micro_batches() {
        let (arch, cfg) = llama31_8b_at(8192, 1, 1);
        // 8192 tokens · 128256 logits = 1,050,673,152 logits
        let at = |m| logits_bytes(&arch, &cfg, Loss::DeepspeedPipeline, m).unwrap();
        // one micro-batch per step: its own fp32 logits kept; at the next step's
        // forward, 2 + 4 (the new logits and their fp32 copy) + 4 (the kept ones)
        assert_eq!(
            at(1),
            LogitsBytes {
                peak_bytes: 10 * 1_050_673_152,
                kept_bytes: 4 * 1_050_673_152,
            }
        );
        // two or more: both buffers hold fp32 logits, 2 + 4 + 8 at a forward
        for m in [2, 3, 64] {
            assert_eq!(
                at(m),
                LogitsBytes {
                    peak_bytes: 14_709_424_128,
                    kept_bytes: 8_405_385_216,
                }
            );
        }
        // what the fused loss holds, and its traffic, plus the kept logits
        let fused = logits_bytes(&arch, &cfg, Loss::Fused, 64).unwrap();
        assert_eq!(fused.kept_bytes, 0);
        assert_eq!(fused.peak_bytes + at(64).kept_bytes, at(64).peak_bytes);
        assert_eq!(
            Loss::DeepspeedPipeline.traffic_bytes(),
            Loss::Fused.traffic_bytes()
        );
        // split over t like every vocabulary-parallel loss: ⌈128256/8⌉ = 16032
        let (arch, tp8) = llama31_8b_at(8192, 1, 8);
        assert_eq!(
            logits_bytes(&arch, &tp8, Loss::DeepspeedPipeline, 64)
                .unwrap()
                .kept_bytes,
            8 * 8192 * 16032
        );
    }

    #[test]
    fn deepspeed_pipeline_reads_and_writes_one_name() {
        let loss = Loss::DeepspeedPipeline;
        assert_eq!(loss.to_string(), "deepspeed-pipeline");
        assert_eq!("DeepSpeed_Pipeline".parse::<Loss>().unwrap(), loss);
        assert_eq!(
            serde_json::to_string(&loss).unwrap(),
            "\"deepspeed-pipeline\""
        );
        assert_eq!(
            serde_json::from_str::<Loss>("\"deepspeed-pipeline\"").unwrap(),
            loss
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
            let at = |loss| logits_bytes(&arch, &cfg, loss, 1).unwrap().peak_bytes;
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
        for loss in [
            Loss::Eager,
            Loss::Fused,
            Loss::Chunked(16),
            Loss::DeepspeedPipeline,
        ] {
            assert_eq!(loss.name().parse::<Loss>().unwrap(), loss);
        }
        assert!("chunked:0".parse::<Loss>().is_err());
        assert!("softmax".parse::<Loss>().is_err());
        let (arch, cfg) = llama31_8b_at(8, 1, 1);
        assert!(logits_bytes(&arch, &cfg, Loss::Chunked(0), 1).is_err());
        assert_eq!(Loss::default_for(Kernels::Eager), Loss::Eager);
        assert_eq!(Loss::default_for(Kernels::Fused), Loss::Fused);
    }
}
