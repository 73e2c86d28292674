//! From GGUF metadata to a `sizeup_core::Architecture`.
//!
//! llama.cpp's converter writes the model's hyperparameters as
//! `{arch}.block_count`, `{arch}.embedding_length`, … (key names from
//! `LLM_KV_NAMES` in llama.cpp `src/llama-arch.cpp`). Each family's quirks
//! (biases, q/k norms, sandwich norms, sliding-window patterns, MLA, experts)
//! follow the transformers modeling file of the same family, so that the
//! parameter count of the result equals what the file's tensors hold.
//!
//! Values the file leaves out go through a documented rule, recorded as an
//! [`Assumption`].

use sizeup_core::arch::{
    AttentionBias, AttentionKind, Embedding, Mlp, MlpKind, NormKind, QkNorm, SharedExperts,
};
use sizeup_core::{Architecture, Assumption};

use crate::hf::draft::{
    Draft, DraftAttention as Attention, DraftNorms as Norms, Ffn, Moe, SlidingWindow,
};

use super::metadata::{Array, Value};
use super::reader::GgufFile;
use super::GgufError;

/// The `general.architecture` values this module turns into an [`Architecture`].
pub const SUPPORTED_ARCHITECTURES: [&str; 11] = [
    "llama",
    "mistral",
    "qwen2",
    "qwen3",
    "qwen2moe",
    "qwen3moe",
    "gemma2",
    "gemma3",
    "phi3",
    "deepseek2",
    "gpt-oss",
];

const SOURCE_META: &str = "GGUF metadata";

struct Keys<'a> {
    file: &'a GgufFile,
    arch: &'a str,
    assumptions: Vec<Assumption>,
}

impl Keys<'_> {
    fn name(&self, key: &str) -> String {
        format!("{}.{}", self.arch, key)
    }

    fn assume(&mut self, name: &str, value: impl ToString, source: impl Into<String>) {
        self.assumptions.push(Assumption {
            name: name.to_string(),
            value: value.to_string(),
            source: source.into(),
        });
    }

    /// `{arch}.{key}` as an unsigned integer; an integer array whose entries
    /// are all equal (a per-layer list) counts as that value.
    fn opt(&self, key: &str) -> Result<Option<u64>, GgufError> {
        let full = self.name(key);
        let Some(value) = self.file.metadata.get(&full) else {
            return Ok(None);
        };
        if let Some(v) = value.as_u64() {
            return Ok(Some(v));
        }
        let per_layer = value.as_array().and_then(Array::as_u64s);
        match per_layer.as_deref() {
            Some([first, rest @ ..]) if rest.iter().all(|v| v == first) => Ok(Some(*first)),
            Some(_) => Err(GgufError::VariesPerLayer {
                file: self.file.file.clone(),
                key: full,
            }),
            None => Err(GgufError::WrongKeyType {
                file: self.file.file.clone(),
                key: full,
                expected: "unsigned integer",
                found: value.value_type().name(),
            }),
        }
    }

    fn req(&self, key: &str) -> Result<u64, GgufError> {
        self.opt(key)?.ok_or_else(|| GgufError::MissingKey {
            file: self.file.file.clone(),
            key: self.name(key),
        })
    }

    /// An optional size that must be at least 1 when present.
    fn opt_positive(&self, key: &str) -> Result<Option<u64>, GgufError> {
        match self.opt(key)? {
            Some(0) => Err(self.invalid(key, 0, "at least 1")),
            v => Ok(v),
        }
    }

    /// A required size that must be at least 1.
    fn positive(&self, key: &str) -> Result<u64, GgufError> {
        match self.req(key)? {
            0 => Err(self.invalid(key, 0, "at least 1")),
            v => Ok(v),
        }
    }

    fn invalid(&self, key: &str, value: u64, expected: &'static str) -> GgufError {
        GgufError::InvalidValue {
            file: self.file.file.clone(),
            key: self.name(key),
            value: value.to_string(),
            expected,
        }
    }

    fn has_tensor(&self, name: &str) -> bool {
        self.file.tensors.iter().any(|t| t.name == name)
    }

    /// `V`: rows of `token_embd.weight`, else the tokenizer's length, else `{arch}.vocab_size`.
    fn vocab(&mut self) -> Result<u64, GgufError> {
        let embd = self
            .file
            .tensors
            .iter()
            .find(|t| t.name == "token_embd.weight");
        if let Some(&[_, rows]) = embd.map(|t| t.dims.as_slice()) {
            self.assume("vocab_size", rows, "rows of token_embd.weight");
            return Ok(rows);
        }
        let tokens = self.file.metadata.get("tokenizer.ggml.tokens");
        if let Some(n) = tokens.and_then(Value::as_array).map(Array::len) {
            self.assume("vocab_size", n, "length of tokenizer.ggml.tokens");
            return Ok(n as u64);
        }
        let v = self.req("vocab_size")?;
        self.assume("vocab_size", v, SOURCE_META);
        Ok(v)
    }

    /// Layers that use the sliding window, from `{arch}.attention.sliding_window_pattern`
    /// (a period `p`: every `p`-th layer is global; or one bool per layer), else
    /// the period llama.cpp hard-codes for the family.
    fn local_layers(
        &mut self,
        layers: u64,
        default_period: u64,
        source: &str,
    ) -> Result<Vec<bool>, GgufError> {
        let key = "attention.sliding_window_pattern";
        let value = self.file.metadata.get(&self.name(key));
        if let Some(Value::Array(Array::Bool(per_layer))) = value {
            if per_layer.len() as u64 != layers {
                return Err(self.invalid(key, per_layer.len() as u64, "one entry per layer"));
            }
            return Ok(per_layer.clone());
        }
        let period = match self.opt(key)? {
            Some(0) => return Err(self.invalid(key, 0, "at least 1")),
            Some(p) => p,
            None => {
                self.assume("sliding_window_pattern", default_period, source);
                default_period
            }
        };
        // layer i is global when i % p == p − 1 (llama.cpp `set_swa_pattern`)
        Ok((0..layers.min(sizeup_core::arch::MAX_LAYERS))
            .map(|i| i % period != period - 1)
            .collect())
    }
}

