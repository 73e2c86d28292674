//! The operator list: every operation of a forward pass, block by block.
//!
//! [`block_ops`] turns one block of the schedule into its operations, in the
//! order a forward pass runs them: the weight products (one per weight matrix of
//! [`crate::params::block_tensors`], with the tensor it reads and the dimension
//! tensor parallelism splits), the attention core or the recurrent scan, and the
//! element-wise passes. [`list`] does it once per distinct block and records how
//! many layers run each, so a fold costs O(distinct blocks), not O(layers).
//!
//! The list does not depend on the pass: sizes are per token. A [`Matmul`] of
//! `m` tokens is the product `m×k · k×n` (`2·m·n·k` FLOPs per active copy); an
//! [`AttentionOp`] attends each query to the tokens its span allows
//! ([`AttentionOp::attended`]); a [`ScanOp`] updates a fixed state per sequence.
//! [`forward`] prices a whole pass of a given shape in FLOPs and bytes.
//!
//! Every estimate folds over the same list: parameter counts
//! ([`crate::params::count_of`]) and weight bytes over its tensors, LoRA targets
//! ([`crate::training::lora::matrices_of`]), parameters and model states per GPU,
//! the KV cache row of each attention op and the state of each scan, the training
//! FLOPs' attention term, the training layer time (one GEMM per fused run of
//! products), the stored activations, the serving roofline (the stored weights
//! grouped by [`Stage`], the attention and scan ops priced from their own FLOPs and
//! bytes) and the serving activation workspace. The catalog test
//! `sizeup-formats/tests/ops.rs` holds each estimate's totals to the list.
//!
//! Example, one Llama-3.1-8B block (h 4096, 32 heads of 128, 8 KV heads, f 14336),
//! 32 layers:
//!
//! ```text
//! MixerIn     Matmul q  n 4096  k 4096  Rows            (q·k·v one kernel)
//!             Matmul k  n 1024  k 4096  Rows  fused
//!             Matmul v  n 1024  k 4096  Rows  fused
//! Mixer       Attention 32 heads, d_qk = d_v = 128, span full, cache 2048 values over 8 heads
//! MixerOut    Matmul o  n 4096  k 4096  Cols
//! FfnUp       Matmul gate n 14336 k 4096 Rows          (gate·up one kernel)
//!             Matmul up   n 14336 k 4096 Rows  fused
//! FfnDown     Matmul down n 4096  k 14336 Cols
//! Elementwise 16·h bytes per token (norms, residuals), replicated
//!             6·f bytes per token (SwiGLU), split over t
//! ```

use serde::{Deserialize, Serialize};

use crate::arch::{
    Architecture, AttentionKind, Block, BlockFfn, CompressedKv, Indexer, Mixer, MlpKind, Span,
};
use crate::error::Result;
use crate::kv;
use crate::params::{block_tensors, Tensor, TensorRole, TpSplit};
use crate::units::{self, sum};

/// The quantity an overflow of an attention width names.
const W: &str = "attention width";

/// Where in a block an operation sits. The six stages of weight products come
/// first, so that `stage as usize` below [`Stage::PRODUCTS`] indexes them;
/// [`Stage::order`] is the order a forward pass runs them in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Projections into the token mixer (q, k, v, MLA down and up projections, the
    /// indexer's, a recurrent mixer's and listed attention's projections, per-layer
    /// extras).
    MixerIn,
    /// The attention output projection.
    MixerOut,
    /// Dense MLP and shared experts' gate and up projections (and the shared
    /// experts' scalar gate).
    FfnUp,
    /// Dense MLP and shared experts' down projection.
    FfnDown,
    /// The MoE router.
    Router,
    /// The routed experts.
    Experts,
    /// The attention core or the recurrent scan.
    Mixer,
    /// Element-wise passes (norms, residuals, the MLP activation).
    Elementwise,
}

impl Stage {
    /// Stages of weight products: `MixerIn` to `Experts`.
    pub const PRODUCTS: usize = 6;

    /// Position in a forward pass: mixer input, mixer, mixer output, FFN up and
    /// down, router, experts, element-wise passes.
    pub fn order(self) -> u8 {
        match self {
            Stage::MixerIn => 0,
            Stage::Mixer => 1,
            Stage::MixerOut => 2,
            Stage::FfnUp => 3,
            Stage::FfnDown => 4,
            Stage::Router => 5,
            Stage::Experts => 6,
            Stage::Elementwise => 7,
        }
    }

