//! A uniform decoder stack as most config classes describe it, before it becomes a
//! layer schedule.
//!
//! Most families build every layer alike except for two patterns: the first layers
//! dense before the mixture-of-experts layers (`first_k_dense_replace`,
//! `decoder_sparse_step`) and sliding-window layers among global ones (`layer_types`,
//! `sliding_window_pattern`). Their readers fill a [`Draft`] the way their config class
//! reads its keys; [`Draft::build`] lays the layers out as a
//! [`Schedule`](sizeup_core::arch::Schedule).

use sizeup_core::arch::{
    Architecture, Attention, AttentionBias, AttentionKind, Block, BlockFfn, Embedding, Mixer, Mlp,
    NormKind, Norms, QkNorm, Schedule, SharedExperts, Span, Tower, MAX_LAYERS,
};

/// A uniform stack with an optional dense prefix and sliding-window pattern.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Draft {
    pub model_type: String,
    pub hidden_size: u64,
    pub num_layers: u64,
    pub vocab_size: u64,
    pub max_context: u64,
    pub attention: DraftAttention,
    pub ffn: Ffn,
    pub norm: DraftNorms,
    pub embedding: Embedding,
    pub parallel_block: bool,
    pub extra: Vec<Tower>,
}

/// Attention shared by every layer, with the layers that slide.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DraftAttention {
    pub kind: AttentionKind,
    pub bias: AttentionBias,
    pub qk_norm: QkNorm,
    pub sinks: bool,
    pub window: Option<SlidingWindow>,
}

/// A sliding window and which layers use it (`local[i]` for layer `i`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SlidingWindow {
    pub size: u64,
    pub local: Vec<bool>,
}

/// The dense MLP and, for MoE models, the experts of the last `moe_layers` layers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ffn {
    pub dense: Mlp,
    pub moe: Option<Moe>,
}

/// A mixture of experts on the last `moe_layers` layers (the first ones stay dense).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Moe {
    pub num_experts: u64,
    pub experts_per_token: u64,
    pub expert: Mlp,
    pub shared: Option<SharedExperts>,
    pub moe_layers: u64,
    pub router_bias: bool,
}

/// Norm kind, norms per block and outside the blocks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct DraftNorms {
    pub kind: NormKind,
    pub per_layer: u64,
    pub final_norm: bool,
    pub embedding_norm: bool,
}

impl Draft {
    /// Lay the stack out layer by layer: dense layers first, then the MoE layers; a
    /// layer slides when its window flag says so.
    pub(crate) fn build(self) -> Architecture {
        let dense_layers = match &self.ffn.moe {
            Some(m) => self.num_layers.saturating_sub(m.moe_layers),
            None => self.num_layers,
        };
        self.lay_out(|i| i >= dense_layers)
    }

    /// Lay the stack out with the experts on the layers `sparse` flags (a config's
    /// `mlp_layer_types`) instead of after a dense prefix; `moe_layers` is not read.
    pub(crate) fn build_with_moe_on(self, sparse: &[bool]) -> Architecture {
        self.lay_out(|i| {
            usize::try_from(i)
                .ok()
                .and_then(|i| sparse.get(i))
                .copied()
                .unwrap_or(false)
        })
    }

    fn lay_out(self, is_moe: impl Fn(u64) -> bool) -> Architecture {
        let attention = |span| Attention {
            bias: self.attention.bias,
            qk_norm: self.attention.qk_norm,
            sinks: self.attention.sinks,
            span,
            ..Attention::plain(self.attention.kind)
        };
        let layers = (0..self.num_layers).map(|i| {
            let span = match &self.attention.window {
                Some(w) if w.local.get(i as usize).copied().unwrap_or(false) => {
                    Span::Window(w.size)
                }
                _ => Span::Full,
            };
            let ffn = match &self.ffn.moe {
                Some(m) if is_moe(i) => BlockFfn::Moe(sizeup_core::arch::Moe {
                    num_experts: m.num_experts,
                    experts_per_token: m.experts_per_token,
                    expert: m.expert,
                    shared: m.shared,
                    router_bias: m.router_bias,
                }),
                _ => BlockFfn::Dense(self.ffn.dense),
            };
            Block {
                mixer: Mixer::Attention(attention(span)),
                ffn,
                norms: self.norm.per_layer,
                parallel: self.parallel_block,
                extra: Vec::new(),
            }
        });
        let schedule = if self.num_layers > MAX_LAYERS {
            // one run of the claimed depth, so the door check refuses it by its value
            let mut first = Schedule::from_layers(layers.take(1));
            first.runs = vec![(0, self.num_layers)];
            first
        } else {
            Schedule::from_layers(layers)
        };
        Architecture {
            model_type: self.model_type,
            hidden_size: self.hidden_size,
            vocab_size: self.vocab_size,
            max_context: self.max_context,
            layers: schedule,
            norm: Norms {
                kind: self.norm.kind,
                final_norm: self.norm.final_norm,
                embedding_norm: self.norm.embedding_norm,
            },
            embedding: self.embedding,
            mtp: None,
            towers: self.extra,
        }
    }
}