/// Build the architecture a GGUF file describes, with the assumptions made.
///
/// # Source
/// llama.cpp `src/llama-arch.cpp` (key names), `src/llama-model.cpp`
/// (`load_hparams`: defaults such as `head_count_kv = head_count`,
/// `key_length = embedding_length / head_count`, sliding-window patterns 2 for
/// Gemma 2 and gpt-oss, 6 for Gemma 3); transformers modeling files for which
/// projections carry biases and how many norms a block has.
///
/// # Assumptions / limits
/// The LM head is tied when the file has no `output.weight` (llama.cpp then
/// reuses `token_embd.weight`). `qwen2moe` is assumed to put experts in every
/// layer (`decoder_sparse_step = 1`). Files split in several parts carry all
/// keys in the first part, which is the one to read here.
///
/// # Errors
/// [`GgufError::UnsupportedArchitecture`] for other families; missing or
/// mistyped keys name the key.
pub fn architecture(file: &GgufFile) -> Result<(Architecture, Vec<Assumption>), GgufError> {
    let arch = match file.metadata.get("general.architecture") {
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(GgufError::WrongKeyType {
                file: file.file.clone(),
                key: "general.architecture".into(),
                expected: "string",
                found: other.value_type().name(),
            })
        }
        None => {
            return Err(GgufError::MissingKey {
                file: file.file.clone(),
                key: "general.architecture".into(),
            })
        }
    };
    if !SUPPORTED_ARCHITECTURES.contains(&arch) {
        return Err(GgufError::UnsupportedArchitecture {
            file: file.file.clone(),
            arch: arch.to_string(),
        });
    }
    let mut keys = Keys {
        file,
        arch,
        assumptions: Vec::new(),
    };
    let built = build(&mut keys)?;
    Ok((built, keys.assumptions))
}