    /// The stage of the product that reads a weight of `role`; `None` for vectors
    /// and for tensors outside the blocks.
    pub fn of(role: TensorRole) -> Option<Stage> {
        use TensorRole::*;
        Some(match role {
            AttnQ | AttnK | AttnV | AttnQA | AttnQB | AttnKvA | AttnKvB | Indexer
            | RecurrentMatrix | OtherMatrix => Stage::MixerIn,
            AttnOutput => Stage::MixerOut,
            FfnGate | FfnUp | SharedGate | SharedUp | SharedExpertGate => Stage::FfnUp,
            FfnDown | SharedDown => Stage::FfnDown,
            ExpertGate | ExpertUp | ExpertDown => Stage::Experts,
            Router => Stage::Router,
            _ => return None,
        })
    }
}

/// Roles whose products run as one kernel with their neighbours of the same class
/// (`q·k·v` from one input, gate and up).
fn fusion(role: TensorRole) -> Option<u8> {
    use TensorRole::*;
    match role {
        AttnQ | AttnK | AttnV => Some(0),
        FfnGate | FfnUp => Some(1),
        ExpertGate | ExpertUp => Some(2),
        SharedGate | SharedUp => Some(3),
        _ => None,
    }
}

/// A product of the tokens' activations with one weight tensor.
///
/// For `m` tokens: `m×k · k×n`, repeated for each of `active` copies a token uses
/// (routed experts: `e` of `E`), `2·m·n·k·active` FLOPs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matmul {
    /// The weight's role.
    pub role: TensorRole,
    /// Output features per token (the weight's rows, whole).
    pub n: u64,
    /// Input features per token (the weight's cols, whole).
    pub k: u64,
    /// Weight matrices of this shape (`E` routed experts, else 1).
    pub copies: u64,
    /// Copies one token multiplies by (`e` routed experts, else 1).
    pub active: u64,
    /// Which dimension tensor parallelism splits (`Rows`: `n`, `Cols`: `k`).
    pub tp: TpSplit,
    /// Runs in one kernel with the product before it (q·k·v, gate·up).
    pub fused: bool,
    /// Index of the weight in the block's tensors ([`BlockOps::tensors`]).
    pub tensor: usize,
}

impl Matmul {
    /// Weight elements: `n·k·copies`.
    pub fn weight_elements(&self) -> u64 {
        self.n.saturating_mul(self.k).saturating_mul(self.copies)
    }

    /// FLOPs per token: `2·n·k·active`.
    pub fn flops_per_token(&self) -> f64 {
        2.0 * self.n as f64 * self.k as f64 * self.active as f64
    }

    /// Output features on one of `tp` ranks.
    pub fn n_per_rank(&self, tp: f64) -> f64 {
        match self.tp {
            TpSplit::Rows => self.n as f64 / tp,
            _ => self.n as f64,
        }
    }

    /// Input features on one of `tp` ranks.
    pub fn k_per_rank(&self, tp: f64) -> f64 {
        match self.tp {
            TpSplit::Cols => self.k as f64 / tp,
            _ => self.k as f64,
        }
    }
}

/// Softmax attention over the cache (or the sequence, in training).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttentionOp {
    /// Query heads `a` (split over tensor-parallel ranks).
    pub heads: u64,
    /// Query/key width per head as trained (MLA: `d_nope + d_rope`).
    pub qk_dim: u64,
    /// Value width per head as trained.
    pub v_dim: u64,
    /// Query/key and value widths per head when serving: MLA attends over its latent
    /// (absorbed: `r_kv + d_r` and `r_kv`); otherwise as trained.
    pub serve_dims: (u64, u64),
    /// Query, key and value widths per token the core reads (`a·d`, `k·d`, `k·d`;
    /// MLA `a·(d_n + d_r)` twice and `a·d_v`), and its output width.
    pub qkv_out_widths: [u64; 4],
    /// Latents an MLA layer keeps per token outside the tensor-parallel region
    /// (`r_q + r_kv + d_r`), else 0.
    pub latents: u64,
    /// Which tokens a query sees.
    pub span: Span,
    /// Whether new tokens add keys and values (not when reusing an earlier layer's).
    pub writes_cache: bool,
    /// Keys each query attends to at most (a sparse indexer's top-k).
    pub selected: Option<u64>,
    /// Values cached per token, and the heads they split into under tensor parallelism.
    pub cached: (u64, u64),
    /// Query heads per key/value head (GQA group; 1 for MLA and listed attention).
    pub query_groups: Option<(u64, u64)>,
    /// A compressed cache beside the per-token one (DeepSeek-V4).
    pub compressed: Option<CompressedKv>,
    /// A sparse-attention indexer scoring every cached key.
    pub indexer: Option<Indexer>,
}

