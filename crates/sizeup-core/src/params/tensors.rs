//! The model's weight tensors one by one: role, layer, shape, breakdown group and the
//! dimension tensor parallelism splits.
//!
//! This list is the one place a layer's shape is derived. Parameter counts
//! ([`super::count`]), weight bytes per format, LoRA targets and the per-layer costs
//! of the serving and training estimates are folds over it. Storage formats quantize
//! tensor by tensor (llama.cpp gives `attn_v` more bits than `attn_q`, GPTQ leaves the
//! LM head in 16 bits), so their sizes need the list, not just the total.

use serde::{Deserialize, Serialize};

use crate::arch::{
    Architecture, AttentionKind, Block, BlockFfn, Group, Mixer, Mlp, MlpKind, NamedTensor, QkNorm,
};
use crate::error::{CoreError, Result};
use crate::units::{product, sum};

const Q: &str = "parameter count";

/// What a tensor does, in the roles quantizers distinguish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TensorRole {
    /// Token embedding `V×h` (`token_embd`).
    TokenEmbedding,
    /// Learned position embedding (`position_embd`).
    PositionEmbedding,
    /// Query projection (`attn_q`), output gate included where the model has one.
    AttnQ,
    /// Key projection (`attn_k`).
    AttnK,
    /// Value projection (`attn_v`).
    AttnV,
    /// Attention output projection (`attn_output`).
    AttnOutput,
    /// MLA query down-projection (`attn_q_a`).
    AttnQA,
    /// MLA query up-projection (`attn_q_b`).
    AttnQB,
    /// MLA joint key/value down-projection with the rotary key (`attn_kv_a_mqa`).
    AttnKvA,
    /// MLA key/value up-projection (`attn_kv_b`).
    AttnKvB,
    /// Sparse-attention indexer projections (`indexer.wq_b`, `wk`, `weights_proj`).
    Indexer,
    /// Dense MLP gate (`ffn_gate`).
    FfnGate,
    /// Dense MLP up projection (`ffn_up`).
    FfnUp,
    /// Dense MLP down projection (`ffn_down`).
    FfnDown,
    /// Routed experts' gates, all `E` (`ffn_gate_exps`).
    ExpertGate,
    /// Routed experts' up projections (`ffn_up_exps`).
    ExpertUp,
    /// Routed experts' down projections (`ffn_down_exps`).
    ExpertDown,
    /// Shared experts' gate (`ffn_gate_shexp`).
    SharedGate,
    /// Shared experts' up projection (`ffn_up_shexp`).
    SharedUp,
    /// Shared experts' down projection (`ffn_down_shexp`).
    SharedDown,
    /// The router `h×E` (`ffn_gate_inp`), never quantized.
    Router,
    /// The scalar gate on the shared experts' output (`ffn_gate_inp_shexp`, `h×1`).
    SharedExpertGate,
    /// A projection of a recurrent mixer (`ssm_in`, `ssm_out`, `in_proj_qkvz`).
    RecurrentMatrix,
    /// A projection of the block outside mixer and FFN (a per-layer input gate).
    OtherMatrix,
    /// Normalisation weights (and biases), one-dimensional.
    Norm,
    /// Bias vectors, one-dimensional.
    Bias,
    /// Learned attention sinks, one per head.
    Sinks,
    /// Other one-dimensional tensors: convolution kernels, `A_log`, `dt_bias`, scalars.
    Vector,
    /// The LM head `V×h` (`output`) when not tied.
    LmHead,
    /// Groups outside the language model (a vision tower), counted as a whole.
    Extra,
}

impl TensorRole {
    /// How many roles there are (each role `as usize` is below it).
    pub(crate) const COUNT: usize = TensorRole::Extra as usize + 1;

    /// The MLP's matrices: dense, shared-expert and routed-expert projections.
    pub fn is_mlp(self) -> bool {
        use TensorRole as R;
        matches!(
            self,
            R::FfnGate | R::FfnUp | R::FfnDown | R::SharedGate | R::SharedUp | R::SharedDown
        ) || self.is_routed_expert()
    }

