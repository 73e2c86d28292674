//! Model states per GPU: weights, gradients and optimizer states.
//!
//! Mixed-precision training keeps 16-bit weights, gradients (fp32 for bf16 runs,
//! as Megatron-LM and DeepSpeed accumulate them) and, in the optimizer, an fp32
//! master copy beside the optimizer's own states (Micikevicius et al. 2018; the
//! ZeRO paper's 12 bytes per parameter for Adam; Megatron-LM's 18 bytes per
//! parameter for bf16 with fp32 gradients, 20 for fp16). DeepSpeed's BF16
//! optimizer keeps the bf16 gradients beside the fp32 ones: 2 + 6 + 12
//! ([`OptimizerImpl::DeepspeedBf16`]). Under `torch.autocast` the fp32
//! parameters are the master copy: 4 + 4 + 8 bytes.
//! Tensor and pipeline parallelism divide the layers' parameters; ZeRO stages and
//! FSDP divide the states over the data-parallel ranks.

use serde::{Deserialize, Serialize};

use crate::arch::Architecture;
use crate::arch::Group;
use crate::error::{CoreError, Result};
use crate::ops::{self, OpList};
use crate::params::TpSplit;
use crate::training::lora::{self, Method};
use crate::training::parallel::{Layout, ZeroStage};
use crate::units::{product, sum};

const Q: &str = "bytes of model states";

/// Precision of the matrix multiplications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// bfloat16 mixed precision.
    Bf16,
    /// fp16 mixed precision (with loss scaling).
    Fp16,
    /// FP8 matrix multiplications (Transformer Engine), bf16 elsewhere.
    Fp8,
}

impl Precision {
    /// Every precision, in help order.
    pub const ALL: [Precision; 3] = [Precision::Bf16, Precision::Fp16, Precision::Fp8];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Precision::Bf16 => "bf16",
            Precision::Fp16 => "fp16",
            Precision::Fp8 => "fp8",
        }
    }
}

impl std::str::FromStr for Precision {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self> {
        let norm = s.trim().to_ascii_lowercase();
        crate::named::find_by_name(
            &Precision::ALL,
            Precision::name,
            "training precision",
            s,
            &norm,
        )
    }
}

/// The optimizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Optimizer {
    /// AdamW: first and second moments in fp32 (Loshchilov & Hutter 2019).
    Adamw,
    /// AdamW with block-wise 8-bit moments (Dettmers et al. 2022, bitsandbytes).
    Adamw8bit,
    /// SGD with momentum.
    Sgd,
    /// Adafactor without first moment, factored second moment (Shazeer & Stern 2018).
    Adafactor,
    /// Lion: one momentum buffer (Chen et al. 2023).
    Lion,
}

impl Optimizer {
    /// Every optimizer, in help order.
    pub const ALL: [Optimizer; 5] = [
        Optimizer::Adamw,
        Optimizer::Adamw8bit,
        Optimizer::Sgd,
        Optimizer::Adafactor,
        Optimizer::Lion,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Optimizer::Adamw => "adamw",
            Optimizer::Adamw8bit => "adamw-8bit",
            Optimizer::Sgd => "sgd",
            Optimizer::Adafactor => "adafactor",
            Optimizer::Lion => "lion",
        }
    }

    /// Bytes the optimizer's update pass reads and writes per trainable parameter
    /// (master, moments, gradient in; master, moments, 16-bit weight out).
    pub fn update_traffic_bytes(self) -> f64 {
        match self {
            // read master 4, m 4, v 4, grad 2; write master 4, m 4, v 4, weight 2
            Optimizer::Adamw => 28.0,
            Optimizer::Adamw8bit => 18.0,
            Optimizer::Sgd | Optimizer::Lion => 20.0,
            Optimizer::Adafactor => 14.0,
        }
    }
}

impl std::str::FromStr for Optimizer {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self> {
        let norm = s.trim().to_ascii_lowercase().replace('_', "-");
        let norm = if norm == "adamw8bit" || norm == "adam-8bit" {
            "adamw-8bit".to_string()
        } else if norm == "adam" {
            "adamw".to_string()
        } else {
            norm
        };
        crate::named::find_by_name(&Optimizer::ALL, Optimizer::name, "optimizer", s, &norm)
    }
}

/// The implementation of mixed-precision training that holds the gradients and
/// the optimizer states: what the bytes per parameter depend on besides the
/// precision ([`StateConfig::bytes_per_parameter`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerImpl {
    /// The precision's convention, as Megatron-LM, PyTorch (DDP, FSDP, autocast)
    /// and DeepSpeed's ZeRO optimizer hold the states: bf16 and fp8 runs 2 + 4 +
    /// 12, fp16 runs 2 + 2 + 16, FSDP 2 + 2 + 12 over the shards.
    #[default]
    Standard,
    /// DeepSpeed's `BF16_Optimizer` (bf16 without a ZeRO stage, as
    /// Megatron-DeepSpeed trained BLOOM): every parameter's bf16 gradient is kept
    /// beside an fp32 gradient accumulation buffer of the whole model, neither
    /// sharded, and the fp32 master weights and Adam moments are sharded over the
    /// data-parallel ranks (its own ZeRO-1): `2 + (2 + 4) + 12/d` bytes per parameter.
    ///
    /// # Source
    /// DeepSpeed `deepspeed/runtime/bf16_optimizer.py`, alike on the
    /// `olruwase/bf16-updates` branch BLOOM ran (8245053977, 2022-02-27) and as
    /// merged ("bf16+pipeline parallelism (#1801)", 56c5223868):
    /// `fp32_groups_gradients_flat`, an fp32 buffer the size of the whole bf16
    /// group, beside `fp32_groups_flat_partition`, the data-parallel rank's slice
    /// of fp32 master weights that the optimizer steps; `runtime/pipe/engine.py`
    /// `_exec_backward_pass` clears the bf16 gradients only before each backward
    /// and accumulates with `update_hp_grads(clear_lp_grads=False)`, so they stay
    /// alive. BigScience `train/tr11-176B-ml`: "bf16 must use z0! it implements
    /// its own zero stage 1 equivalent" (`tr11-176B-ml.slurm`); "it doesn't shard
    /// the static fp32 buffer it reuses, which consumes 4 bytes * params of
    /// additional memory" (`README.md`).
    DeepspeedBf16,
}

