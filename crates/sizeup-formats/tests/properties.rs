//! Invariants of the counts on random architectures, and a reader that never panics.

use proptest::prelude::*;
use serde_json::{Map, Value};
use sizeup_core::arch::{
    Architecture, Attention, AttentionBias, AttentionKind, Block, BlockFfn, Embedding, Mixer, Mlp,
    MlpKind, Moe, NormKind, Norms, QkNorm, Schedule, SharedExperts, Span, Tower,
};
use sizeup_core::kv::{self, KvCache, KvRequest};
use sizeup_core::params::{self, ParamCount};
use sizeup_core::KvDtype;
use sizeup_formats::hf;

fn mlp() -> impl Strategy<Value = Mlp> {
    (
        prop_oneof![Just(MlpKind::Gated), Just(MlpKind::Plain)],
        1u64..20_000,
        any::<bool>(),
    )
        .prop_map(|(kind, intermediate_size, bias)| Mlp {
            kind,
            intermediate_size,
            bias,
        })
}

fn norm_kind() -> impl Strategy<Value = NormKind> {
    prop_oneof![
        Just(NormKind::RmsNorm),
        Just(NormKind::LayerNorm),
        Just(NormKind::LayerNormNoBias),
        Just(NormKind::NonParametric),
    ]
}

fn qk_norm() -> impl Strategy<Value = QkNorm> {
    prop_oneof![
        Just(QkNorm::None),
        Just(QkNorm::PerHeadShared),
        Just(QkNorm::Full),
        Just(QkNorm::FullScaleOnly),
    ]
}

/// Standard attention `(heads, kv_heads, head_dim)` with `k | a`, or MLA.
fn attention_kind() -> impl Strategy<Value = AttentionKind> {
    let standard = (1u64..=16, 1u64..=8, 1u64..=256).prop_map(|(kv_heads, group, head_dim)| {
        AttentionKind::Standard {
            heads: kv_heads * group,
            kv_heads,
            head_dim,
        }
    });
    let mla = (
        1u64..=128,
        prop::option::of(1u64..=2048),
        1u64..=1024,
        1u64..=256,
        1u64..=128,
        1u64..=256,
    )
        .prop_map(
            |(heads, q_lora_rank, kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim, v_head_dim)| {
                AttentionKind::Mla {
                    heads,
                    q_lora_rank,
                    kv_lora_rank,
                    qk_nope_head_dim,
                    qk_rope_head_dim,
                    v_head_dim,
                }
            },
        );
    prop_oneof![3 => standard, 1 => mla]
}

prop_compose! {
    fn moe(layers: u64)(
        num_experts in 1u64..=256,
        per_token_frac in 0.0f64..=1.0,
        expert in mlp(),
        shared in prop::option::of((mlp(), any::<bool>())),
        moe_layers in 0..=layers,
        router_bias in any::<bool>(),
    ) -> (Moe, u64) {
        (Moe {
            num_experts,
            experts_per_token: ((num_experts as f64 * per_token_frac) as u64).clamp(1, num_experts),
            expert,
            shared: shared.map(|(mlp, gate)| SharedExperts { mlp, gate }),
            router_bias,
        }, moe_layers)
    }
}