    /// The routed experts' matrices.
    pub fn is_routed_expert(self) -> bool {
        matches!(
            self,
            TensorRole::ExpertGate | TensorRole::ExpertUp | TensorRole::ExpertDown
        )
    }

    /// One-dimensional tensors (norms, biases, sinks, kernels): quantizers leave them alone.
    pub fn is_vector(self) -> bool {
        matches!(
            self,
            TensorRole::Norm | TensorRole::Bias | TensorRole::Sinks | TensorRole::Vector
        )
    }
}

/// Which dimension tensor parallelism splits (Megatron / vLLM layouts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TpSplit {
    /// Output features split across ranks (column-parallel: q, k, v, gate, up, experts,
    /// the vocabulary of embedding and head).
    Rows,
    /// Input features split (row-parallel: the attention output and MLP down).
    Cols,
    /// Every rank holds the whole tensor (vectors, routers, MLA down-projections).
    Replicated,
}

/// One weight tensor (or `copies` identical ones, for the `E` routed experts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tensor {
    /// What it does.
    pub role: TensorRole,
    /// The block it sits in; `None` outside the blocks.
    pub layer: Option<u64>,
    /// Output features (1 for a vector).
    pub rows: u64,
    /// Input features: the length of one row, the axis block quantizers split
    /// (GGUF `ne[0]`).
    pub cols: u64,
    /// Identical tensors of this shape (`E` for routed experts, else 1).
    pub copies: u64,
    /// The breakdown group it counts in.
    pub group: Group,
    /// Which dimension tensor parallelism splits.
    pub tp: TpSplit,
}

impl Tensor {
    /// Scalar parameters: `rows · cols · copies`.
    pub fn elements(&self) -> Result<u64> {
        // a match, not `ok_or`: the error is built (and dropped) only on overflow
        match self
            .rows
            .checked_mul(self.cols)
            .and_then(|n| n.checked_mul(self.copies))
        {
            Some(n) => Ok(n),
            None => Err(CoreError::Overflow { quantity: Q }),
        }
    }

    fn new(role: TensorRole, rows: u64, cols: u64, group: Group, tp: TpSplit) -> Tensor {
        Tensor {
            role,
            layer: None,
            rows,
            cols,
            copies: 1,
            group,
            tp,
        }
    }

    fn vector(role: TensorRole, len: u64, group: Group) -> Tensor {
        Tensor::new(role, 1, len, group, TpSplit::Replicated)
    }
}

/// Every weight tensor of `arch`, layer by layer.
///
/// # Formula
/// The shapes of DESIGN.md "Exact parameters", per block of the schedule
/// ([`block_tensors`]), then the embedding, final norm, LM head and towers.
///
/// # Source
/// transformers' modeling files (as for [`super::count`]); llama.cpp's GGUF tensor names.
///
/// # Errors
/// [`crate::CoreError::Overflow`] when a size does not fit in a `u64`;
/// [`crate::CoreError::Invalid`] for a malformed schedule.
pub fn tensors(arch: &Architecture) -> Result<Vec<Tensor>> {
    // one entry per tensor per layer: bound the list before building it
    arch.check_layers()?;
    let templates = arch
        .layers
        .blocks
        .iter()
        .map(|b| block_tensors(arch, b))
        .collect::<Result<Vec<_>>>()?;
    let (head, tail) = outer_tensors(arch)?;
    // about a dozen tensors a block; the reserve is a hint, so it is capped
    let mut out = Vec::with_capacity(12 * arch.num_layers().min(1 << 16) as usize + 8);
    out.extend(head);
    for (layer, index) in arch.layers.indices().enumerate() {
        out.extend(templates[index].iter().map(|t| Tensor {
            layer: Some(layer as u64),
            ..*t
        }));
    }
    out.extend(tail);
    Ok(out)
}