impl OptimizerImpl {
    /// Every implementation, in help order.
    pub const ALL: [OptimizerImpl; 2] = [OptimizerImpl::Standard, OptimizerImpl::DeepspeedBf16];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            OptimizerImpl::Standard => "standard",
            OptimizerImpl::DeepspeedBf16 => "deepspeed-bf16",
        }
    }
}

impl std::str::FromStr for OptimizerImpl {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self> {
        let norm = s.trim().to_ascii_lowercase().replace('_', "-");
        crate::named::find_by_name(
            &OptimizerImpl::ALL,
            OptimizerImpl::name,
            "optimizer implementation",
            s,
            &norm,
        )
    }
}

/// Values per quantization block of bitsandbytes' 8-bit optimizer states, each
/// block carrying one fp32 absmax (Dettmers et al. 2022, arXiv:2110.02861, §2: block size 2048).
pub const ADAM_8BIT_BLOCK: u64 = 2048;

/// Which pipeline stage a per-GPU figure describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The only stage (`p = 1`): embedding, every layer, head.
    Only,
    /// The first stage: embedding and `⌈L/p⌉` layers; keeps the most activations.
    First,
    /// The last stage: `⌊L/p⌋` layers, the final norm, the head and the loss.
    Last,
}

/// Parameters held by one GPU of a stage, before data-parallel sharding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GpuParams {
    /// Parameters replicated over all `dp` ranks (sharded over `dp` by ZeRO).
    pub dense: u64,
    /// Routed-expert parameters, replicated over `dp/ep` ranks.
    pub experts: u64,
}

impl GpuParams {
    /// All parameters on the GPU.
    pub fn total(&self) -> Result<u64> {
        sum("parameters per GPU", &[self.dense, self.experts])
    }
}

/// Parameters on one GPU of `stage`.
///
/// # Formula
/// ```text
/// layer  = attn/t + norms + (dense layer ? mlp/t : shared/t + router + routed/(ep·t))
/// first  = ⌈L/p⌉ layers + V·h/t + P·h
/// last   = ⌊L/p⌋ layers + final norm + V·h/t (untied head, or the tied copy when p > 1)
/// ```
///
/// # Source
/// Narayanan et al. 2021 §2 (Megatron places the embedding on the first stage and
/// the head on the last; tied embeddings are kept on both and their gradients summed).
///
/// # Assumptions / limits
/// Projections split exactly over `t` (rounded up); norms are replicated; dense
/// (`first_k_dense_replace`) layers sit on the first stages.
pub fn params_per_gpu(arch: &Architecture, layout: &Layout, stage: Stage) -> Result<GpuParams> {
    params_per_gpu_of(arch, &ops::list(arch)?, layout, stage)
}

/// [`params_per_gpu`] over `arch`'s operator list, whose blocks carry their tensors.
///
/// # Errors
/// As [`params_per_gpu`].
pub fn params_per_gpu_of(
    arch: &Architecture,
    list: &OpList,
    layout: &Layout,
    stage: Stage,
) -> Result<GpuParams> {
    params_per_gpu_in(arch, &TensorSplits::of(arch, list)?, layout, stage)
}

/// The elements of each distinct block's tensors, grouped by how tensor and
/// expert parallelism divide them: what [`params_per_gpu`] needs of the
/// operator list, gathered once per model.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TensorSplits {
    /// Indexed by the schedule's block index; `None` for a block the list lacks.
    blocks: Vec<Option<BlockSplits>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct BlockSplits {
    /// Replicated tensors' elements, summed (no rounding applies to them).
    replicated: u64,
    /// Elements of each tensor split over `t` (each rounded up on its own).
    split: Vec<u64>,
    /// Elements of each routed-expert tensor, split over `ep·t`.
    experts: Vec<u64>,
    /// `replicated + Σ⌈n/t⌉` over `split` for `t = 1..=SPLITS` (index `t − 1`),
    /// `None` where it overflows: the usual tensor-parallel sizes without dividing.
    dense_by_t: Vec<Option<u64>>,
    /// `Σ⌈n/s⌉` over `experts` for `s = ep·t = 1..=SPLITS`, likewise.
    experts_by_split: Vec<Option<u64>>,
}

/// The splits whose per-block sums are kept ready.
const SPLITS: u64 = 64;

impl BlockSplits {
    fn dense_part(&self, t: u64) -> Result<u64> {
        if let Some(&Some(part)) = self.dense_by_t.get((t as usize).wrapping_sub(1)) {
            return Ok(part);
        }
        let mut part = self.replicated;
        for &n in &self.split {
            part = sum(Q, &[part, n.div_ceil(t)])?;
        }
        Ok(part)
    }

    fn experts_part(&self, split: u64) -> Result<u64> {
        if let Some(&Some(part)) = self.experts_by_split.get((split as usize).wrapping_sub(1)) {
            return Ok(part);
        }
        let mut part = 0u64;
        for &n in &self.experts {
            part = sum(Q, &[part, n.div_ceil(split)])?;
        }
        Ok(part)
    }
}

