//! Token mixers: what a layer uses to let tokens see each other.
//!
//! Attention in every head layout is structured data (its shape decides the KV cache,
//! the roofline and LoRA targets). Recurrent mixers (linear attention, selective state
//! spaces, short convolutions) differ from family to family in how they lay out their
//! projections, so the reader lists their tensors and their per-sequence state; every
//! estimate folds over that list.

use serde::{Deserialize, Serialize};

use super::Group;

/// The token mixer of one layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Mixer {
    /// Softmax attention over cached keys and values.
    Attention(Attention),
    /// A recurrent mixer with a fixed state per sequence: linear attention (Gated
    /// DeltaNet, Kimi Delta Attention), a selective state space (Mamba-1/2) or a short
    /// convolution (LFM2).
    Recurrent(Recurrent),
}

/// Softmax attention in one of its layouts.
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
    /// Which past tokens a query sees, and so how many the cache keeps.
    #[serde(default)]
    pub span: Span,
    /// A sigmoid output gate computed by the query projection, which doubles its width
    /// (Qwen3-Next, Qwen3.5 `attn_output_gate`): `q` is `h → 2·a·d`.
    #[serde(default)]
    pub output_gate: bool,
    /// Keys double as values: no `v` projection (Gemma 4 global layers,
    /// `attention_k_eq_v`). The cache still holds keys and values apart, as
    /// transformers' `DynamicLayer` does for Gemma 4.
    #[serde(default)]
    pub k_eq_v: bool,
    /// Keys and values are an earlier layer's (Gemma 3n's last `num_kv_shared_layers`
    /// reuse those of the last layer of their kind before them): no k/v projections
    /// and no k norm, and no cache of its own.
    #[serde(default)]
    pub kv_shared: bool,
    /// A sparse-attention indexer that picks the keys each query attends to
    /// (DeepSeek-V3.2 DSA); it has projections and a key cache of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indexer: Option<Indexer>,
    /// Attention whose weights and cache its reader lists, because no layout above
    /// describes them (DeepSeek-V4: one key that is also the value, a low-rank query,
    /// a grouped low-rank output, KV compressors). Its tensors replace the ones
    /// `kind`, `bias`, `qk_norm`, `sinks` and `indexer` would give; `kind` still gives
    /// the heads and head widths, and `span` the tokens its per-token cache keeps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listed: Option<ListedAttention>,
}

/// The tensors and cache of an attention its reader lists ([`Attention::listed`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedAttention {
    /// Every weight tensor, as the reader derived them from the config.
    pub tensors: Vec<NamedTensor>,
    /// Values cached per token, kept for the tokens of the span (DeepSeek-V4: one
    /// head of `d` values that serves as key and value, stored once).
    pub cached_per_token: u64,
    /// A compressed cache kept beside it over the whole sequence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compressed: Option<CompressedKv>,
}

/// A cache of one entry of `width` values for every `ratio` tokens of the sequence
/// (DeepSeek-V4's compressed keys/values, with the indexer's compressed keys).
///
/// # Source
/// transformers `DeepseekV4HCACache` / `DeepseekV4CSACache`: `compressed_kv` gains one
/// entry per closed window of `compress_rate` tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompressedKv {
    /// Tokens per entry.
    pub ratio: u64,
    /// Values per entry (all compressed series of the layer together).
    pub width: u64,
    /// Entries each query attends to once an indexer has picked them (DeepSeek-V4's
    /// CSA: `index_topk`); `None` when every entry is attended (HCA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected: Option<u64>,
}

impl Attention {
    /// Plain attention of `kind`: no biases, no q/k norms, no sinks, over the whole
    /// context, no output gate, separate keys and values of its own, no indexer. Readers set
    /// what their family adds.
    pub fn plain(kind: AttentionKind) -> Attention {
        Attention {
            kind,
            bias: AttentionBias::default(),
            qk_norm: QkNorm::None,
            sinks: false,
            span: Span::Full,
            output_gate: false,
            k_eq_v: false,
            kv_shared: false,
            indexer: None,
            listed: None,
        }
    }

    /// The head layout in a word: `MHA`, `GQA`, `MQA` or `MLA`, with `+DSA` when a
    /// sparse-attention indexer picks the keys.
    pub fn layout(&self) -> &'static str {
        let mla = matches!(self.kind, AttentionKind::Mla { .. });
        match (mla, self.indexer.is_some()) {
            (true, true) => "MLA+DSA",
            (true, false) => "MLA",
            (false, indexed) => {
                let (a, k) = (self.kind.heads(), self.kind.kv_heads());
                match (k == a, k == 1, indexed) {
                    (true, _, false) => "MHA",
                    (true, _, true) => "MHA+DSA",
                    (false, true, false) => "MQA",
                    (false, true, true) => "MQA+DSA",
                    (false, false, false) => "GQA",
                    (false, false, true) => "GQA+DSA",
                }
            }
        }
    }
}

/// Which past tokens a query attends to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "type", content = "tokens", rename_all = "snake_case")]
pub enum Span {
    /// Every earlier token of the sequence.
    #[default]
    Full,
    /// The last `tokens` tokens (sliding window); the cache keeps at most that many.
    Window(u64),
    /// Tokens of the same chunk of `tokens` (Llama 4 chunked attention); the cache
    /// keeps at most one chunk.
    Chunk(u64),
    /// Cross-attention to `tokens` outputs of an encoder (one image's tiles and
    /// patches, Llama 3.2 Vision): keys and values come from the image, not from the
    /// context, so the cache holds `tokens` per image whatever the text length and a
    /// text token adds nothing to it.
    Encoder(u64),
}