/// Tensors outside the blocks: those before them (embeddings, embedding norm) and
/// after them (final norm, LM head, towers).
///
/// # Errors
/// [`crate::CoreError::Overflow`].
pub fn outer_tensors(arch: &Architecture) -> Result<(Vec<Tensor>, Vec<Tensor>)> {
    use TensorRole::*;
    let h = arch.hidden_size;
    let norm_elem = arch.norm.kind.params_per_element();
    let mut head = vec![Tensor::new(
        TokenEmbedding,
        arch.vocab_size,
        h,
        Group::Embedding,
        TpSplit::Rows,
    )];
    if arch.embedding.learned_positions > 0 {
        head.push(Tensor::new(
            PositionEmbedding,
            arch.embedding.learned_positions,
            h,
            Group::PositionEmbedding,
            TpSplit::Replicated,
        ));
    }
    if arch.norm.embedding_norm {
        head.push(Tensor::vector(
            Norm,
            product(Q, &[h, norm_elem])?,
            Group::Norm,
        ));
    }
    let mut tail = Vec::new();
    if arch.norm.final_norm {
        tail.push(Tensor::vector(
            Norm,
            product(Q, &[h, norm_elem])?,
            Group::Norm,
        ));
    }
    if !arch.embedding.tied {
        tail.push(Tensor::new(
            LmHead,
            arch.vocab_size,
            h,
            Group::LmHead,
            TpSplit::Rows,
        ));
        if arch.embedding.lm_head_bias {
            tail.push(Tensor::vector(Bias, arch.vocab_size, Group::LmHead));
        }
    }
    for t in &arch.towers {
        tail.push(Tensor::vector(Extra, t.params, t.group));
    }
    Ok((head, tail))
}

/// The tensors of one block, as layer `None`.
///
/// # Formula
/// ```text
/// attention: q h→a·d (·2 with an output gate), k h→k·d, v h→k·d (none if k = v;
///            neither, nor a k norm, when an earlier layer's keys and values are reused),
///            o a·d→h, biases, q/k norms, sinks, indexer (wq_b r_q→n·d_i, wk h→d_i,
///            k_norm 2·d_i, weights_proj h→n)
/// MLA:       q_a h→r_q, q_a_norm r_q, q_b r_q→a·(d_n+d_r) (or q h→a·(d_n+d_r)),
///            kv_a h→r_kv+d_r, kv_a_norm r_kv, kv_b r_kv→a·(d_n+d_v), o a·d_v→h
/// recurrent: the tensors the reader listed
/// MLP:       gate and up h→f (plain: up only), down f→h, biases
/// MoE:       router h→E (+E bias), E experts, shared experts, shared gate h→1
/// norms:     n·h·(params per element)
/// ```
///
/// # Source
/// transformers `LlamaAttention`, `DeepseekV3Attention`, `DeepseekV32Indexer`,
/// `Qwen3NextAttention`, `Gemma4Attention`, `LlamaMLP`, `MixtralSparseMoeBlock`,
/// `Qwen2MoeSparseMoeBlock`, `DeepseekV3MoE`.
///
/// # Errors
/// [`crate::CoreError::Overflow`].
pub fn block_tensors(arch: &Architecture, block: &Block) -> Result<Vec<Tensor>> {
    use TensorRole::*;
    let h = arch.hidden_size;
    let norm_elem = arch.norm.kind.params_per_element();
    let mut out = Vec::with_capacity(16);
    match &block.mixer {
        Mixer::Attention(_) => attention(arch, block, &mut out)?,
        Mixer::Recurrent(r) => {
            for t in &r.tensors {
                out.push(named(t, RecurrentMatrix));
            }
        }
    }
    let block_norms = product(Q, &[block.norms, h, norm_elem])?;
    if block_norms > 0 {
        out.push(Tensor::vector(Norm, block_norms, Group::Norm));
    }
    for t in &block.extra {
        out.push(named(t, OtherMatrix));
    }
    match &block.ffn {
        BlockFfn::Moe(moe) => {
            let e = moe.num_experts;
            out.push(Tensor::new(
                Router,
                e,
                h,
                Group::MoeRouter,
                TpSplit::Replicated,
            ));
            if moe.router_bias {
                out.push(Tensor::vector(Bias, e, Group::MoeRouter));
            }
            let first = out.len();
            mlp(
                h,
                &moe.expert,
                [ExpertGate, ExpertUp, ExpertDown],
                Group::MoeRoutedExperts,
                &mut out,
            )?;
            for t in &mut out[first..] {
                t.copies = e;
            }
            if let Some(shared) = &moe.shared {
                mlp(
                    h,
                    &shared.mlp,
                    [SharedGate, SharedUp, SharedDown],
                    Group::MoeSharedExperts,
                    &mut out,
                )?;
                if shared.gate {
                    out.push(Tensor::new(
                        SharedExpertGate,
                        1,
                        h,
                        Group::MoeRouter,
                        TpSplit::Replicated,
                    ));
                }
            }
        }
        BlockFfn::Dense(dense) => mlp(h, dense, [FfnGate, FfnUp, FfnDown], Group::Mlp, &mut out)?,
        BlockFfn::None => {}
    }
    Ok(out)
}