impl TensorSplits {
    /// Gather `list`'s tensors per block.
    ///
    /// # Errors
    /// [`CoreError::Overflow`] when a tensor's or a block's elements exceed `u64`.
    pub fn of(arch: &Architecture, list: &OpList) -> Result<TensorSplits> {
        let blocks = (0..arch.layers.blocks.len())
            .map(|i| {
                let Some(ops) = list.block(i) else {
                    return Ok(None);
                };
                let mut b = BlockSplits::default();
                for tensor in &ops.tensors {
                    let n = tensor.elements()?;
                    if tensor.group == Group::MoeRoutedExperts {
                        b.experts.push(n);
                    } else {
                        match tensor.tp {
                            TpSplit::Replicated => b.replicated = sum(Q, &[b.replicated, n])?,
                            TpSplit::Rows | TpSplit::Cols => b.split.push(n),
                        }
                    }
                }
                b.dense_by_t = (1..=SPLITS).map(|t| b.dense_part(t).ok()).collect();
                if !b.experts.is_empty() {
                    b.experts_by_split = (1..=SPLITS).map(|s| b.experts_part(s).ok()).collect();
                }
                Ok(Some(b))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(TensorSplits { blocks })
    }
}

/// [`params_per_gpu`] over the model's [`TensorSplits`]: the layout-dependent
/// part only.
///
/// # Errors
/// As [`params_per_gpu`].
pub fn params_per_gpu_in(
    arch: &Architecture,
    splits: &TensorSplits,
    layout: &Layout,
    stage: Stage,
) -> Result<GpuParams> {
    let t = layout.tp;
    let (layers, first_layer) = match stage {
        Stage::Only => (arch.num_layers(), 0),
        Stage::First => (layout.first_stage_layers(arch), 0),
        Stage::Last => {
            // the last stage's layers are some of the model's: no underflow
            let n = layout.last_stage_layers(arch);
            (n, arch.num_layers() - n)
        }
    };
    let split_experts = product(Q, &[layout.ep, t])?;
    let mut dense = 0u64;
    let mut experts = 0u64;
    // Σ over tensors of ⌈n/t⌉·here = here·Σ⌈n/t⌉: the same value, and (all terms
    // being non-negative, here ≥ 1) an overflow exactly when the tensor-by-tensor sum overflows.
    for (block, here) in arch.layers.counted_in(first_layer, layers) {
        let Some(Some(b)) = splits.blocks.get(block) else {
            continue;
        };
        dense = sum(Q, &[dense, product(Q, &[b.dense_part(t)?, here])?])?;
        if !b.experts.is_empty() {
            let part = b.experts_part(split_experts)?;
            experts = sum(Q, &[experts, product(Q, &[part, here])?])?;
        }
    }

    let extras = StageExtras::of(arch, t, stage)?;
    dense = sum(Q, &[dense, extras.total()?])?;
    Ok(GpuParams { dense, experts })
}

/// The parameters a stage holds outside its layers, on one GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct StageExtras {
    /// The input embedding (token slice, learned positions, embedding norm), when
    /// the stage holds it; a tied embedding is counted here.
    embedding: u64,
    /// The untied output head (and its bias), when the stage holds it; the tied
    /// copy a last stage keeps when `p > 1` is counted here too.
    head: u64,
    /// The final norm.
    final_norm: u64,
    /// Elements of the output product's weight (`⌈V·h/t⌉`) when the stage runs
    /// the output layer, tied or not.
    head_product: u64,
}

impl StageExtras {
    fn total(&self) -> Result<u64> {
        sum(Q, &[self.embedding, self.head, self.final_norm])
    }

    fn of(arch: &Architecture, t: u64, stage: Stage) -> Result<StageExtras> {
        let h = arch.hidden_size;
        let norm_elem = arch.norm.kind.params_per_element();
        let vocab_slice = product(Q, &[arch.vocab_size, h])?.div_ceil(t);
        let embedding = sum(
            Q,
            &[
                vocab_slice,
                product(Q, &[arch.embedding.learned_positions, h])?,
                if arch.norm.embedding_norm {
                    product(Q, &[h, norm_elem])?
                } else {
                    0
                },
            ],
        )?;
        let head_bias = if arch.embedding.lm_head_bias {
            arch.vocab_size.div_ceil(t)
        } else {
            0
        };
        let final_norm = if arch.norm.final_norm {
            product(Q, &[h, norm_elem])?
        } else {
            0
        };
        let untied_head = if arch.embedding.tied {
            0
        } else {
            sum(Q, &[vocab_slice, head_bias])?
        };
        Ok(match stage {
            Stage::Only => StageExtras {
                embedding,
                head: untied_head,
                final_norm,
                head_product: vocab_slice,
            },
            Stage::First => StageExtras {
                embedding,
                ..StageExtras::default()
            },
            Stage::Last => StageExtras {
                embedding: 0,
                head: if arch.embedding.tied {
                    vocab_slice
                } else {
                    untied_head
                },
                final_norm,
                head_product: vocab_slice,
            },
        })
    }
}

/// Weight elements on one GPU of `stage` that its 16-bit products read: what
/// `torch.autocast` casts and autograd keeps for the backward. With `layers`,
/// every layer's parameters (their norms' few included) and the output head;
/// without, the output head only (the layers' products are recomputed, their
/// casts dropped with them).
///
/// # Formula
/// ```text
/// layers:  gpu params − embedding − head − final norm + ⌈V·h/t⌉ (output stage)
/// else:    ⌈V·h/t⌉ on the stage that runs the output layer, else 0
/// ```
///
/// # Source
/// PyTorch autocast's weight cast cache (a weight is cast once per autocast
/// region) and `linear`'s saved tensors (its 16-bit weight, held until its
/// backward); checkpointed layers keep none. For Llama 3.2 1B this gives
/// 2.30 GiB without checkpointing and 0.49 GiB (the head's) with it; the
/// intercepts of straight lines through the peaks of sizeup's own H200 runs
/// against the micro-batch (bench/gpu/h200-train-2026-11-28.json, modes with
/// and without checkpointing; a fit over the runs, not a field of the file)
/// left about the same beside the states.
///
/// # Errors
/// [`CoreError::Overflow`](crate::error::CoreError) on overflow.
pub fn product_weights_per_gpu(
    arch: &Architecture,
    gpu: GpuParams,
    layout: &Layout,
    stage: Stage,
    layers: bool,
) -> Result<u64> {
    let extras = StageExtras::of(arch, layout.tp, stage)?;
    if !layers {
        return Ok(extras.head_product);
    }
    let in_layers = gpu.total()?.saturating_sub(extras.total()?);
    sum(Q, &[in_layers, extras.head_product])
}

/// The three model-state line items on one GPU, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ModelStates {
    /// Weights (16-bit, fp32 under autocast; the frozen base in its own format
    /// for LoRA/QLoRA).
    pub weights_bytes: u64,
    /// Gradients of the trainable parameters.
    pub gradients_bytes: u64,
    /// Optimizer states, fp32 master weights included (and an fp16 run's fp32
    /// gradient copy).
    pub optimizer_states_bytes: u64,
    /// Trainable parameters on this GPU before sharding.
    pub trainable_params: u64,
}