fn build(k: &mut Keys) -> Result<Architecture, GgufError> {
    let h = k.positive("embedding_length")?;
    let layers = k.positive("block_count")?;
    let heads = k.positive("attention.head_count")?;
    let max_context = k.req("context_length")?;
    let vocab = k.vocab()?;
    let kv_heads = match k.opt("attention.head_count_kv")? {
        Some(0) => return Err(k.invalid("attention.head_count_kv", 0, "at least 1")),
        Some(v) => v,
        None => {
            k.assume(
                "num_key_value_heads",
                heads,
                "absent: equal to attention.head_count",
            );
            heads
        }
    };
    let head_dim = match k.opt_positive("attention.key_length")? {
        Some(d) => d,
        None if h % heads == 0 => {
            k.assume(
                "head_dim",
                h / heads,
                "absent: embedding_length / head_count",
            );
            h / heads
        }
        None => {
            return Err(k.invalid(
                "attention.head_count",
                heads,
                "a divisor of embedding_length",
            ))
        }
    };
    let tied = !k.has_tensor("output.weight");
    k.assume(
        "tie_word_embeddings",
        tied,
        if tied {
            "no output.weight tensor: the head reuses token_embd.weight"
        } else {
            "output.weight tensor present"
        },
    );
    let ffn_len = k.opt_positive("feed_forward_length")?;

    let gated = |f: u64, bias: bool| Mlp {
        kind: MlpKind::Gated,
        intermediate_size: f,
        bias,
    };
    let rms = |per_layer: u64| Norms {
        kind: NormKind::RmsNorm,
        per_layer,
        final_norm: true,
        embedding_norm: false,
    };
    let standard = AttentionKind::Standard {
        heads,
        kv_heads,
        head_dim,
    };
    let attention = |bias: AttentionBias, qk_norm: QkNorm| Attention {
        kind: standard,
        bias,
        qk_norm,
        sinks: false,
        window: None,
    };
    let qkv_bias = AttentionBias {
        qkv: true,
        output: false,
    };
    let none = AttentionBias::default();

    let arch = k.arch;
    let (model_type, attention, norm, dense, moe) = match arch {
        "llama" | "mistral" | "qwen2" | "qwen3" | "phi3" => {
            let f = k.positive("feed_forward_length")?;
            let bias = if arch == "qwen2" { qkv_bias } else { none };
            let qk = if arch == "qwen3" {
                QkNorm::PerHeadShared
            } else {
                QkNorm::None
            };
            let mut att = attention(bias, qk);
            if arch == "phi3" {
                // transformers' Phi3 applies `sliding_window` on every layer
                if let Some(size) = k.opt("attention.sliding_window")? {
                    att.window = Some(SlidingWindow {
                        size,
                        local: vec![true; layers.min(sizeup_core::arch::MAX_LAYERS) as usize],
                    });
                }
            }
            let moe = match k.opt("expert_count")? {
                Some(e) if e > 0 => Some(Moe {
                    num_experts: e,
                    experts_per_token: k.positive("expert_used_count")?,
                    expert: gated(
                        k.opt_positive("expert_feed_forward_length")?.unwrap_or(f),
                        false,
                    ),
                    shared: None,
                    moe_layers: layers,
                    router_bias: false,
                }),
                _ => None,
            };
            let model_type = match (arch, moe.is_some()) {
                ("llama", true) => "mixtral",
                (a, _) => a,
            };
            (model_type, att, rms(2), gated(f, false), moe)
        }
        "qwen2moe" | "qwen3moe" => {
            let expert_f = k.positive("expert_feed_forward_length")?;
            let shared = match k.opt_positive("expert_shared_feed_forward_length")? {
                Some(f) if f > 0 => Some(SharedExperts {
                    mlp: gated(f, false),
                    gate: k.has_tensor("blk.0.ffn_gate_inp_shexp.weight"),
                }),
                _ => None,
            };
            let moe = Moe {
                num_experts: k.positive("expert_count")?,
                experts_per_token: k.positive("expert_used_count")?,
                expert: gated(expert_f, false),
                shared,
                moe_layers: layers,
                router_bias: false,
            };
            let (model_type, att) = if arch == "qwen2moe" {
                ("qwen2_moe", attention(qkv_bias, QkNorm::None))
            } else {
                ("qwen3_moe", attention(none, QkNorm::PerHeadShared))
            };
            (
                model_type,
                att,
                rms(2),
                gated(ffn_len.unwrap_or(expert_f), false),
                Some(moe),
            )
        }
        "gemma2" | "gemma3" => {
            let f = k.positive("feed_forward_length")?;
            let (model_type, qk, period) = if arch == "gemma2" {
                ("gemma2", QkNorm::None, 2)
            } else {
                ("gemma3_text", QkNorm::PerHeadShared, 6)
            };
            let mut att = attention(none, qk);
            if let Some(size) = k.opt("attention.sliding_window")? {
                let local =
                    k.local_layers(layers, period, "llama.cpp set_swa_pattern for the family")?;
                att.window = Some(SlidingWindow { size, local });
            }
            // pre/post norms around attention and MLP: four per block
            (model_type, att, rms(4), gated(f, false), None)
        }
        "deepseek2" => deepseek2(k, layers, heads)?,
        "gpt-oss" => {
            let expert_f = k.positive("expert_feed_forward_length")?;
            let mut att = attention(
                AttentionBias {
                    qkv: true,
                    output: true,
                },
                QkNorm::None,
            );
            att.sinks = true;
            if let Some(size) = k.opt("attention.sliding_window")? {
                let local = k.local_layers(
                    layers,
                    2,
                    "llama.cpp: gpt-oss alternates sliding and full layers",
                )?;
                att.window = Some(SlidingWindow { size, local });
            }
            let moe = Moe {
                num_experts: k.positive("expert_count")?,
                experts_per_token: k.positive("expert_used_count")?,
                expert: gated(expert_f, true),
                shared: None,
                moe_layers: layers,
                router_bias: true,
            };
            (
                "gpt_oss",
                att,
                rms(2),
                gated(ffn_len.unwrap_or(expert_f), false),
                Some(moe),
            )
        }
        other => {
            return Err(GgufError::UnsupportedArchitecture {
                file: k.file.file.clone(),
                arch: other.to_string(),
            })
        }
    };
    let arch = Draft {
        model_type: model_type.to_string(),
        hidden_size: h,
        num_layers: layers,
        vocab_size: vocab,
        max_context,
        attention,
        ffn: Ffn { dense, moe },
        norm,
        embedding: Embedding {
            tied,
            learned_positions: 0,
            lm_head_bias: false,
            alibi: false,
        },
        parallel_block: false,
        extra: Vec::new(),
    }
    .build();
    // the same checks as a config.json's, after the keys' own
    arch.check()?;
    Ok(arch)
}