impl Span {
    /// The most tokens a layer with this span caches per sequence (`u64::MAX` for full;
    /// for an encoder span, exactly that many per image).
    pub fn cached_tokens(self) -> u64 {
        match self {
            Span::Full => u64::MAX,
            Span::Window(n) | Span::Chunk(n) | Span::Encoder(n) => n,
        }
    }

    /// Whether each token of the context adds keys and values (every span but
    /// cross-attention to an encoder's outputs).
    pub fn grows_with_context(self) -> bool {
        !matches!(self, Span::Encoder(_))
    }
}

/// The projection layout of attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

impl AttentionKind {
    /// Query heads `a`.
    pub fn heads(self) -> u64 {
        match self {
            AttentionKind::Standard { heads, .. } | AttentionKind::Mla { heads, .. } => heads,
        }
    }

    /// Key/value heads as the cache sees them (MLA caches one shared latent: 1).
    pub fn kv_heads(self) -> u64 {
        match self {
            AttentionKind::Standard { kv_heads, .. } => kv_heads,
            AttentionKind::Mla { .. } => 1,
        }
    }

    /// Width of one query/key head (MLA: `qk_nope_head_dim + qk_rope_head_dim`).
    pub fn qk_head_dim(self) -> u64 {
        match self {
            AttentionKind::Standard { head_dim, .. } => head_dim,
            AttentionKind::Mla {
                qk_nope_head_dim,
                qk_rope_head_dim,
                ..
            } => qk_nope_head_dim.saturating_add(qk_rope_head_dim),
        }
    }

    /// Width of one value head.
    pub fn v_head_dim(self) -> u64 {
        match self {
            AttentionKind::Standard { head_dim, .. } => head_dim,
            AttentionKind::Mla { v_head_dim, .. } => v_head_dim,
        }
    }
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

/// DeepSeek sparse attention's lightning indexer (DeepSeek-V3.2, GLM-5).
///
/// # Source
/// transformers `DeepseekV32Indexer`: `wq_b` `q_lora_rank → n·d`, `wk` `h → d`,
/// `k_norm` LayerNorm `d` (weight and bias), `weights_proj` `h → n`; the indexer caches
/// one key of `d` values per token per layer (vLLM `DeepseekV32IndexerCache`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Indexer {
    /// `n`: indexer heads (`index_n_heads`).
    pub heads: u64,
    /// `d`: indexer head width, also the cached key width (`index_head_dim`).
    pub head_dim: u64,
    /// Keys each query attends to after selection (`index_topk`).
    pub top_k: u64,
}

/// A recurrent token mixer: its tensors and the state it keeps per sequence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recurrent {
    /// Which family of recurrence (for names, and the scan's cost per token).
    pub kind: RecurrentKind,
    /// Every weight tensor of the mixer, as its reader derived them from the config.
    pub tensors: Vec<NamedTensor>,
    /// Values of the recurrent state per sequence (`heads·d_k·d_v` for linear
    /// attention, `d_inner·d_state` for Mamba), kept whatever the context.
    pub state_elements: u64,
    /// Values of the causal-convolution state per sequence: `conv_dim` times the kernel
    /// width the reader's reference cache keeps (transformers' `LinearAttentionLayer`
    /// keeps the whole kernel, vLLM `kernel − 1`); each reader says which it follows.
    pub conv_elements: u64,
}

/// Families of recurrent mixers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecurrentKind {
    /// Gated DeltaNet linear attention (Qwen3-Next, Qwen3.5).
    GatedDeltaNet,
    /// Kimi Delta Attention (Kimi Linear).
    KimiDelta,
    /// Mamba-1 selective state space (Mamba, Jamba, Falcon-Mamba).
    Mamba,
    /// Mamba-2 state-space duality (Mamba-2, Nemotron-H, Granite 4, Falcon-H1).
    Mamba2,
    /// Gated short convolution (LFM2).
    ShortConv,
}

impl RecurrentKind {
    /// A short name for tables (`GDN`, `KDA`, `Mamba`, `Mamba2`, `conv`).
    pub fn name(self) -> &'static str {
        match self {
            RecurrentKind::GatedDeltaNet => "GDN",
            RecurrentKind::KimiDelta => "KDA",
            RecurrentKind::Mamba => "Mamba",
            RecurrentKind::Mamba2 => "Mamba2",
            RecurrentKind::ShortConv => "conv",
        }
    }
}

/// A weight tensor a reader lists by name: `rows × cols` scalars.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedTensor {
    /// Its name inside the layer as the reference implementation calls it (`in_proj`).
    pub name: String,
    /// Output features (1 for a vector).
    pub rows: u64,
    /// Input features (the length of one row).
    pub cols: u64,
    /// Which breakdown group it counts in.
    pub group: Group,
    /// Whether a forward pass multiplies activations by it (a projection), as opposed
    /// to a vector or a convolution kernel applied elementwise.
    pub matmul: bool,
}

impl NamedTensor {
    /// A projection `cols → rows` counted in `group`.
    pub fn matrix(name: &str, rows: u64, cols: u64, group: Group) -> NamedTensor {
        NamedTensor {
            name: name.to_string(),
            rows,
            cols,
            group,
            matmul: true,
        }
    }

    /// A vector (or a kernel applied elementwise) of `len` scalars in `group`.
    pub fn vector(name: &str, len: u64, group: Group) -> NamedTensor {
        NamedTensor {
            name: name.to_string(),
            rows: 1,
            cols: len,
            group,
            matmul: false,
        }
    }
}