impl AttentionOp {
    /// Keys one new query attends to on average, of `new` tokens after `cached`:
    /// `min(cached + (new + 1)/2, span, top-k)` (causal), or the encoder tokens.
    pub fn attended(&self, cached: f64, new: f64) -> f64 {
        let span = match self.span {
            Span::Full => f64::INFINITY,
            Span::Window(n) | Span::Chunk(n) | Span::Encoder(n) => n as f64,
        };
        if self.span.grows_with_context() {
            let selected = self.selected.map_or(f64::INFINITY, |k| k as f64);
            (cached + (new + 1.0) / 2.0).min(span).min(selected)
        } else {
            span
        }
    }

    /// Tokens of the cache a pass reads and writes per sequence: `(read, written)`.
    pub fn cache_tokens(&self, cached: f64, new: f64) -> (f64, f64) {
        if self.span.grows_with_context() {
            let span = match self.span {
                Span::Full => f64::INFINITY,
                Span::Window(n) | Span::Chunk(n) | Span::Encoder(n) => n as f64,
            };
            let written = if self.writes_cache { new } else { 0.0 };
            ((cached + new).min(span), written)
        } else {
            let span = self.span.cached_tokens() as f64;
            (span, 0.0)
        }
    }

    /// FLOPs of `tokens` queries attending to `attended` keys each with per-head
    /// widths `dims`, on one of `tp` ranks: `2·T·a/t·(d_qk + d_v)·ctx`.
    pub fn flops(&self, tokens: f64, attended: f64, tp: f64, dims: (u64, u64)) -> f64 {
        2.0 * tokens * self.heads as f64 / tp * (dims.0 + dims.1) as f64 * attended
    }

    /// Entries of the compressed cache (DeepSeek-V4) one new query attends to, of `new`
    /// tokens after `cached`: one per `ratio` tokens before it, or the indexer's pick;
    /// and the entries a pass reads per sequence. `None` without a compressed cache.
    pub fn compressed_entries(&self, cached: f64, new: f64) -> Option<(f64, f64)> {
        let c = self.compressed?;
        let ratio = c.ratio.max(1) as f64;
        let selected = c.selected.map_or(f64::INFINITY, |k| k as f64);
        let attended = ((cached + (new + 1.0) / 2.0) / ratio).floor().min(selected);
        Some((attended, ((cached + new) / ratio).floor()))
    }

    /// FLOPs of a sparse indexer scoring every cached key for `tokens` queries with
    /// `cached + new` keys each: `2·T·n_i·d_i·(cached + new)`; 0 without an indexer.
    pub fn indexer_flops(&self, tokens: f64, cached: f64, new: f64) -> f64 {
        self.indexer.map_or(0.0, |ix| {
            2.0 * tokens * (ix.heads * ix.head_dim) as f64 * (cached + new)
        })
    }

    /// Forward FLOPs per token of `layers` such layers over `s` tokens as training
    /// counts them (the full `s×s` product, Megatron's convention):
    /// `2·L·a·(d_qk + d_v)·min(s, span)`, written `4·L·(a·(d_qk + d_v)/2)·span`.
    pub fn training_flops_per_token(&self, layers: u64, seq_len: u64) -> f64 {
        // in f64: an estimate, and no product of two widths to overflow (exact,
        // as the integer halving was, below 2^53)
        let width = (self.heads as f64 * (self.qk_dim as f64 + self.v_dim as f64) / 2.0).floor();
        let span = seq_len.min(self.span.cached_tokens());
        4.0 * layers as f64 * width * span as f64
    }
}