type Family = (&'static str, Attention, Norms, Mlp, Option<Moe>);

/// DeepSeek-V2/V3: multi-head latent attention and shared + routed experts
/// after `leading_dense_block_count` dense layers.
///
/// Newer converters store the absorbed MLA shapes in `key_length` /
/// `value_length` (`kv_lora_rank + rope`, `kv_lora_rank`) and the per-head
/// sizes in `key_length_mla` / `value_length_mla`; older ones only the latter
/// meaning under the plain keys. `qk_nope_head_dim = key_length_mla − rope`.
fn deepseek2(k: &mut Keys, layers: u64, heads: u64) -> Result<Family, GgufError> {
    let rope = k.positive("rope.dimension_count")?;
    let qk_head = match k.opt_positive("attention.key_length_mla")? {
        Some(v) => v,
        None => k.positive("attention.key_length")?,
    };
    let v_head_dim = match k.opt_positive("attention.value_length_mla")? {
        Some(v) => v,
        None => k.positive("attention.value_length")?,
    };
    let qk_nope_head_dim = qk_head.checked_sub(rope).ok_or_else(|| {
        k.invalid(
            "attention.key_length_mla",
            qk_head,
            "at least rope.dimension_count",
        )
    })?;
    let q_lora_rank = k.opt("attention.q_lora_rank")?.filter(|&r| r > 0);
    let kind = AttentionKind::Mla {
        heads,
        q_lora_rank,
        kv_lora_rank: k.positive("attention.kv_lora_rank")?,
        qk_nope_head_dim,
        qk_rope_head_dim: rope,
        v_head_dim,
    };
    let f = k.positive("feed_forward_length")?;
    let expert_f = k.positive("expert_feed_forward_length")?;
    let dense_layers = k.opt("leading_dense_block_count")?.unwrap_or(0);
    if dense_layers > layers {
        return Err(k.invalid(
            "leading_dense_block_count",
            dense_layers,
            "at most block_count",
        ));
    }
    let shared = match k.opt("expert_shared_count")? {
        Some(n) if n > 0 => Some(SharedExperts {
            mlp: Mlp {
                kind: MlpKind::Gated,
                intermediate_size: n.checked_mul(expert_f).ok_or_else(|| {
                    k.invalid(
                        "expert_shared_count",
                        n,
                        "a count whose width fits in 64 bits",
                    )
                })?,
                bias: false,
            },
            gate: false,
        }),
        _ => None,
    };
    let moe = Moe {
        num_experts: k.positive("expert_count")?,
        experts_per_token: k.positive("expert_used_count")?,
        expert: Mlp {
            kind: MlpKind::Gated,
            intermediate_size: expert_f,
            bias: false,
        },
        shared,
        moe_layers: layers - dense_layers,
        // `e_score_correction_bias` is a buffer in transformers, not a parameter
        router_bias: false,
    };
    let attention = Attention {
        kind,
        bias: AttentionBias::default(),
        qk_norm: QkNorm::None,
        sinks: false,
        window: None,
    };
    let norms = Norms {
        kind: NormKind::RmsNorm,
        per_layer: 2,
        final_norm: true,
        embedding_norm: false,
    };
    let dense = Mlp {
        kind: MlpKind::Gated,
        intermediate_size: f,
        bias: false,
    };
    Ok(("deepseek_v3", attention, norms, dense, Some(moe)))
}
