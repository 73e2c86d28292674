//! Building an [`Architecture`] from the handful of numbers papers publish.
//!
//! Papers and benchmark tables give layers, hidden size, heads, FFN width and
//! vocabulary, not a config file. [`Shape`] turns those into a full architecture
//! in one of two block styles, so validation cases and hand-made what-ifs share
//! the exact counting path.

use serde::{Deserialize, Serialize};

use crate::arch::*;
use crate::error::{CoreError, Result};

/// The two block styles that published tables describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockStyle {
    /// Llama: RMSNorm, SwiGLU MLP, rotary positions, no biases, untied head.
    Llama,
    /// GPT-2/3 and Megatron GPT: LayerNorm, GeLU MLP with biases, learned
    /// positions, biases everywhere, LM head tied to the embedding.
    Gpt,
}

/// The published numbers of a dense decoder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    /// Block style.
    pub style: BlockStyle,
    /// `L`.
    pub layers: u64,
    /// `h`.
    pub hidden: u64,
    /// `a`.
    pub heads: u64,
    /// `k` (equal to `a` for MHA).
    pub kv_heads: u64,
    /// `d`; `None` means `h/a`.
    pub head_dim: Option<u64>,
    /// `f`.
    pub ffn: u64,
    /// `V`.
    pub vocab: u64,
    /// Longest context (and learned positions for the GPT style).
    pub max_context: u64,
}

impl Shape {
    /// A Llama-style shape with MHA (`k = a`), `d = h/a` and a 4096-token context.
    pub fn llama(
        layers: u64,
        hidden: u64,
        heads: u64,
        kv_heads: u64,
        ffn: u64,
        vocab: u64,
    ) -> Shape {
        Shape {
            style: BlockStyle::Llama,
            layers,
            hidden,
            heads,
            kv_heads,
            head_dim: None,
            ffn,
            vocab,
            max_context: 4096,
        }
    }

    /// A GPT-style shape with `f = 4h` and a 2048-token context.
    pub fn gpt(layers: u64, hidden: u64, heads: u64, vocab: u64) -> Shape {
        Shape {
            style: BlockStyle::Gpt,
            layers,
            hidden,
            heads,
            kv_heads: heads,
            head_dim: None,
            // saturating: a width this large overflows the count, which says so
            ffn: hidden.saturating_mul(4),
            vocab,
            max_context: 2048,
        }
    }

    /// Build the architecture.
    ///
    /// # Errors
    /// [`CoreError::Zero`] for a zero size; [`CoreError::Invalid`] when `a` does not
    /// divide `h` (without an explicit head dim) or `k` does not divide `a`.
    pub fn build(&self) -> Result<Architecture> {
        for (field, v) in [
            ("layers", self.layers),
            ("hidden", self.hidden),
            ("heads", self.heads),
            ("kv_heads", self.kv_heads),
            ("ffn", self.ffn),
            ("vocab", self.vocab),
        ] {
            if v == 0 {
                return Err(CoreError::Zero { field });
            }
        }
        let head_dim = match self.head_dim {
            Some(d) => d,
            None if self.hidden % self.heads == 0 => self.hidden / self.heads,
            None => {
                return Err(CoreError::Invalid {
                    field: "heads",
                    value: self.heads.to_string(),
                    expected: format!("a divisor of hidden size {}", self.hidden),
                })
            }
        };
        if self.heads % self.kv_heads != 0 {
            return Err(CoreError::Invalid {
                field: "kv_heads",
                value: self.kv_heads.to_string(),
                expected: format!("a divisor of the {} attention heads", self.heads),
            });
        }
        let gpt = self.style == BlockStyle::Gpt;
        let block = Block {
            mixer: Mixer::Attention(Attention {
                bias: AttentionBias {
                    qkv: gpt,
                    output: gpt,
                },
                ..Attention::plain(AttentionKind::Standard {
                    heads: self.heads,
                    kv_heads: self.kv_heads,
                    head_dim,
                })
            }),
            ffn: BlockFfn::Dense(Mlp {
                kind: if gpt { MlpKind::Plain } else { MlpKind::Gated },
                intermediate_size: self.ffn,
                bias: gpt,
            }),
            norms: 2,
            parallel: false,
            extra: Vec::new(),
        };
        Ok(Architecture {
            model_type: match self.style {
                BlockStyle::Llama => "llama".into(),
                BlockStyle::Gpt => "gpt2".into(),
            },
            hidden_size: self.hidden,
            vocab_size: self.vocab,
            max_context: self.max_context,
            layers: Schedule::uniform(block, self.layers),
            norm: Norms {
                kind: if gpt {
                    NormKind::LayerNorm
                } else {
                    NormKind::RmsNorm
                },
                final_norm: true,
                embedding_norm: false,
            },
            embedding: Embedding {
                tied: gpt,
                learned_positions: if gpt { self.max_context } else { 0 },
                lm_head_bias: false,
                alibi: false,
            },
            mtp: None,
            towers: Vec::new(),
        })
    }
}