/// What the states depend on besides the model and the layout.
#[derive(Debug, Clone, PartialEq)]
pub struct StateConfig<'a> {
    /// Compute precision.
    pub precision: Precision,
    /// Optimizer.
    pub optimizer: Optimizer,
    /// Keep an fp32 master copy in the optimizer (mixed precision); `false` trains
    /// in pure 16-bit with states in the weights' precision (torchtune's default).
    pub master_weights: bool,
    /// The optimizer steps each parameter during the backward pass and frees its
    /// gradient at once (torchtune `optimizer_in_bwd`): only the largest tensor's
    /// gradient is ever held.
    pub optimizer_in_backward: bool,
    /// The parameters themselves are fp32 and are the master copy (`torch.autocast`
    /// over an fp32 model): 4-byte weights and gradients, no separate master in the
    /// optimizer. Applies to full training only.
    pub fp32_params: bool,
    /// Full fine-tuning or adapters.
    pub method: &'a Method,
    /// Who holds the gradients and optimizer states.
    pub optimizer_impl: OptimizerImpl,
}

impl StateConfig<'_> {
    /// Refuse a configuration its [`OptimizerImpl`] does not run: DeepSpeed's
    /// `BF16_Optimizer` trains bf16 with fp32 master weights, whole models (its
    /// gradient buffers cover every parameter), steps after the backward, and
    /// shards its master weights and moments as ZeRO-1 does; DeepSpeed hands
    /// ZeRO stages 2 and 3 to its ZeRO optimizer instead.
    ///
    /// # Errors
    /// [`CoreError::Invalid`] on `optimizer_impl`, naming the first setting at
    /// odds with it.
    pub fn check(&self, zero: ZeroStage) -> Result<()> {
        if self.optimizer_impl != OptimizerImpl::DeepspeedBf16 {
            return Ok(());
        }
        let why = if self.precision != Precision::Bf16 {
            format!("trains bf16, not {}", self.precision.name())
        } else if !self.master_weights {
            "keeps fp32 master weights (no pure 16-bit training)".into()
        } else if self.method.adapters().is_some() {
            format!("trains whole models, not {}", self.method.name())
        } else if self.optimizer_in_backward {
            "steps the optimizer after the backward, not in it".into()
        } else if zero != ZeroStage::Zero1 {
            format!(
                "shards its fp32 master weights and moments as ZeRO-1 does: ZeRO stage 1, not {} (DeepSpeed runs stages 2 and 3 with its ZeRO optimizer)",
                zero.number()
            )
        } else {
            return Ok(());
        };
        Err(CoreError::Invalid {
            field: "optimizer_impl",
            value: self.optimizer_impl.name().into(),
            expected: format!("DeepSpeed's BF16_Optimizer {why}"),
        })
    }

    /// Bytes per trainable weight: 4 with fp32 parameters, else 2.
    fn param_bytes(&self) -> u64 {
        if self.fp32_params {
            4
        } else {
            2
        }
    }

    /// Bytes per gradient element held per parameter.
    ///
    /// # Formula
    /// ```text
    /// fp32 parameters (autocast):                                   4
    /// DeepSpeed BF16_Optimizer (OptimizerImpl::DeepspeedBf16):      6 (bf16 gradients + fp32 accumulation buffer)
    /// bf16 or fp8 products, master weights, ZeRO 0–2:               4 (fp32 gradients)
    /// fp16 products, master weights:                                2 (+ 4 in the optimizer states: fp32_gradient_copy)
    /// ZeRO-3 / FSDP, or no master weights (pure 16-bit):            2
    /// ```
    ///
    /// # Source
    /// Megatron-LM `docs/source/api-guide/distributed_optimizer.md`, bytes per
    /// parameter: "bf16 param, fp32 grads" 18 (6 + 12/d distributed), "fp16 param,
    /// fp16 grads" 20 (4 + 16/d: the fp32 gradient copy is sharded with the
    /// optimizer's states); DeepSpeed's `BF16_Optimizer` accumulates into fp32
    /// gradients of the whole model too. FSDP keeps fp32 sharded parameters as the
    /// master and reduces into fp32 sharded gradients beside 8 bytes of AdamW
    /// moments, 16/d in all, which 2 + 2 + 12 adds up to. DeepSpeed's
    /// `BF16_Optimizer` keeps the bf16 gradients as well ([`OptimizerImpl::DeepspeedBf16`]).
    fn grad_bytes(&self, zero3: bool) -> u64 {
        match (self.fp32_params, self.master_weights && !zero3) {
            (true, _) => 4,
            (false, true) if self.optimizer_impl == OptimizerImpl::DeepspeedBf16 => 6,
            (false, true) if self.precision == Precision::Fp16 => 2,
            (false, true) => 4,
            (false, false) => 2,
        }
    }

    /// Bytes of fp32 gradient copy the optimizer keeps per parameter: 4 for fp16
    /// runs with master weights outside FSDP, sharded with its states
    /// ([`StateConfig::grad_bytes`]'s source), else 0.
    fn gradient_copy_bytes(&self, zero3: bool) -> u64 {
        let copy =
            self.precision == Precision::Fp16 && self.master_weights && !self.fp32_params && !zero3;
        if copy {
            4
        } else {
            0
        }
    }

    /// Bytes per trainable parameter before any sharding, `[weights, gradients,
    /// optimizer states]`, for an optimizer whose states are per element (all
    /// but Adafactor's factored ones): what the precision assumption states and
    /// [`model_states_from`] multiplies.
    ///
    /// # Errors
    /// As [`optimizer_bytes`].
    pub fn bytes_per_parameter(&self, zero3: bool) -> Result<[u64; 3]> {
        Ok([
            self.param_bytes(),
            self.grad_bytes(zero3),
            sum(
                Q,
                &[
                    optimizer_bytes(1, 1, self)?,
                    self.gradient_copy_bytes(zero3),
                ],
            )?,
        ])
    }
}