/// A reader-listed tensor: a projection gets `matrix_role` and splits its output
/// features under tensor parallelism; a vector is replicated.
fn named(t: &NamedTensor, matrix_role: TensorRole) -> Tensor {
    if t.matmul {
        Tensor::new(matrix_role, t.rows, t.cols, t.group, TpSplit::Rows)
    } else {
        let role = if t.group == Group::Norm {
            TensorRole::Norm
        } else {
            TensorRole::Vector
        };
        Tensor::new(role, t.rows, t.cols, t.group, TpSplit::Replicated)
    }
}

fn attention(arch: &Architecture, block: &Block, out: &mut Vec<Tensor>) -> Result<()> {
    use TensorRole::*;
    let Some(att) = block.attention() else {
        return Ok(());
    };
    if let Some(listed) = &att.listed {
        for t in &listed.tensors {
            out.push(named(t, OtherMatrix));
        }
        return Ok(());
    }
    let h = arch.hidden_size;
    let norm_elem = arch.norm.kind.params_per_element();
    // the reference's name rules leave cross-attention projections (`cross_attn.*`) in `other`
    let g = if att.span.grows_with_context() {
        Group::Attention
    } else {
        Group::Other
    };
    match att.kind {
        AttentionKind::Standard {
            heads,
            kv_heads,
            head_dim,
        } => {
            let q = product(Q, &[heads, head_dim])?;
            let kv = product(Q, &[kv_heads, head_dim])?;
            let q_rows = if att.output_gate {
                product(Q, &[q, 2])?
            } else {
                q
            };
            // a layer reusing an earlier layer's keys and values has no k/v projections
            let (k, v) = match (att.kv_shared, att.k_eq_v) {
                (true, _) => (0, 0),
                (false, true) => (kv, 0),
                (false, false) => (kv, kv),
            };
            out.push(Tensor::new(AttnQ, q_rows, h, g, TpSplit::Rows));
            if k > 0 {
                out.push(Tensor::new(AttnK, k, h, g, TpSplit::Rows));
            }
            if v > 0 {
                out.push(Tensor::new(AttnV, v, h, g, TpSplit::Rows));
            }
            out.push(Tensor::new(AttnOutput, h, q, g, TpSplit::Cols));
            if att.bias.qkv {
                out.push(Tensor::vector(Bias, sum(Q, &[q_rows, k, v])?, g));
            }
            let k_norms = if att.kv_shared { 0 } else { 1 };
            let qk_norms = match att.qk_norm {
                QkNorm::None => 0,
                QkNorm::PerHeadShared => product(Q, &[1 + k_norms, head_dim, norm_elem])?,
                QkNorm::Full => product(Q, &[sum(Q, &[q, k])?, norm_elem])?,
                QkNorm::FullScaleOnly => sum(Q, &[q, k])?,
            };
            if qk_norms > 0 {
                out.push(Tensor::vector(Norm, qk_norms, Group::Norm));
            }
            if att.sinks {
                out.push(Tensor::vector(Sinks, heads, g));
            }
        }
        AttentionKind::Mla {
            heads,
            q_lora_rank,
            kv_lora_rank,
            qk_nope_head_dim,
            qk_rope_head_dim,
            v_head_dim,
        } => {
            let q_out = product(Q, &[heads, sum(Q, &[qk_nope_head_dim, qk_rope_head_dim])?])?;
            match q_lora_rank {
                Some(r) => {
                    out.push(Tensor::new(AttnQA, r, h, g, TpSplit::Replicated));
                    // the low-rank norms are RMSNorms the reference groups with the norms
                    out.push(Tensor::vector(
                        Norm,
                        product(Q, &[r, norm_elem])?,
                        Group::Norm,
                    ));
                    out.push(Tensor::new(AttnQB, q_out, r, g, TpSplit::Rows));
                }
                None => out.push(Tensor::new(AttnQ, q_out, h, g, TpSplit::Rows)),
            }
            out.push(Tensor::new(
                AttnKvA,
                sum(Q, &[kv_lora_rank, qk_rope_head_dim])?,
                h,
                g,
                TpSplit::Replicated,
            ));
            out.push(Tensor::vector(
                Norm,
                product(Q, &[kv_lora_rank, norm_elem])?,
                Group::Norm,
            ));
            out.push(Tensor::new(
                AttnKvB,
                product(Q, &[heads, sum(Q, &[qk_nope_head_dim, v_head_dim])?])?,
                kv_lora_rank,
                g,
                TpSplit::Rows,
            ));
            out.push(Tensor::new(
                AttnOutput,
                h,
                product(Q, &[heads, v_head_dim])?,
                g,
                TpSplit::Cols,
            ));
        }
    }
    if let Some(ix) = att.indexer {
        // DeepseekV32Indexer: wq_b reads the query latent (q_lora_rank), or the hidden
        // state when queries are not compressed
        let q_in = match att.kind {
            AttentionKind::Mla {
                q_lora_rank: Some(r),
                ..
            } => r,
            _ => h,
        };
        let width = product(Q, &[ix.heads, ix.head_dim])?;
        out.push(Tensor::new(Indexer, width, q_in, g, TpSplit::Replicated));
        out.push(Tensor::new(Indexer, ix.head_dim, h, g, TpSplit::Replicated));
        out.push(Tensor::vector(
            Norm,
            product(Q, &[ix.head_dim, 2])?,
            Group::Norm,
        ));
        out.push(Tensor::new(Indexer, ix.heads, h, g, TpSplit::Replicated));
    }
    if att.bias.output {
        out.push(Tensor::vector(Bias, h, g));
    }
    Ok(())
}