prop_compose! {
    fn architecture()(layers in 1u64..=96)(
        layers in Just(layers),
        hidden in 1u64..=8192,
        vocab in 1u64..=300_000,
        kind in attention_kind(),
        bias in (any::<bool>(), any::<bool>()),
        qk_norm in qk_norm(),
        sinks in any::<bool>(),
        window in prop::option::of((1u64..=8192, 0..=layers)),
        dense in mlp(),
        moe in prop::option::of(moe(layers)),
        norm in (norm_kind(), 0u64..=4, any::<bool>(), any::<bool>()),
        embedding in (any::<bool>(), prop_oneof![Just(0u64), 1u64..=4096], any::<bool>()),
        parallel_block in any::<bool>(),
        extra in prop::option::of(0u64..=1_000_000_000),
    ) -> Architecture {
        // the first `local` layers slide; the last `moe_layers` route to experts
        let block = |i: u64| Block {
            mixer: Mixer::Attention(Attention {
                kind,
                bias: AttentionBias { qkv: bias.0, output: bias.1 },
                qk_norm,
                sinks,
                span: match window {
                    Some((size, local)) if i < local => Span::Window(size),
                    _ => Span::Full,
                },
                output_gate: false,
                k_eq_v: false,
                kv_shared: false,
                indexer: None,
                listed: None,
            }),
            ffn: match moe {
                Some((m, moe_layers)) if i >= layers - moe_layers => BlockFfn::Moe(m),
                _ => BlockFfn::Dense(dense),
            },
            norms: norm.1,
            parallel: parallel_block,
            extra: Vec::new(),
        };
        Architecture {
            model_type: "random".into(),
            hidden_size: hidden,
            vocab_size: vocab,
            max_context: 4096,
            layers: Schedule::from_layers((0..layers).map(block)),
            norm: Norms { kind: norm.0, final_norm: norm.2, embedding_norm: norm.3 },
            embedding: Embedding { tied: embedding.0, learned_positions: embedding.1, lm_head_bias: embedding.2, alibi: false },
            mtp: None,
            towers: extra
                .map(|params| vec![Tower::vision(params)])
                .unwrap_or_default(),
        }
    }
}

fn count(arch: &Architecture) -> ParamCount {
    params::count(arch).expect("the strategy's sizes cannot overflow a u64")
}

fn cache(arch: &Architecture, seq_len: u64, tp: u64) -> KvCache {
    let req = KvRequest {
        seq_len,
        batch: 1,
        dtype: KvDtype::Fp16,
        tp,
        block_tokens: None,
    };
    kv::size(arch, &req).expect("valid request")
}

proptest! {
    #[test]
    fn breakdown_sums_to_total_and_active_is_at_most_total(arch in architecture()) {
        let c = count(&arch);
        let b = c.breakdown;
        let sum = b.embedding + b.position_embedding + b.attention + b.mlp + b.moe_routed_experts
            + b.moe_shared_experts + b.moe_router + b.norm + b.lm_head + b.vision_and_projector
            + b.recurrent + b.other;
        prop_assert_eq!(sum, c.total);
        prop_assert!(c.active <= c.total);
        if !arch.is_moe() {
            prop_assert_eq!(c.active, c.total);
        }
    }

    #[test]
    fn counts_grow_with_layers_hidden_and_vocab(arch in architecture()) {
        let base = count(&arch).total;
        let mut more_layers = arch.clone();
        more_layers.layers.runs.last_mut().unwrap().1 += 1;
        prop_assert!(count(&more_layers).total >= base);
        let mut wider = arch.clone();
        wider.hidden_size += 1;
        prop_assert!(count(&wider).total > base);
        let mut more_vocab = arch.clone();
        more_vocab.vocab_size += 1;
        prop_assert!(count(&more_vocab).total > base);
    }

    #[test]
    fn tied_head_never_counts_more_than_untied(arch in architecture()) {
        let mut tied = arch.clone();
        tied.embedding.tied = true;
        let mut untied = arch;
        untied.embedding.tied = false;
        prop_assert!(count(&tied).total <= count(&untied).total);
    }

    #[test]
    fn gqa_never_caches_more_than_mha(arch in architecture(), seq_len in 1u64..=100_000) {
        if let Some(AttentionKind::Standard { heads, head_dim, .. }) = arch.primary_attention().map(|a| a.kind) {
            let mut mha = arch.clone();
            mha.map_attention(|a| a.kind = AttentionKind::Standard { heads, kv_heads: heads, head_dim });
            prop_assert!(cache(&arch, seq_len, 1).bytes_total <= cache(&mha, seq_len, 1).bytes_total);
            prop_assert!(cache(&arch, seq_len, 1).bytes_per_token <= cache(&mha, seq_len, 1).bytes_per_token);
        }
    }

    #[test]
    fn sliding_window_never_caches_more(arch in architecture(), seq_len in 1u64..=100_000) {
        let mut full = arch.clone();
        full.map_attention(|a| a.span = Span::Full);
        prop_assert!(cache(&arch, seq_len, 1).bytes_per_sequence <= cache(&full, seq_len, 1).bytes_per_sequence);
    }

    #[test]
    fn per_rank_cache_times_ranks_covers_the_total(arch in architecture(), seq_len in 1u64..=100_000, pick in 0usize..8) {
        // A tensor-parallel degree the cache accepts: a divisor of k, or a multiple of it.
        let k = arch.kv_heads();
        let mut options: Vec<u64> = (1..=k).filter(|t| k % t == 0).collect();
        options.extend([2 * k, 4 * k]);
        let tp = options[pick % options.len()];
        let c = cache(&arch, seq_len, tp);
        prop_assert!(c.bytes_per_gpu * tp >= c.bytes_total);
    }

    #[test]
    fn reader_never_panics_on_arbitrary_text(text in ".{0,300}") {
        let _ = hf::from_config_str(&text);
    }

    #[test]
    fn reader_never_panics_on_arbitrary_configs(config in config_object()) {
        let _ = hf::from_config_str(&Value::Object(config).to_string());
    }
}