/// Optimizer-state bytes for `n` trainable parameters.
///
/// # Formula
/// ```text
/// master = 4·n if master weights and the parameters are not fp32 themselves, else 0
/// adamw: master + 2·n·(4 if master else 2)       adamw-8bit: master + 2·(n + 4·⌈n/2048⌉)
/// sgd, lion: master + n·(4 if master else 2)     adafactor: master + factored·(4 if master else 2)
/// ```
///
/// # Source
/// ZeRO (Rajbhandari et al. 2020) §3: K = 12 bytes per parameter for mixed-precision Adam;
/// Dettmers et al. 2022 (8-bit optimizers, block 2048); Shazeer & Stern 2018 (Adafactor keeps
/// a row and a column vector per matrix); Chen et al. 2023 (Lion keeps one momentum).
pub fn optimizer_bytes(n: u64, factored: u64, cfg: &StateConfig) -> Result<u64> {
    let state_elem = if cfg.master_weights { 4 } else { 2 };
    let master = if cfg.master_weights && !cfg.fp32_params {
        product(Q, &[4, n])?
    } else {
        0
    };
    let states = match cfg.optimizer {
        Optimizer::Adamw => product(Q, &[2, n, state_elem])?,
        Optimizer::Adamw8bit => product(
            Q,
            &[
                2,
                sum(Q, &[n, product(Q, &[4, n.div_ceil(ADAM_8BIT_BLOCK)])?])?,
            ],
        )?,
        Optimizer::Sgd | Optimizer::Lion => product(Q, &[n, state_elem])?,
        Optimizer::Adafactor => product(Q, &[factored, state_elem])?,
    };
    sum(Q, &[master, states])
}

/// Second-moment entries Adafactor keeps for the whole model: a row and a column
/// per matrix (embedding and head included), every element of the vectors.
fn adafactor_entries(arch: &Architecture, matrices: &[lora::Matrix], total: u64) -> Result<u64> {
    let mut factored = 0;
    let mut matrix_params = 0;
    for m in matrices {
        factored = sum(
            Q,
            &[
                factored,
                product(Q, &[sum(Q, &[m.d_in, m.d_out])?, m.copies])?,
            ],
        )?;
        matrix_params = sum(Q, &[matrix_params, m.params()?])?;
    }
    let tables = if arch.embedding.tied { 1 } else { 2 };
    let table_params = product(Q, &[tables, arch.vocab_size, arch.hidden_size])?;
    factored = sum(
        Q,
        &[
            factored,
            product(Q, &[tables, sum(Q, &[arch.vocab_size, arch.hidden_size])?])?,
        ],
    )?;
    let vectors = total
        .saturating_sub(matrix_params)
        .saturating_sub(table_params);
    sum(Q, &[factored, vectors])
}

/// Weights, gradients and optimizer states on one GPU of `stage`.
///
/// # Formula
/// ```text
/// full:  weights = N_gpu·2 / (dp if ZeRO-3)     grads = N_gpu·2 / (dp if ZeRO ≥ 2)
///        optimizer = opt(N_gpu) / (dp if ZeRO ≥ 1 or distributed optimizer)
/// LoRA:  weights = base 16-bit + adapters·2;  QLoRA: projection weights in NF4
///        grads and optimizer on the adapters only
/// ```
/// with `N_gpu` from [`params_per_gpu`]; expert parameters shard over `dp/ep`.
///
/// # Source
/// DESIGN.md "Training"; ZeRO (Rajbhandari et al. 2020) Fig. 1; QLoRA (Dettmers et al. 2023) §3.
///
/// # Assumptions / limits
/// FP8 training keeps 16-bit weights (Transformer Engine casts per GEMM; its FP8
/// weight caches are not counted). LoRA adapters are spread over the GPUs in
/// proportion to the base weights they hold.
pub fn model_states(
    arch: &Architecture,
    layout: &Layout,
    stage: Stage,
    cfg: &StateConfig,
) -> Result<ModelStates> {
    model_states_of(arch, &ops::list(arch)?, layout, stage, cfg)
}

/// [`model_states`] over `arch`'s operator list.
///
/// # Errors
/// As [`model_states`].
pub fn model_states_of(
    arch: &Architecture,
    list: &OpList,
    layout: &Layout,
    stage: Stage,
    cfg: &StateConfig,
) -> Result<ModelStates> {
    let total = crate::params::count_of(arch, list)?.total;
    model_states_in(
        arch,
        &StateInputs::of(arch, list, total)?,
        layout,
        stage,
        cfg,
    )
}

/// What [`model_states`] needs of a model whatever the layout, gathered once:
/// the parameter count, the tensors per block, the weight matrices and
/// Adafactor's factored entries.
#[derive(Debug, Clone, PartialEq)]
pub struct StateInputs {
    /// All parameters.
    pub total: u64,
    /// The tensors per block, for [`params_per_gpu_in`].
    pub splits: TensorSplits,
    /// The weight matrices ([`lora::matrices_of`]).
    pub matrices: Vec<lora::Matrix>,
    /// Adafactor's second-moment entries for the whole model (kept as a result:
    /// its overflow is reported where the states are asked for, as before).
    adafactor: Result<u64>,
}

impl StateInputs {
    /// Gather them from `arch`'s operator list and its parameter count `total`.
    ///
    /// # Errors
    /// [`CoreError::Overflow`] when a tensor's elements exceed `u64`.
    pub fn of(arch: &Architecture, list: &OpList, total: u64) -> Result<StateInputs> {
        let matrices = lora::matrices_of(list);
        Ok(StateInputs {
            total,
            splits: TensorSplits::of(arch, list)?,
            adafactor: adafactor_entries(arch, &matrices, total),
            matrices,
        })
    }
}