/// A recurrent mixer's scan: a fixed state per sequence updated once per token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanOp {
    /// Recurrent state values per sequence.
    pub state: u64,
    /// Convolution state values per sequence.
    pub conv: u64,
}

/// FLOPs per token and per value of recurrent state for one scan step: a delta-rule
/// or selective-scan update reads, decays, updates and reads out each state value
/// (about 4 multiply-adds), after Yang et al. 2024 (Gated DeltaNet) and Dao & Gu 2024
/// (Mamba-2 SSD, chunked form).
pub const SCAN_FLOPS_PER_STATE_VALUE: f64 = 8.0;

impl ScanOp {
    /// FLOPs of `tokens` steps on one of `tp` ranks.
    pub fn flops(&self, tokens: f64, tp: f64) -> f64 {
        SCAN_FLOPS_PER_STATE_VALUE * tokens * self.state as f64 / tp
    }
}

/// Bytes of element-wise traffic per token and layer in the forward pass outside
/// the MLP activation, with fused kernels, in units of `h`: the two norms' reads
/// and writes and the residual adds (about 8 passes of 2 bytes).
///
/// # Source
/// Calibrated on Korthikanti et al. 2022 Table 4 (22B, t = 8, b = 4): sequence
/// parallelism, which splits exactly this traffic over `t`, saves 0.6 ms of 19.6 ms
/// per layer; with 16·h bytes the model gives 20.2 → 19.1 ms against 19.6 → 19.0.
pub const FUSED_ELEMENTWISE_PER_H: u64 = 16;

/// An element-wise pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElementwiseOp {
    /// Bytes read and written per token (per active copy).
    pub bytes_per_token: u64,
    /// Features it runs over per copy (`f` for the MLP activation, `h` otherwise).
    pub width: u64,
    /// Copies per token (a routed expert's activation runs `e` times).
    pub active: u64,
    /// `Rows`: inside the tensor-parallel region (split over `t`); `Replicated`:
    /// outside it (split only with sequence parallelism).
    pub tp: TpSplit,
    /// The MLP activation (SwiGLU or GeLU) rather than norms and residuals.
    pub activation: bool,
    /// A gated activation (`act(gate)·up`) rather than a plain one.
    pub gated: bool,
}

/// One operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OpKind {
    /// A weight product.
    Matmul(Matmul),
    /// The attention core.
    Attention(AttentionOp),
    /// A recurrent scan.
    Scan(ScanOp),
    /// An element-wise pass.
    Elementwise(ElementwiseOp),
}

/// One operation of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    /// Where it runs.
    pub stage: Stage,
    /// What it does.
    pub kind: OpKind,
}

/// The operations of one distinct block, with its weight tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockOps {
    /// Index of the block in the schedule's blocks.
    pub block: usize,
    /// Layers that run it.
    pub layers: u64,
    /// Its weight tensors ([`crate::params::block_tensors`]).
    pub tensors: Vec<Tensor>,
    /// Its operations, in order.
    pub ops: Vec<Op>,
}

impl BlockOps {
    /// The weight products.
    pub fn matmuls(&self) -> impl Iterator<Item = &Matmul> + '_ {
        self.ops.iter().filter_map(|o| match &o.kind {
            OpKind::Matmul(m) => Some(m),
            _ => None,
        })
    }

    /// The attention core, if any.
    pub fn attention(&self) -> Option<&AttentionOp> {
        self.ops.iter().find_map(|o| match &o.kind {
            OpKind::Attention(a) => Some(a),
            _ => None,
        })
    }

    /// The recurrent scan, if any.
    pub fn scan(&self) -> Option<&ScanOp> {
        self.ops.iter().find_map(|o| match &o.kind {
            OpKind::Scan(s) => Some(s),
            _ => None,
        })
    }

    /// The element-wise passes.
    pub fn elementwise(&self) -> impl Iterator<Item = &ElementwiseOp> + '_ {
        self.ops.iter().filter_map(|o| match &o.kind {
            OpKind::Elementwise(e) => Some(e),
            _ => None,
        })
    }
}

/// The operator list of a model: each distinct block's operations and the LM head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpList {
    /// Distinct blocks in first-use order, each with the layers that run it.
    pub blocks: Vec<BlockOps>,
    /// The LM head (the embedding when tied): `V` outputs from `h` inputs.
    pub head: Matmul,
}

