//! `Architecture`: the one plain description of a network that flows through sizeup.
//!
//! Readers (Hugging Face configs, GGUF metadata, the catalog) build it; every cost
//! model reads it. It carries no file format and no presentation unit: sizes are
//! element counts, and nothing here knows where the numbers came from.
//!
//! The network is described **layer by layer** as a [`Schedule`]: the distinct kinds
//! of [`Block`] a model uses and the order they come in (a run-length pattern), so a
//! uniform Llama stack, Gemma's sliding/global pattern, DeepSeek's first dense layers,
//! Llama 4's MoE-every-other-layer and Qwen3-Next's three linear-attention layers per
//! full-attention layer are one notion. Each block has a token [`Mixer`], an
//! [`BlockFfn`] and its norms; beside the blocks sit the embeddings, the head, the
//! multi-token-prediction layers ([`Mtp`]) and encoder towers ([`Tower`]).

mod block;
mod mixer;
mod schedule;

use serde::{Deserialize, Serialize};

pub use block::{Block, BlockFfn, Mlp, MlpKind, Moe, SharedExperts};
pub use mixer::{
    Attention, AttentionBias, AttentionKind, CompressedKv, Indexer, ListedAttention, Mixer,
    NamedTensor, QkNorm, Recurrent, RecurrentKind, Span,
};
pub use schedule::{CountedIn, CountedInIter, Run, Schedule};

/// `max_context` of a model with no position limit (a pure state-space stack): 2⁵³,
/// far above any context and exact in every format the architecture is written to
/// (TOML integers are 64-bit signed, JSON readers often use doubles).
pub const UNBOUNDED_CONTEXT: u64 = 1 << 53;

/// A decoder-only language model (and the towers beside it), as far as cost is concerned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Architecture {
    /// The Hugging Face `model_type` this description came from (`llama`, `qwen3_next`…),
    /// or a descriptive tag (`lesson`) for hand-made ones.
    pub model_type: String,
    /// `h`: width of the residual stream.
    pub hidden_size: u64,
    /// `V`: rows of the token embedding (and of the LM head).
    pub vocab_size: u64,
    /// The longest context the model was built for (`max_position_embeddings`);
    /// [`UNBOUNDED_CONTEXT`] for a model with no position limit.
    pub max_context: u64,
    /// The decoder stack, layer by layer.
    pub layers: Schedule,
    /// Normalisation kind and the norms outside the blocks.
    pub norm: Norms,
    /// Token and position embeddings and the LM head.
    pub embedding: Embedding,
    /// Multi-token-prediction layers shipped in the checkpoint (DeepSeek-V3, GLM-4.5+,
    /// Qwen3-Next): used for speculative decoding, not built by transformers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtp: Option<Mtp>,
    /// Encoder towers and their projectors beside the language model (vision, audio),
    /// each counted as its own line.
    #[serde(default)]
    pub towers: Vec<Tower>,
}

/// Breakdown groups: where a parameter is counted, as the reference fixtures group them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    /// Token embedding.
    Embedding,
    /// Learned position embedding.
    PositionEmbedding,
    /// Attention projections, their biases, sinks and indexers.
    Attention,
    /// Dense MLPs.
    Mlp,
    /// Routed experts.
    MoeRoutedExperts,
    /// Shared experts.
    MoeSharedExperts,
    /// Routers and shared-expert gates.
    MoeRouter,
    /// Normalisation layers.
    Norm,
    /// The untied LM head.
    LmHead,
    /// Encoder towers and projectors.
    VisionAndProjector,
    /// Recurrent mixers: linear attention, state spaces, short convolutions.
    Recurrent,
    /// Anything else (per-layer scalars, extra projections).
    Other,
}

impl Tower {
    /// A vision tower with its projector, counted as `vision_and_projector`.
    pub fn vision(params: u64) -> Tower {
        Tower {
            name: "vision_and_projector".into(),
            params,
            group: Group::VisionAndProjector,
        }
    }
}

impl Group {
    /// [`Group::VisionAndProjector`], the group of an encoder tower.
    pub fn vision() -> Group {
        Group::VisionAndProjector
    }
}

