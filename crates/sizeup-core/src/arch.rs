//! `Architecture`: the one plain description of a network that flows through sizeup.
//!
//! Readers (Hugging Face configs, GGUF metadata, the catalog) build it; every cost
//! model reads it. It carries no file format and no presentation unit: sizes are
//! element counts, and nothing here knows where the numbers came from.
//!
//! The shape is deliberately a little richer than "layers × hidden": exact counts
//! need the family quirks (which projections carry biases, how many norms a block
//! has, whether positions are learned), and the KV cache needs the attention layout
//! (GQA, MLA, sliding windows).

use serde::{Deserialize, Serialize};

/// A decoder-only transformer language model, as far as cost is concerned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Architecture {
    /// The Hugging Face `model_type` this description came from (`llama`, `qwen3_moe`…),
    /// or a descriptive tag (`lesson`) for hand-made ones.
    pub model_type: String,
    /// `h`: width of the residual stream.
    pub hidden_size: u64,
    /// `L`: number of decoder blocks.
    pub num_layers: u64,
    /// `V`: rows of the token embedding (and of the LM head).
    pub vocab_size: u64,
    /// The longest context the model was built for (`max_position_embeddings`).
    pub max_context: u64,
    /// Attention layout shared by every block.
    pub attention: Attention,
    /// The feed-forward part of every block (dense, or mixture of experts).
    pub ffn: Ffn,
    /// Normalisation layers: kind and how many sit in each block.
    pub norm: Norms,
    /// Token and position embeddings and the LM head.
    pub embedding: Embedding,
    /// `true` when attention and MLP read the same normalised input in parallel
    /// (GPT-J, Falcon, Phi-1, GPT-NeoX with `use_parallel_residual`). It changes
    /// activations stored for training, not the parameter count.
    pub parallel_block: bool,
    /// Parameter groups outside the language model proper (a vision tower and its
    /// projector), each counted as its own line.
    pub extra: Vec<ExtraGroup>,
}

/// Multi-head attention in one of its layouts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attention {
    /// How queries, keys and values are projected and what the KV cache holds.
    pub kind: AttentionKind,
    /// Bias vectors on the projections.
    pub bias: AttentionBias,
    /// Normalisation applied to queries and keys.
    pub qk_norm: QkNorm,
    /// Learned per-head attention sinks (gpt-oss): `a` parameters per layer.
    pub sinks: bool,
    /// Sliding-window layers, if any.
    pub window: Option<SlidingWindow>,
}

/// The projection layout of attention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AttentionKind {
    /// Standard attention: MHA when `kv_heads == heads`, MQA when `kv_heads == 1`,
    /// GQA in between. Projections q `h×a·d`, k and v `h×k·d`, o `a·d×h`.
    Standard {
        /// `a`: query heads.
        heads: u64,
        /// `k`: key/value heads.
        kv_heads: u64,
        /// `d`: width of one head (not always `h/a`: Gemma, Qwen3).
        head_dim: u64,
    },
    /// Multi-head latent attention (DeepSeek-V2/V3): low-rank projections and a
    /// compressed KV cache of `kv_lora_rank + qk_rope_head_dim` per token per layer.
    Mla {
        /// `a`: attention heads.
        heads: u64,
        /// Rank of the query compression; `None` projects queries directly.
        q_lora_rank: Option<u64>,
        /// Rank of the joint key/value compression (the cached latent).
        kv_lora_rank: u64,
        /// Per-head query/key width without rotary embedding.
        qk_nope_head_dim: u64,
        /// Per-head query/key width with rotary embedding (shared key part is cached).
        qk_rope_head_dim: u64,
        /// Per-head value width.
        v_head_dim: u64,
    },
}

/// Which attention projections carry a bias vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AttentionBias {
    /// Bias on q, k and v (Qwen2, GPT-2, OPT, BLOOM…).
    pub qkv: bool,
    /// Bias on the output projection.
    pub output: bool,
}