/// The operations of `block`, in the order a forward pass runs them.
///
/// # Formula
/// ```text
/// products:    one per weight matrix of the block (n = rows, k = cols; routed experts
///              E copies of which e active), q·k·v and gate·up fused
/// attention:   a heads of d_qk, d_v (MLA served over its latent: r_kv + d_r, r_kv)
/// scan:        state + conv values per sequence
/// elementwise: 16·h bytes per token outside the tensor-parallel region; the MLP
///              activation 4·f (plain) or 6·f (gated) bytes per token inside it
/// ```
///
/// # Errors
/// [`crate::CoreError::Overflow`] when a size does not fit in a `u64`.
pub fn block_ops(arch: &Architecture, block: &Block) -> Result<BlockOps> {
    let tensors = block_tensors(arch, block)?;
    let active = match &block.ffn {
        BlockFfn::Moe(m) => m.experts_per_token,
        _ => 1,
    };
    let mut products = Vec::with_capacity(tensors.len());
    let mut last_fusion = None;
    for (i, t) in tensors.iter().enumerate() {
        let Some(stage) = Stage::of(t.role) else {
            continue;
        };
        let f = fusion(t.role);
        let fused = f.is_some() && f == last_fusion;
        last_fusion = f;
        products.push((
            stage,
            Matmul {
                role: t.role,
                n: t.rows,
                k: t.cols,
                copies: t.copies,
                active: if stage == Stage::Experts {
                    active
                } else {
                    t.copies
                },
                tp: t.tp,
                fused,
                tensor: i,
            },
        ));
    }
    // stable: products keep their tensor order within a stage
    products.sort_by_key(|p| p.0.order());
    let product = |&(stage, m): &(Stage, Matmul)| Op {
        stage,
        kind: OpKind::Matmul(m),
    };
    let split = products
        .iter()
        .position(|p| p.0 != Stage::MixerIn)
        .unwrap_or(products.len());
    let mut ops = Vec::with_capacity(products.len() + 4);
    ops.extend(products[..split].iter().map(product));
    match &block.mixer {
        Mixer::Attention(att) => {
            let (heads, serve_dims, widths, latents) = match att.kind {
                AttentionKind::Standard {
                    heads,
                    kv_heads,
                    head_dim,
                } => {
                    let (q, kv) = (
                        units::product(W, &[heads, head_dim])?,
                        units::product(W, &[kv_heads, head_dim])?,
                    );
                    (heads, (head_dim, head_dim), [q, kv, kv, q], 0)
                }
                AttentionKind::Mla {
                    heads,
                    q_lora_rank,
                    kv_lora_rank,
                    qk_nope_head_dim,
                    qk_rope_head_dim,
                    v_head_dim,
                } => {
                    let qk = units::product(
                        W,
                        &[heads, sum(W, &[qk_nope_head_dim, qk_rope_head_dim])?],
                    )?;
                    let v = units::product(W, &[heads, v_head_dim])?;
                    (
                        heads,
                        (sum(W, &[kv_lora_rank, qk_rope_head_dim])?, kv_lora_rank),
                        [qk, qk, v, v],
                        sum(
                            W,
                            &[q_lora_rank.unwrap_or(0), kv_lora_rank, qk_rope_head_dim],
                        )?,
                    )
                }
            };
            let query_groups = match att.kind {
                AttentionKind::Standard {
                    heads, kv_heads, ..
                } => Some((heads, kv_heads)),
                AttentionKind::Mla { .. } => None,
            };
            ops.push(Op {
                stage: Stage::Mixer,
                kind: OpKind::Attention(AttentionOp {
                    heads,
                    qk_dim: att.kind.qk_head_dim(),
                    v_dim: att.kind.v_head_dim(),
                    serve_dims,
                    qkv_out_widths: widths,
                    latents,
                    span: att.span,
                    writes_cache: !att.kv_shared,
                    selected: att.indexer.map(|ix| ix.top_k),
                    cached: kv::cached_width(att)?,
                    query_groups,
                    compressed: att.listed.as_ref().and_then(|l| l.compressed),
                    indexer: att.indexer,
                }),
            });
        }
        Mixer::Recurrent(r) => ops.push(Op {
            stage: Stage::Mixer,
            kind: OpKind::Scan(ScanOp {
                state: r.state_elements,
                conv: r.conv_elements,
            }),
        }),
    }
    ops.extend(products[split..].iter().map(product));
    ops.push(Op {
        stage: Stage::Elementwise,
        kind: OpKind::Elementwise(ElementwiseOp {
            bytes_per_token: FUSED_ELEMENTWISE_PER_H.saturating_mul(arch.hidden_size),
            width: arch.hidden_size,
            active: 1,
            tp: TpSplit::Replicated,
            activation: false,
            gated: false,
        }),
    });
    let mut activation = |mlp: &crate::arch::Mlp, active: u64| {
        // read the pre-activation(s), write the product: plain 2+2, gated 4+2 bytes per f
        let per_f = match mlp.kind {
            MlpKind::Plain => 4,
            MlpKind::Gated => 6,
        };
        ops.push(Op {
            stage: Stage::Elementwise,
            kind: OpKind::Elementwise(ElementwiseOp {
                bytes_per_token: mlp.intermediate_size.saturating_mul(per_f),
                width: mlp.intermediate_size,
                active,
                tp: TpSplit::Rows,
                activation: true,
                gated: mlp.kind == MlpKind::Gated,
            }),
        });
    };
    match &block.ffn {
        BlockFfn::Moe(moe) => {
            activation(&moe.expert, moe.experts_per_token);
            if let Some(shared) = &moe.shared {
                activation(&shared.mlp, 1);
            }
        }
        BlockFfn::Dense(mlp) => activation(mlp, 1),
        BlockFfn::None => {}
    }
    Ok(BlockOps {
        block: 0,
        layers: 0,
        tensors,
        ops,
    })
}