/// Push one MLP's tensors with the given roles for gate, up and down.
fn mlp(
    h: u64,
    mlp: &Mlp,
    [gate, up, down]: [TensorRole; 3],
    group: Group,
    out: &mut Vec<Tensor>,
) -> Result<()> {
    let f = mlp.intermediate_size;
    if mlp.kind == MlpKind::Gated {
        out.push(Tensor::new(gate, f, h, group, TpSplit::Rows));
    }
    out.push(Tensor::new(up, f, h, group, TpSplit::Rows));
    out.push(Tensor::new(down, h, f, group, TpSplit::Cols));
    if mlp.bias {
        let inner = match mlp.kind {
            MlpKind::Gated => product(Q, &[2, f])?,
            MlpKind::Plain => f,
        };
        out.push(Tensor::vector(
            TensorRole::Bias,
            sum(Q, &[inner, h])?,
            group,
        ));
    }
    Ok(())
}

/// The tensors of each multi-token-prediction layer (its block and its own extras),
/// or nothing when the model has none.
///
/// # Errors
/// [`crate::CoreError::Overflow`].
pub fn mtp_layer_tensors(arch: &Architecture) -> Result<Vec<Tensor>> {
    let Some(mtp) = &arch.mtp else {
        return Ok(Vec::new());
    };
    let mut out = block_tensors(arch, &mtp.block)?;
    out.extend(mtp.extra.iter().map(|t| named(t, TensorRole::OtherMatrix)));
    Ok(out)
}