/// Keys the readers look at, so random objects reach deep into every family.
const KEYS: &[&str] = &[
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "intermediate_size",
    "vocab_size",
    "max_position_embeddings",
    "tie_word_embeddings",
    "attention_bias",
    "mlp_bias",
    "sliding_window",
    "use_sliding_window",
    "max_window_layers",
    "layer_types",
    "n_embd",
    "n_layer",
    "n_head",
    "n_inner",
    "n_positions",
    "num_local_experts",
    "num_experts",
    "num_experts_per_tok",
    "moe_intermediate_size",
    "shared_expert_intermediate_size",
    "decoder_sparse_step",
    "mlp_only_layers",
    "q_lora_rank",
    "kv_lora_rank",
    "qk_nope_head_dim",
    "qk_rope_head_dim",
    "v_head_dim",
    "n_routed_experts",
    "n_shared_experts",
    "first_k_dense_replace",
    "new_decoder_architecture",
    "num_kv_heads",
    "multi_query",
    "parallel_attn",
    "ffn_hidden_size",
    "num_ln_in_parallel_attn",
    "ffn_dim",
    "word_embed_proj_dim",
    "d_model",
    "n_layers",
    "n_heads",
    "sliding_window_pattern",
    "text_config",
    "vision_config",
    "image_size",
    "patch_size",
    "qk_layernorm",
    "use_qk_norm",
    "use_parallel_residual",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        8 => (1u64..=300).prop_map(Value::from),
        1 => Just(Value::from(0)),
        1 => (0u64..=100_000).prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => (-1e20f64..1e20).prop_map(Value::from),
        1 => "[a-z_]{0,12}".prop_map(Value::String),
        1 => Just(Value::from("sliding_attention")),
    ];
    leaf.prop_recursive(2, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(prop::sample::select(KEYS), inner, 0..6).prop_map(|m| {
                Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

/// A small valid config that every family can read, before mutation.
fn base_config() -> Map<String, Value> {
    let sizes: &[(&str, u64)] = &[
        ("hidden_size", 64),
        ("n_embd", 64),
        ("d_model", 64),
        ("num_hidden_layers", 4),
        ("n_layer", 4),
        ("n_layers", 4),
        ("num_attention_heads", 4),
        ("n_head", 4),
        ("n_heads", 4),
        ("num_key_value_heads", 2),
        ("intermediate_size", 96),
        ("ffn_dim", 96),
        ("vocab_size", 50),
        ("max_position_embeddings", 128),
        ("moe_intermediate_size", 32),
        ("n_routed_experts", 8),
        ("num_experts_per_tok", 2),
    ];
    sizes
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect()
}

/// A supported or random `model_type` over a valid base config with random keys
/// replaced or removed, so mutations reach deep into every family.
fn config_object() -> impl Strategy<Value = Map<String, Value>> {
    let model_type = prop_oneof![
        4 => prop::sample::select(hf::supported_model_types()).prop_map(|s| s.to_string()),
        1 => "[a-z0-9_]{0,10}",
    ];
    (
        model_type,
        prop::collection::btree_map(prop::sample::select(KEYS), json_value(), 0..12),
        prop::collection::vec(prop::sample::select(KEYS), 0..3),
    )
        .prop_map(|(model_type, overrides, removed)| {
            let mut map = base_config();
            for (k, v) in overrides {
                map.insert(k.to_string(), v);
            }
            for k in removed {
                map.remove(k);
            }
            map.insert("model_type".into(), Value::String(model_type));
            map
        })
}