/// The operator list of `arch`: [`block_ops`] for each distinct block with the number
/// of layers that run it, and the LM head.
///
/// # Errors
/// [`crate::CoreError::Overflow`] when a size does not fit in a `u64`.
pub fn list(arch: &Architecture) -> Result<OpList> {
    let blocks = arch
        .layers
        .counted()
        .enumerate()
        .filter(|(_, (_, n))| *n > 0)
        .map(|(i, (block, n))| {
            let mut b = block_ops(arch, block)?;
            b.block = i;
            b.layers = n;
            Ok(b)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(OpList {
        blocks,
        head: Matmul {
            role: if arch.embedding.tied {
                TensorRole::TokenEmbedding
            } else {
                TensorRole::LmHead
            },
            n: arch.vocab_size,
            k: arch.hidden_size,
            copies: 1,
            active: 1,
            tp: TpSplit::Rows,
            fused: false,
            tensor: 0,
        },
    })
}

impl OpList {
    /// The operations of block `index` of the schedule, if a layer runs it.
    pub fn block(&self, index: usize) -> Option<&BlockOps> {
        self.blocks.iter().find(|b| b.block == index)
    }
}

/// The shape of one forward pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassShape {
    /// Sequences in the pass.
    pub sequences: u64,
    /// New tokens per sequence.
    pub new_tokens: u64,
    /// Tokens already cached per sequence.
    pub cached_tokens: u64,
}

/// FLOPs and bytes of one forward pass, by kind of operation, whole model, one rank
/// (`tp = 1`), 16-bit weights and activations.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Forward {
    /// Weight products (the LM head for one token per sequence included).
    pub matmul_flops: f64,
    /// Attention cores (indexer and compressed cache included).
    pub attention_flops: f64,
    /// Recurrent scans.
    pub scan_flops: f64,
    /// Weight elements the products read (routed experts: all `E`).
    pub weight_elements: u64,
    /// Bytes of the per-token KV cache the pass reads and writes (16-bit).
    pub cache_bytes: f64,
    /// Bytes of recurrent state read and written.
    pub state_bytes: f64,
    /// Bytes of element-wise traffic.
    pub elementwise_bytes: f64,
}

impl Forward {
    /// All FLOPs.
    pub fn flops(&self) -> f64 {
        self.matmul_flops + self.attention_flops + self.scan_flops
    }
}