/// [`model_states`] over the model's [`StateInputs`]: the layout-dependent part only.
///
/// # Errors
/// As [`model_states`].
pub fn model_states_in(
    arch: &Architecture,
    inputs: &StateInputs,
    layout: &Layout,
    stage: Stage,
    cfg: &StateConfig,
) -> Result<ModelStates> {
    let gpu = params_per_gpu_in(arch, &inputs.splits, layout, stage)?;
    model_states_from(arch, inputs, layout, gpu, cfg)
}

/// [`model_states_in`] given the stage's parameters ([`params_per_gpu_in`]).
///
/// # Errors
/// As [`model_states`].
pub fn model_states_from(
    arch: &Architecture,
    inputs: &StateInputs,
    layout: &Layout,
    gpu: GpuParams,
    cfg: &StateConfig,
) -> Result<ModelStates> {
    let total = inputs.total;
    let dp = layout.dp;
    let expert_dp = (dp / layout.ep).max(1);
    let shard = |bytes_dense: u64, bytes_experts: u64, on: bool| -> Result<u64> {
        if on {
            sum(
                Q,
                &[bytes_dense.div_ceil(dp), bytes_experts.div_ceil(expert_dp)],
            )
        } else {
            sum(Q, &[bytes_dense, bytes_experts])
        }
    };
    let zero3 = layout.zero >= ZeroStage::Zero3;
    let zero2 = layout.zero >= ZeroStage::Zero2;
    let zero1 = layout.zero >= ZeroStage::Zero1;
    let gpu_total = gpu.total()?;
    // the fraction of the model this GPU holds, for quantities known model-wide
    let share = gpu_total as f64 / total.max(1) as f64;

    match cfg.method.adapters() {
        None => {
            let bytes = cfg.param_bytes();
            let weights = shard(
                product(Q, &[gpu.dense, bytes])?,
                product(Q, &[gpu.experts, bytes])?,
                zero3,
            )?;
            let gradients = if cfg.optimizer_in_backward {
                // the largest single tensor: the vocabulary slice on first and last stages
                product(
                    Q,
                    &[
                        arch.vocab_size.div_ceil(layout.tp),
                        arch.hidden_size,
                        cfg.grad_bytes(zero3),
                    ],
                )?
            } else {
                let bytes = cfg.grad_bytes(zero3);
                shard(
                    product(Q, &[gpu.dense, bytes])?,
                    product(Q, &[gpu.experts, bytes])?,
                    zero2,
                )?
            };
            let entries = match &inputs.adafactor {
                Ok(n) => *n,
                Err(e) => return Err(e.clone()),
            };
            // only Adafactor's states depend on the factored entries
            let (factored, dense_factored) = if cfg.optimizer == Optimizer::Adafactor {
                let factored = (entries as f64 * share).ceil() as u64;
                let dense_factored =
                    (factored as f64 * gpu.dense as f64 / gpu_total.max(1) as f64).ceil() as u64;
                (factored, dense_factored)
            } else {
                (0, 0)
            };
            let copy = cfg.gradient_copy_bytes(zero3);
            let optimizer = shard(
                sum(
                    Q,
                    &[
                        optimizer_bytes(gpu.dense, dense_factored, cfg)?,
                        product(Q, &[gpu.dense, copy])?,
                    ],
                )?,
                sum(
                    Q,
                    &[
                        optimizer_bytes(gpu.experts, factored.saturating_sub(dense_factored), cfg)?,
                        product(Q, &[gpu.experts, copy])?,
                    ],
                )?,
                zero1,
            )?;
            Ok(ModelStates {
                weights_bytes: weights,
                gradients_bytes: gradients,
                optimizer_states_bytes: optimizer,
                trainable_params: gpu_total,
            })
        }
        Some((rank, targets)) => {
            let matrices = &inputs.matrices;
            let adapters_total = lora::adapter_params_in(matrices, rank, targets)?;
            let adapters = (adapters_total as f64 * share).ceil() as u64;
            let base = match cfg.method {
                Method::Qlora { .. } => {
                    // projections in NF4, everything else (embeddings, head, norms, router)
                    // in 16 bits, or fp32 when upcast
                    let mut quantized_params = 0;
                    let mut quantized_bytes = 0;
                    for m in matrices {
                        quantized_params = sum(Q, &[quantized_params, m.params()?])?;
                        let one = lora::nf4_bytes(product(Q, &[m.d_in, m.d_out])?)?;
                        quantized_bytes =
                            sum(Q, &[quantized_bytes, product(Q, &[one, m.copies])?])?;
                    }
                    let rest = total.saturating_sub(quantized_params);
                    let rest_bytes = product(Q, &[rest, cfg.method.stored_element_bytes()])?;
                    let model = sum(Q, &[quantized_bytes, rest_bytes])?;
                    (model as f64 * share).ceil() as u64
                }
                _ => product(Q, &[gpu_total, 2])?,
            };
            let weights = sum(
                Q,
                &[
                    if zero3 { base.div_ceil(dp) } else { base },
                    product(Q, &[adapters, 2])?.div_ceil(if zero3 { dp } else { 1 }),
                ],
            )?;
            let gradients = product(Q, &[adapters, 2])?.div_ceil(if zero2 { dp } else { 1 });
            let optimizer =
                optimizer_bytes(adapters, adapters, cfg)?.div_ceil(if zero1 { dp } else { 1 });
            Ok(ModelStates {
                weights_bytes: weights,
                gradients_bytes: gradients,
                optimizer_states_bytes: optimizer,
                trainable_params: adapters,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::lora::Projection;
    use crate::training::parallel::{LayoutRequest, Workload};
    use crate::Shape;

    fn llama2_7b() -> Architecture {
        // shared/fixtures/models/llama-2-7b: 6,738,415,616 parameters
        Shape::llama(32, 4096, 32, 32, 11008, 32000)
            .build()
            .unwrap()
    }

    fn layout(arch: &Architecture, req: LayoutRequest, gpus: u64) -> Layout {
        let w = Workload {
            gpus,
            seq_len: 4096,
            global_batch: gpus * 8,
            micro_batch: 1,
        };
        Layout::resolve(&req, arch, &w).unwrap()
    }

    fn cfg(method: &Method) -> StateConfig<'_> {
        StateConfig {
            precision: Precision::Bf16,
            optimizer: Optimizer::Adamw,
            master_weights: true,
            optimizer_in_backward: false,
            fp32_params: false,
            method,
            optimizer_impl: OptimizerImpl::Standard,
        }
    }

    /// Megatron-LM's table of bytes per parameter (docs/source/api-guide/
    /// distributed_optimizer.md): bf16 parameters with fp32 gradients 18, fp16
    /// parameters and gradients 20 (the optimizer's fp32 gradient copy besides).
    #[test]
    fn adamw_bytes_per_parameter_as_megatron_lists_them() {
        let arch = llama2_7b();
        let n = 6_738_415_616u64;
        let l = layout(&arch, LayoutRequest::default(), 1);
        let s = model_states(&arch, &l, Stage::Only, &cfg(&Method::Full)).unwrap();
        assert_eq!(s.weights_bytes, 2 * n);
        assert_eq!(s.gradients_bytes, 4 * n);
        assert_eq!(s.optimizer_states_bytes, 12 * n);
        let fp16 = StateConfig {
            precision: Precision::Fp16,
            ..cfg(&Method::Full)
        };
        let s = model_states(&arch, &l, Stage::Only, &fp16).unwrap();
        assert_eq!(s.weights_bytes, 2 * n);
        assert_eq!(s.gradients_bytes, 2 * n);
        assert_eq!(s.optimizer_states_bytes, 16 * n);
    }

    /// The bytes per parameter the precision assumption states, one row of the
    /// convention table each.
    #[test]
    fn bytes_per_parameter_by_convention() {
        let full = Method::Full;
        let with = |precision, fp32_params, zero3| {
            StateConfig {
                precision,
                fp32_params,
                ..cfg(&full)
            }
            .bytes_per_parameter(zero3)
            .unwrap()
        };
        assert_eq!(with(Precision::Bf16, false, false), [2, 4, 12]);
        assert_eq!(with(Precision::Fp8, false, false), [2, 4, 12]);
        assert_eq!(with(Precision::Fp16, false, false), [2, 2, 16]);
        assert_eq!(with(Precision::Bf16, false, true), [2, 2, 12]);
        assert_eq!(with(Precision::Bf16, true, false), [4, 4, 8]);
        let pure = StateConfig {
            master_weights: false,
            ..cfg(&full)
        };
        assert_eq!(pure.bytes_per_parameter(false).unwrap(), [2, 2, 4]);
        let deepspeed = StateConfig {
            optimizer_impl: OptimizerImpl::DeepspeedBf16,
            ..cfg(&full)
        };
        assert_eq!(deepspeed.bytes_per_parameter(false).unwrap(), [2, 6, 12]);
    }

    /// DeepSpeed's BF16_Optimizer at ZeRO-1 over 64 ranks: bf16 weights, bf16
    /// gradients and the fp32 accumulation buffer whole on every rank (2 + 2 + 4
    /// bytes per parameter), the fp32 master and both AdamW moments sharded
    /// (12/64): two bytes per parameter more than Megatron-LM's distributed
    /// optimizer (6 + 12/d), none of them sharded.
    #[test]
    fn deepspeed_bf16_keeps_both_gradients_whole_and_shards_the_rest() {
        let arch = llama2_7b();
        let n = 6_738_415_616u64;
        let l = layout(
            &arch,
            LayoutRequest {
                zero: ZeroStage::Zero1,
                ..LayoutRequest::default()
            },
            64,
        );
        let method = Method::Full;
        let deepspeed = StateConfig {
            optimizer_impl: OptimizerImpl::DeepspeedBf16,
            ..cfg(&method)
        };
        let s = model_states(&arch, &l, Stage::Only, &deepspeed).unwrap();
        assert_eq!(s.weights_bytes, 2 * n);
        assert_eq!(s.gradients_bytes, 6 * n);
        assert_eq!(s.optimizer_states_bytes, (12 * n).div_ceil(64));
        let megatron = model_states(&arch, &l, Stage::Only, &cfg(&method)).unwrap();
        assert_eq!(s.gradients_bytes - megatron.gradients_bytes, 2 * n);
        assert_eq!(s.optimizer_states_bytes, megatron.optimizer_states_bytes);
    }

    /// The BF16_Optimizer runs full bf16 training with master weights at ZeRO-1
    /// alone; anything else is refused, naming the setting, and the standard
    /// convention refuses nothing.
    #[test]
    fn deepspeed_bf16_refuses_what_it_does_not_run() {
        let full = Method::Full;
        let lora = Method::Lora {
            rank: 8,
            targets: vec![Projection::Q],
        };
        let deepspeed = StateConfig {
            optimizer_impl: OptimizerImpl::DeepspeedBf16,
            ..cfg(&full)
        };
        assert_eq!(deepspeed.check(ZeroStage::Zero1), Ok(()));
        let refused = |c: &StateConfig, zero| match c.check(zero) {
            Err(CoreError::Invalid {
                field: "optimizer_impl",
                value,
                expected,
            }) => {
                assert_eq!(value, "deepspeed-bf16");
                expected
            }
            other => panic!("{other:?}"),
        };
        for zero in [ZeroStage::Zero0, ZeroStage::Zero2, ZeroStage::Zero3] {
            let why = refused(&deepspeed, zero);
            assert!(
                why.contains(&format!("ZeRO stage 1, not {}", zero.number())),
                "{why}"
            );
        }
        let fp16 = StateConfig {
            precision: Precision::Fp16,
            ..deepspeed.clone()
        };
        assert!(refused(&fp16, ZeroStage::Zero1).ends_with("trains bf16, not fp16"));
        let pure = StateConfig {
            master_weights: false,
            ..deepspeed.clone()
        };
        assert!(refused(&pure, ZeroStage::Zero1).contains("fp32 master weights"));
        let adapters = StateConfig {
            method: &lora,
            ..deepspeed.clone()
        };
        assert!(refused(&adapters, ZeroStage::Zero1).ends_with("not lora"));
        let in_backward = StateConfig {
            optimizer_in_backward: true,
            ..deepspeed.clone()
        };
        assert!(refused(&in_backward, ZeroStage::Zero1).contains("after the backward"));
        for zero in [ZeroStage::Zero0, ZeroStage::Zero3] {
            assert_eq!(cfg(&full).check(zero), Ok(()));
        }
        // the names read back
        for o in OptimizerImpl::ALL {
            assert_eq!(o.name().parse::<OptimizerImpl>().unwrap(), o);
        }
        assert_eq!(
            "DeepSpeed_BF16".parse::<OptimizerImpl>().unwrap(),
            OptimizerImpl::DeepspeedBf16
        );
        assert!("zero1".parse::<OptimizerImpl>().is_err());
    }

    /// Sharding in ZeRO's order: the distributed optimizer (ZeRO-1) as Megatron-LM
    /// lists it, `6 + 12/d` for bf16 and `4 + 16/d` for fp16; ZeRO-2 shards the
    /// gradients too; FSDP (ZeRO-3) holds 16/d in all.
    #[test]
    fn zero_stages_shard_in_order() {
        let arch = llama2_7b();
        let n = 6_738_415_616u64;
        let states = |zero, precision| {
            let l = layout(
                &arch,
                LayoutRequest {
                    zero,
                    ..LayoutRequest::default()
                },
                64,
            );
            let cfg = StateConfig {
                precision,
                ..cfg(&Method::Full)
            };
            let s = model_states(&arch, &l, Stage::Only, &cfg).unwrap();
            s.weights_bytes + s.gradients_bytes + s.optimizer_states_bytes
        };
        let bf16 = |zero| states(zero, Precision::Bf16);
        assert_eq!(bf16(ZeroStage::Zero0), 18 * n);
        assert_eq!(bf16(ZeroStage::Zero1), 6 * n + (12 * n).div_ceil(64));
        assert_eq!(
            bf16(ZeroStage::Zero2),
            2 * n + (4 * n).div_ceil(64) + (12 * n).div_ceil(64)
        );
        assert_eq!(
            bf16(ZeroStage::Zero3),
            (2 * n).div_ceil(64) * 2 + (12 * n).div_ceil(64)
        );
        assert_eq!(states(ZeroStage::Zero0, Precision::Fp16), 20 * n);
        assert_eq!(
            states(ZeroStage::Zero1, Precision::Fp16),
            4 * n + (16 * n).div_ceil(64)
        );
    }

    #[test]
    fn tensor_and_pipeline_split_the_layers() {
        let arch = llama2_7b();
        let l = layout(
            &arch,
            LayoutRequest {
                tp: 2,
                pp: 2,
                ..LayoutRequest::default()
            },
            4,
        );
        let first = params_per_gpu(&arch, &l, Stage::First).unwrap();
        let last = params_per_gpu(&arch, &l, Stage::Last).unwrap();
        // per layer: attention 4·4096²/2 + MLP 3·4096·11008/2 + 2 norms of 4096
        let layer = 4 * 4096 * 4096 / 2 + 3 * 4096 * 11008 / 2 + 2 * 4096;
        assert_eq!(first.dense, 16 * layer + 32000 * 4096 / 2);
        assert_eq!(last.dense, 16 * layer + 32000 * 4096 / 2 + 4096);
        // both stages together, times t, cover the model up to the replicated norms
        let total = 2 * (first.dense + last.dense) - 2 * (32 * 2 * 4096 + 4096);
        assert_eq!(total, 6_738_415_616 - (32 * 2 * 4096 + 4096));
    }

    #[test]
    fn optimizers_differ_in_state_bytes() {
        let method = Method::Full;
        let base = cfg(&method);
        let n = 1_000_000;
        let with = |optimizer| {
            optimizer_bytes(
                n,
                0,
                &StateConfig {
                    optimizer,
                    ..base.clone()
                },
            )
            .unwrap()
        };
        assert_eq!(with(Optimizer::Adamw), 12 * n);
        assert_eq!(with(Optimizer::Sgd), 8 * n);
        assert_eq!(with(Optimizer::Lion), 8 * n);
        // 4 master + 2 · (1 byte + 4 bytes per 2048)
        assert_eq!(with(Optimizer::Adamw8bit), 4 * n + 2 * (n + 4 * 489));
        assert_eq!(with(Optimizer::Adafactor), 4 * n);
        let pure = StateConfig {
            master_weights: false,
            ..base.clone()
        };
        assert_eq!(optimizer_bytes(n, 0, &pure).unwrap(), 4 * n);
    }

    #[test]
    fn qlora_base_is_nf4_plus_16_bit_rest() {
        let arch = crate::testing::llama31_8b();
        let l = layout(&arch, LayoutRequest::default(), 1);
        let method = |upcast| Method::Qlora {
            rank: 8,
            targets: vec![Projection::Q, Projection::V],
            upcast,
        };
        let s = model_states(&arch, &l, Stage::Only, &cfg(&method(false))).unwrap();
        // Llama-3.1-8B: 6,979,321,856 projection weights in NF4 ≈ 3.6 GB, plus
        // 2·128256·4096 + 65·4096 = 1,050,939,392 other parameters in bf16
        let gib = s.weights_bytes as f64 / crate::units::GIB;
        assert!((gib - 5.317).abs() < 0.001, "{gib}");
        // upcast, those 1,050,939,392 parameters take 4 bytes, not 2
        let up = model_states(&arch, &l, Stage::Only, &cfg(&method(true))).unwrap();
        assert_eq!(up.weights_bytes - s.weights_bytes, 2 * 1_050_939_392);
        assert_eq!(s.trainable_params, 3_407_872);
        assert_eq!(s.gradients_bytes, 2 * 3_407_872);
        assert_eq!(s.optimizer_states_bytes, 12 * 3_407_872);
    }
}