/// Normalisation layers outside the blocks, and the kind all norms share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Norms {
    /// Which normalisation, which decides parameters per element.
    pub kind: NormKind,
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
    /// Attention adds ALiBi biases instead of rotating queries and keys (BLOOM, MPT,
    /// Falcon with `alibi`); a model with neither this nor learned positions rotates.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub alibi: bool,
}

/// Multi-token-prediction layers: each a full decoder block plus its own input norms
/// and the projection that joins the embedding with the previous hidden state.
///
/// # Source
/// DeepSeek-V3 technical report §2.2; vLLM `DeepSeekMultiTokenPredictorLayer`
/// (`enorm`, `hnorm` `h`, `eh_proj` `2h → h`, a decoder block, `shared_head.norm` `h`;
/// the embedding and the head are shared with the main model).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mtp {
    /// How many prediction layers (`num_nextn_predict_layers`).
    pub layers: u64,
    /// The decoder block of each.
    pub block: Block,
    /// Each layer's tensors outside its block (`eh_proj`, `enorm`, `hnorm`, …).
    pub extra: Vec<NamedTensor>,
}

/// An encoder tower beside the language model (a vision encoder with its projector),
/// or a piece of one that the reference groups elsewhere; also a tensor of the language
/// model outside its layers that no other field describes (Gemma 3n's per-layer
/// embeddings, Llama 3.2 Vision's extra embedding rows), which counts as text because
/// its group is not `vision_and_projector`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tower {
    /// What it is (`vision_and_projector`, `embed_vision.embedding_projection`).
    pub name: String,
    /// Its exact parameter count.
    pub params: u64,
    /// The breakdown group it counts in: [`Group::VisionAndProjector`] unless the
    /// reference places it elsewhere (Gemma 4's vision embedding projection: `other`).
    #[serde(default = "Group::vision")]
    pub group: Group,
}

/// The most decoder blocks an estimate accepts.
///
/// Real models have at most a few hundred (Llama-3.1-405B: 126); the per-layer
/// estimates walk every layer, so a config claiming billions would hang them.
pub const MAX_LAYERS: u64 = 1 << 16;

impl Architecture {
    /// `L`: decoder blocks in the stack.
    pub fn num_layers(&self) -> u64 {
        self.layers.len()
    }