/// FLOPs and bytes of a forward pass of `shape` over `list`: each block's operations
/// times its layers, then the head for the last token of each sequence.
///
/// # Formula
/// ```text
/// products:  2·T·n·k·active             T = sequences · new tokens
/// attention: 2·T·a·(d_qk + d_v)·ctx    (served widths; ctx from AttentionOp::attended)
/// scan:      8·T·state
/// ```
pub fn forward(list: &OpList, shape: &PassShape) -> Forward {
    let tokens = shape.sequences as f64 * shape.new_tokens as f64;
    let seqs = shape.sequences as f64;
    let (cached, new) = (shape.cached_tokens as f64, shape.new_tokens as f64);
    let mut f = Forward::default();
    for b in &list.blocks {
        let layers = b.layers as f64;
        for op in &b.ops {
            match &op.kind {
                OpKind::Matmul(m) => {
                    f.matmul_flops += layers * tokens * m.flops_per_token();
                    f.weight_elements = f
                        .weight_elements
                        .saturating_add(m.weight_elements().saturating_mul(b.layers));
                }
                OpKind::Attention(a) => {
                    let ctx = a.attended(cached, new);
                    f.attention_flops += layers * a.flops(tokens, ctx, 1.0, a.serve_dims);
                    if let Some((ctx, _)) = a.compressed_entries(cached, new) {
                        f.attention_flops += layers * a.flops(tokens, ctx, 1.0, a.serve_dims);
                    }
                    f.attention_flops += layers * a.indexer_flops(tokens, cached, new);
                    let (read, written) = a.cache_tokens(cached, new);
                    f.cache_bytes += layers * seqs * (read + written) * 2.0 * a.cached.0 as f64;
                }
                OpKind::Scan(s) => {
                    f.scan_flops += layers * s.flops(tokens, 1.0);
                    f.state_bytes += layers
                        * 2.0
                        * seqs
                        * (s.state + s.conv) as f64
                        * kv::STATE_BYTES_PER_ELEMENT as f64;
                }
                OpKind::Elementwise(e) => {
                    f.elementwise_bytes +=
                        layers * tokens * e.active as f64 * e.bytes_per_token as f64;
                }
            }
        }
    }
    f.matmul_flops += seqs * list.head.flops_per_token();
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_llama_block_is_five_kernels_attention_and_two_passes() {
        // Llama-3.1-8B: h 4096, 32 heads of 128, 8 KV heads, f 14336
        let arch = crate::testing::llama31_8b();
        let list = list(&arch).unwrap();
        assert_eq!(list.blocks.len(), 1);
        let b = &list.blocks[0];
        assert_eq!(b.layers, 32);
        let products: Vec<_> = b
            .matmuls()
            .map(|m| (m.role, m.n, m.k, m.tp, m.fused))
            .collect();
        use TensorRole::*;
        use TpSplit::*;
        assert_eq!(
            products,
            [
                (AttnQ, 4096, 4096, Rows, false),
                (AttnK, 1024, 4096, Rows, true),
                (AttnV, 1024, 4096, Rows, true),
                (AttnOutput, 4096, 4096, Cols, false),
                (FfnGate, 14336, 4096, Rows, false),
                (FfnUp, 14336, 4096, Rows, true),
                (FfnDown, 4096, 14336, Cols, false),
            ]
        );
        let att = b.attention().unwrap();
        assert_eq!((att.heads, att.qk_dim, att.v_dim), (32, 128, 128));
        // 2·k·d values cached per token, split over the 8 KV heads
        assert_eq!(att.cached, (2048, 8));
        let passes: Vec<_> = b.elementwise().map(|e| e.bytes_per_token).collect();
        assert_eq!(passes, [16 * 4096, 6 * 14336]);

        // a decode step of one token over 999 cached: 2·(block weights + head) + attention
        let f = forward(
            &list,
            &PassShape {
                sequences: 1,
                new_tokens: 1,
                cached_tokens: 999,
            },
        );
        let block = 4096 * (4096 + 2 * 1024) + 4096 * 4096 + 3 * 4096 * 14336;
        assert_eq!(f.weight_elements, 32 * block);
        assert_eq!(f.matmul_flops, 2.0 * (32 * block + 128256 * 4096) as f64);
        // 2·a·(d + d)·1000 per layer
        assert_eq!(f.attention_flops, 32.0 * 2.0 * 32.0 * 256.0 * 1000.0);
        // 1000 tokens read and one written, 2048 values of 2 bytes per layer
        assert_eq!(f.cache_bytes, 32.0 * 1001.0 * 2048.0 * 2.0);
    }
}