/// Normalisation of queries and keys inside attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QkNorm {
    /// None.
    #[default]
    None,
    /// One norm of width `d` shared by all query heads and one for keys (Qwen3, Gemma3).
    PerHeadShared,
    /// A norm over the whole projection: `a·d` for queries, `k·d` for keys (OLMo2),
    /// of the block norms' kind.
    Full,
    /// One scale-only norm per head, not shared: `a·d` weights for queries and `k·d`
    /// for keys, whatever kind the block norms are. StableLM with `qk_layernorm` keeps
    /// LayerNorms with bias in its blocks but `LayerNorm(d, bias=False)` per head, so
    /// `Full` would count the q/k norms twice.
    FullScaleOnly,
}

/// Sliding-window attention on some or all layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlidingWindow {
    /// Tokens a local layer attends to (and caches).
    pub size: u64,
    /// How many of the `L` layers are local; the rest attend to the whole context.
    pub local_layers: u64,
}

/// The feed-forward part of the blocks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ffn {
    /// The dense MLP, used by every layer that is not a mixture-of-experts layer.
    pub dense: Mlp,
    /// The mixture of experts, if the model has one.
    pub moe: Option<Moe>,
}

/// A dense MLP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mlp {
    /// Gated (SwiGLU/GeGLU: three matrices) or plain (two matrices).
    pub kind: MlpKind,
    /// `f`: intermediate width.
    pub intermediate_size: u64,
    /// Bias vectors on the MLP projections.
    pub bias: bool,
}

/// The shape of an MLP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MlpKind {
    /// Gate, up and down projections: `3·h·f` weights.
    Gated,
    /// Up and down projections: `2·h·f` weights.
    Plain,
}

/// A mixture-of-experts feed-forward layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moe {
    /// `E`: routed experts per MoE layer.
    pub num_experts: u64,
    /// `e`: routed experts each token uses.
    pub experts_per_token: u64,
    /// One routed expert.
    pub expert: Mlp,
    /// Shared experts that every token uses, if any.
    pub shared: Option<SharedExperts>,
    /// Number of layers that are MoE layers; the other `L − moe_layers` use the dense MLP
    /// (`first_k_dense_replace` in DeepSeek, `decoder_sparse_step` in Qwen2-MoE).
    pub moe_layers: u64,
    /// The router has a bias vector (gpt-oss).
    pub router_bias: bool,
}

/// Always-active experts beside the routed ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedExperts {
    /// The shared MLP; several shared experts are one MLP of their summed width.
    pub mlp: Mlp,
    /// A scalar sigmoid gate `h×1` on the shared output (Qwen2-MoE). The reference
    /// groups it with the router (`moe_router`), not with the shared experts.
    pub gate: bool,
}

/// Normalisation layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Norms {
    /// Which normalisation, which decides parameters per element.
    pub kind: NormKind,
    /// Norms of width `h` in each block (2 for pre-norm blocks, 1 for parallel
    /// blocks, 4 for Gemma 2/3's sandwich norms).
    pub per_layer: u64,
    /// A final norm after the last block.
    pub final_norm: bool,
    /// A norm right after the token embedding (BLOOM).
    pub embedding_norm: bool,
}

/// Kinds of normalisation layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormKind {
    /// RMSNorm: a scale per element.
    RmsNorm,
    /// LayerNorm: a scale and a bias per element.
    LayerNorm,
    /// LayerNorm with a scale and no bias (Cohere, StableLM q/k norms).
    LayerNormNoBias,
    /// LayerNorm without learned parameters (OLMo 1).
    NonParametric,
}

impl NormKind {
    /// Learned parameters per normalised element.
    pub fn params_per_element(self) -> u64 {
        match self {
            NormKind::RmsNorm | NormKind::LayerNormNoBias => 1,
            NormKind::LayerNorm => 2,
            NormKind::NonParametric => 0,
        }
    }
}

/// Token embedding, learned positions and the LM head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Embedding {
    /// The LM head is the embedding matrix (counted once).
    pub tied: bool,
    /// Rows of a learned position embedding (GPT-2, OPT); 0 for rotary/ALiBi models.
    pub learned_positions: u64,
    /// The LM head carries a bias of `V` (GPT-J, Phi-1).
    pub lm_head_bias: bool,
}

/// A parameter group outside the language model (for example a vision tower).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtraGroup {
    /// What it is (`vision_and_projector`).
    pub name: String,
    /// Its exact parameter count.
    pub params: u64,
}