    /// Each distinct block with the number of layers that use it, in first-use order.
    pub fn blocks(&self) -> impl Iterator<Item = (&Block, u64)> + '_ {
        self.layers.counted()
    }

    /// The block of layer `i` (0-based); `None` past the last layer.
    pub fn layer(&self, i: u64) -> Option<&Block> {
        self.layers.at(i)
    }

    /// Check that every estimate can work on this architecture, as readers do at the door.
    ///
    /// # Errors
    /// [`crate::CoreError::Invalid`] for an empty or malformed schedule, more than
    /// [`MAX_LAYERS`] layers, zero heads, or more experts per token than experts;
    /// [`crate::CoreError::Overflow`] when the parameter count or the KV cache of one
    /// token does not fit in a `u64`.
    pub fn check(&self) -> crate::Result<()> {
        self.check_layers()?;
        for (block, _) in self.blocks() {
            block.check()?;
        }
        if let Some(mtp) = &self.mtp {
            mtp.block.check()?;
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

    /// Check the schedule: at least one layer, at most [`MAX_LAYERS`], every run naming
    /// a block that exists.
    ///
    /// # Errors
    /// [`crate::CoreError::Invalid`] naming `num_hidden_layers` (or `layers.runs`).
    pub fn check_layers(&self) -> crate::Result<()> {
        self.layers.check()
    }

    /// The attention of the most common attention block, for one-line summaries; `None`
    /// for a model without attention layers (Mamba).
    pub fn primary_attention(&self) -> Option<&Attention> {
        self.blocks()
            .filter_map(|(b, n)| b.attention().map(|a| (a, n)))
            .max_by_key(|&(_, n)| n)
            .map(|(a, _)| a)
    }

    /// Query heads `a` of the primary attention (0 without attention).
    pub fn heads(&self) -> u64 {
        self.primary_attention().map_or(0, |a| a.kind.heads())
    }

    /// Key/value heads of the primary attention (MLA: 1; 0 without attention).
    pub fn kv_heads(&self) -> u64 {
        self.primary_attention().map_or(0, |a| a.kind.kv_heads())
    }

    /// Query/key head width of the primary attention (0 without attention).
    pub fn head_dim(&self) -> u64 {
        self.primary_attention().map_or(0, |a| a.kind.qk_head_dim())
    }

    /// A short name for the layer mix: `GQA`, `MHA+SWA`, `MLA`, `GDN+GQA`, `Mamba`…
    ///
    /// Attention layouts are `MHA`, `GQA`, `MQA` or `MLA` (`+DSA` with an indexer),
    /// with `+SWA` when some layers use a sliding window and `+chunked` for chunked
    /// layers and `+cross` for cross-attention to an encoder's outputs; recurrent
    /// mixers come first by their family's name.
    pub fn attention_layout(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        let mut windowed = false;
        let mut chunked = false;
        let mut crossed = false;
        for (block, _) in self.blocks() {
            let name = match &block.mixer {
                Mixer::Recurrent(r) => r.kind.name().to_string(),
                Mixer::Attention(a) => {
                    windowed |= matches!(a.span, Span::Window(_));
                    chunked |= matches!(a.span, Span::Chunk(_));
                    crossed |= matches!(a.span, Span::Encoder(_));
                    a.layout().to_string()
                }
            };
            if !parts.contains(&name) {
                parts.push(name);
            }
        }
        // recurrent families first, then attention layouts
        parts.sort_by_key(|p| !matches!(p.as_str(), "GDN" | "KDA" | "Mamba" | "Mamba2" | "conv"));
        let mut s = parts.join("+");
        if windowed {
            s.push_str("+SWA");
        }
        if chunked {
            s.push_str("+chunked");
        }
        if crossed {
            s.push_str("+cross");
        }
        s
    }

    /// The sliding window and how many layers use it (`None` when no layer slides).
    pub fn sliding_window(&self) -> Option<(u64, u64)> {
        let mut found: Option<(u64, u64)> = None;
        for (b, n) in self.blocks() {
            if let Some(Span::Window(size)) = b.attention().map(|a| a.span) {
                let (_, layers) = found.get_or_insert((size, 0));
                *layers = layers.saturating_add(n);
            }
        }
        found
    }

    /// Whether any layer has a recurrent mixer (linear attention, state space, conv).
    pub fn has_recurrent(&self) -> bool {
        self.blocks().any(|(b, _)| b.recurrent().is_some())
    }

    /// Whether any attention layer has a sparse-attention indexer.
    pub fn has_indexer(&self) -> bool {
        self.blocks()
            .any(|(b, _)| b.attention().is_some_and(|a| a.indexer.is_some()))
    }

    /// Whether any layer routes tokens to experts.
    pub fn is_moe(&self) -> bool {
        self.blocks().any(|(b, _)| b.moe().is_some())
    }

    /// The mixture of experts of the first MoE layer, for summaries.
    pub fn first_moe(&self) -> Option<&Moe> {
        self.blocks().find_map(|(b, _)| b.moe())
    }

    /// Number of layers whose FFN is a mixture of experts.
    pub fn moe_layers(&self) -> u64 {
        self.blocks()
            .filter(|(b, _)| b.moe().is_some())
            .map(|(_, n)| n)
            .sum()
    }

    /// Number of layers that use a dense MLP.
    pub fn dense_layers(&self) -> u64 {
        self.blocks()
            .filter(|(b, _)| matches!(b.ffn, BlockFfn::Dense(_)))
            .map(|(_, n)| n)
            .sum()
    }

    /// Number of attention layers (the ones that grow a KV cache).
    pub fn attention_layers(&self) -> u64 {
        self.blocks()
            .filter(|(b, _)| b.attention().is_some())
            .map(|(_, n)| n)
            .sum()
    }

    /// Apply `f` to every distinct block (for what-ifs that change every layer alike).
    pub fn map_blocks(&mut self, f: impl FnMut(&mut Block)) {
        self.layers.map_blocks(f);
    }

    /// Apply `f` to the attention of every attention block.
    pub fn map_attention(&mut self, mut f: impl FnMut(&mut Attention)) {
        self.layers.map_blocks(|b| {
            if let Mixer::Attention(a) = &mut b.mixer {
                f(a);
            }
        });
    }
}
