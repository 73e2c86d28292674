//! One decoder block: its token mixer, its feed-forward part and its norms.

use serde::{Deserialize, Serialize};

use super::mixer::{Attention, Mixer, NamedTensor, Recurrent};

/// One decoder block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// How tokens see each other in this layer.
    pub mixer: Mixer,
    /// The feed-forward part.
    pub ffn: BlockFfn,
    /// Norms of width `h` in the block (2 for pre-norm blocks, 1 for parallel blocks,
    /// 4 for Gemma 2/3's sandwich norms, 1 for a Mamba block without FFN).
    pub norms: u64,
    /// `true` when the mixer and the FFN read the same normalised input in parallel
    /// (GPT-J, Falcon, Phi-1, GPT-NeoX with `use_parallel_residual`, Cohere). It
    /// changes activations stored for training, not the parameter count.
    #[serde(default)]
    pub parallel: bool,
    /// Tensors of the block outside mixer, FFN and norms (a per-layer scalar, a
    /// per-layer input gate), as the reader names them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra: Vec<NamedTensor>,
}

/// The feed-forward part of a block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockFfn {
    /// A dense MLP.
    Dense(Mlp),
    /// A mixture of experts.
    Moe(Moe),
    /// No feed-forward part (Mamba blocks).
    None,
}

impl Block {
    /// The block's attention, if its mixer is attention.
    pub fn attention(&self) -> Option<&Attention> {
        match &self.mixer {
            Mixer::Attention(a) => Some(a),
            Mixer::Recurrent(_) => None,
        }
    }

    /// The block's recurrent mixer, if it has one.
    pub fn recurrent(&self) -> Option<&Recurrent> {
        match &self.mixer {
            Mixer::Recurrent(r) => Some(r),
            Mixer::Attention(_) => None,
        }
    }

    /// The block's mixture of experts, if its FFN is one.
    pub fn moe(&self) -> Option<&Moe> {
        match &self.ffn {
            BlockFfn::Moe(m) => Some(m),
            _ => None,
        }
    }

    /// The block's dense MLP, if its FFN is one.
    pub fn dense(&self) -> Option<&Mlp> {
        match &self.ffn {
            BlockFfn::Dense(m) => Some(m),
            _ => None,
        }
    }

    /// Check the sizes every estimate divides by or compares.
    ///
    /// # Errors
    /// [`crate::CoreError::Invalid`] for zero heads, zero KV heads, a zero head width,
    /// a zero window, or more experts per token than experts.
    pub fn check(&self) -> crate::Result<()> {
        let invalid = |field: &'static str, value: u64, expected: String| {
            Err(crate::CoreError::Invalid {
                field,
                value: value.to_string(),
                expected,
            })
        };
        if let Some(a) = self.attention() {
            if a.kind.heads() == 0 {
                return invalid("num_attention_heads", 0, "at least 1".into());
            }
            if a.kind.kv_heads() == 0 {
                return invalid("num_key_value_heads", 0, "at least 1".into());
            }
            if a.kind.qk_head_dim() == 0 || a.kind.v_head_dim() == 0 {
                return invalid("head_dim", 0, "at least 1".into());
            }
            if a.span.cached_tokens() == 0 {
                return invalid("sliding_window", 0, "at least 1 token".into());
            }
            if let Some(c) = a.listed.as_ref().and_then(|l| l.compressed) {
                if c.ratio == 0 {
                    return invalid("compress_rates", 0, "at least 1 token per entry".into());
                }
            }
        }
        if let Some(moe) = self.moe() {
            if moe.num_experts == 0 {
                return invalid("num_experts", 0, "at least 1".into());
            }
            if moe.experts_per_token > moe.num_experts {
                return invalid(
                    "num_experts_per_tok",
                    moe.experts_per_token,
                    format!("at most the {} routed experts", moe.num_experts),
                );
            }
        }
        Ok(())
    }
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
    /// `E`: routed experts.
    pub num_experts: u64,
    /// `e`: routed experts each token uses.
    pub experts_per_token: u64,
    /// One routed expert.
    pub expert: Mlp,
    /// Shared experts that every token uses, if any.
    pub shared: Option<SharedExperts>,
    /// The router has a bias vector (gpt-oss).
    pub router_bias: bool,
}

/// Always-active experts beside the routed ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedExperts {
    /// The shared MLP; several shared experts are one MLP of their summed width.
    pub mlp: Mlp,
    /// A scalar sigmoid gate `h×1` on the shared output (Qwen2-MoE, Qwen3-Next). The
    /// reference groups it with the router (`moe_router`), not with the shared experts.
    pub gate: bool,
}