/// The most decoder blocks an estimate accepts.
///
/// Real models have at most a few hundred (Llama-3.1-405B: 126); the per-layer
/// estimates walk every layer, so a config claiming billions would hang them.
pub const MAX_LAYERS: u64 = 1 << 16;

impl Architecture {
    /// Check that every estimate can work on this architecture, as readers do at the door.
    ///
    /// # Errors
    /// [`crate::CoreError::Invalid`] for more than [`MAX_LAYERS`] layers, more experts
    /// per token than experts, or more MoE layers than layers;
    /// [`crate::CoreError::Overflow`] when the parameter count or the KV cache of one
    /// token does not fit in a `u64`.
    pub fn check(&self) -> crate::Result<()> {
        self.check_layers()?;
        if let Some(moe) = &self.ffn.moe {
            if moe.experts_per_token > moe.num_experts {
                return Err(crate::CoreError::Invalid {
                    field: "num_experts_per_tok",
                    value: moe.experts_per_token.to_string(),
                    expected: format!("at most the {} routed experts", moe.num_experts),
                });
            }
            if moe.moe_layers > self.num_layers {
                return Err(crate::CoreError::Invalid {
                    field: "moe_layers",
                    value: moe.moe_layers.to_string(),
                    expected: format!("at most the {} layers", self.num_layers),
                });
            }
        }
        crate::params::count(self)?;
        crate::kv::size(
            self,
            &crate::kv::KvRequest {
                seq_len: 1,
                batch: 1,
                dtype: crate::KvDtype::Fp16,
                tp: 1,
                block_tokens: None,
            },
        )?;
        Ok(())
    }

    /// Check the layer count against [`MAX_LAYERS`].
    ///
    /// # Errors
    /// [`crate::CoreError::Invalid`] naming `num_hidden_layers`.
    pub fn check_layers(&self) -> crate::Result<()> {
        if self.num_layers > MAX_LAYERS {
            return Err(crate::CoreError::Invalid {
                field: "num_hidden_layers",
                value: self.num_layers.to_string(),
                expected: format!("at most {MAX_LAYERS} (real models have a few hundred at most)"),
            });
        }
        Ok(())
    }

    /// Query heads `a`.
    pub fn heads(&self) -> u64 {
        match self.attention.kind {
            AttentionKind::Standard { heads, .. } | AttentionKind::Mla { heads, .. } => heads,
        }
    }

    /// Key/value heads `k` as the cache sees them (MLA caches one shared latent: 1).
    pub fn kv_heads(&self) -> u64 {
        match self.attention.kind {
            AttentionKind::Standard { kv_heads, .. } => kv_heads,
            AttentionKind::Mla { .. } => 1,
        }
    }

    /// Width of one query/key head `d` (MLA: `qk_nope_head_dim + qk_rope_head_dim`).
    pub fn head_dim(&self) -> u64 {
        match self.attention.kind {
            AttentionKind::Standard { head_dim, .. } => head_dim,
            AttentionKind::Mla {
                qk_nope_head_dim,
                qk_rope_head_dim,
                ..
            } => qk_nope_head_dim + qk_rope_head_dim,
        }
    }

    /// A short name for the attention layout: `MHA`, `GQA`, `MQA` or `MLA`,
    /// with `+SWA` when some layers use a sliding window.
    pub fn attention_layout(&self) -> String {
        let base = match self.attention.kind {
            AttentionKind::Mla { .. } => "MLA",
            AttentionKind::Standard {
                heads, kv_heads, ..
            } => {
                if kv_heads == heads {
                    "MHA"
                } else if kv_heads == 1 {
                    "MQA"
                } else {
                    "GQA"
                }
            }
        };
        match self.attention.window {
            Some(w) if w.local_layers > 0 => format!("{base}+SWA"),
            _ => base.to_string(),
        }
    }

    /// Whether the model routes tokens to experts.
    pub fn is_moe(&self) -> bool {
        self.ffn.moe.is_some()
    }

    /// Number of layers that use the dense MLP.
    pub fn dense_layers(&self) -> u64 {
        match &self.ffn.moe {
            Some(moe) => self.num_layers.saturating_sub(moe.moe_layers),
            None => self.num_layers,
        }
    }
}
