//! `deepseek_v4`: DeepSeek-V4 (Flash, Pro): one shared key=value head over a sliding
//! window, compressed attention (CSA, HCA), manifold-constrained hyper-connections and
//! an MoE on every layer.
//!
//! # Formula
//! ```text
//! every layer, attention:  q_a_proj h→r_q, q_a_norm r_q, q_b_proj r_q→a·d,
//!                          kv_proj h→d (the key is also the value), kv_norm d,
//!                          o_a_proj grouped: g groups of a·d/g → r_o (g·r_o × a·d/g),
//!                          o_b_proj g·r_o→h, sinks a
//!   CSA layers (rate 4):   compressor kv_proj, gate_proj h→2d, position_bias rate·2d,
//!                          kv_norm d; its indexer kv_proj, gate_proj h→2·d_i,
//!                          position_bias rate·2·d_i, kv_norm d_i, q_b_proj r_q→n_i·d_i,
//!                          scorer.weights_proj h→n_i
//!   HCA layers (rate 128): compressor kv_proj, gate_proj h→d, position_bias rate·d,
//!                          kv_norm d
//! every layer, MoE:        router h×E (hash-routed layers too), E gated experts of
//!                          moe_intermediate_size, one shared gated MLP of the same width
//! every layer, mHC:        attn_hc and ffn_hc: fn (2+m)·m × m·h, base (2+m)·m, scale 3
//! outside:                 embedding, final norm, hc_head (fn m × m·h, base m, scale 1),
//!                          untied LM head
//! KV cache per layer:      d values per token for the last `sliding_window` tokens
//!                          (key = value, stored once); CSA: + one entry of d + d_i per
//!                          4 tokens; HCA: + one entry of d per 128 tokens
//! ```
//! where `m` is `hc_mult`, `g` `o_groups`, `r_o` `o_lora_rank`, `n_i`/`d_i` the
//! indexer's heads and head width.
//!
//! # Source
//! transformers `models/deepseek_v4/modeling_deepseek_v4.py` (`DeepseekV4Attention`,
//! `DeepseekV4GroupedLinear`, `DeepseekV4CSACompressor`, `DeepseekV4HCACompressor`,
//! `DeepseekV4Indexer`, `DeepseekV4HyperConnection`, `DeepseekV4HyperHead`,
//! `DeepseekV4SparseMoeBlock`, `DeepseekV4HCACache`, `DeepseekV4CSACache`) and
//! `DeepseekV4Config`: `layer_types`, else the legacy per-layer `compress_ratios`
//! (0, 4, 128), else two HCA layers then CSA/HCA alternating; `compress_rates`
//! (legacy `compress_rate_csa`/`compress_rate_hca`); the shared expert reads
//! `intermediate_size`, an alias of `moe_intermediate_size` (`n_shared_experts` is not
//! read). `q_b_norm` has no weight; `tid2eid` and `e_score_correction_bias` are buffers.
//!
//! # Assumptions / limits
//! The MTP layer (`num_nextn_predict_layers`) is not built by transformers and not
//! counted. The compressed cache counts closed windows only (see
//! `sizeup_core::kv`); the roofline reads every compressed entry and attends to at most
//! `index_topk` of the CSA ones, without pricing the indexer's own scoring.

use serde_json::Value;
use sizeup_core::arch::{
    Architecture, Attention, AttentionKind, Block, BlockFfn, CompressedKv, Group, ListedAttention,
    Mixer, Mlp, MlpKind, Moe, NamedTensor, Schedule, SharedExperts, Span, Tower,
};

use super::config::{Config, Field};
use super::Decoder;
use crate::error::FormatError;

const SLIDING: &str = "sliding_attention";
const CSA: &str = "compressed_sparse_attention";
const HCA: &str = "heavily_compressed_attention";

/// The attention layer kinds, in the order of their legacy `compress_ratios` codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sliding,
    Csa,
    Hca,
}

/// Read a `deepseek_v4` config.
pub(super) fn read(cfg: &mut Config) -> Result<Architecture, FormatError> {
    let h = cfg.size(&["hidden_size"])?;
    let layers = cfg.layers(&["num_hidden_layers"])?;
    let vocab = cfg.size(&["vocab_size"])?;
    let heads = cfg.size(&["num_attention_heads"])?;
    let d = cfg.size_or("head_dim", 512, "`head_dim` defaults to 512")?;
    if cfg
        .opt_size(&["num_key_value_heads"])?
        .is_some_and(|k| k != 1)
    {
        cfg.assume(
            "num_key_value_heads",
            "1 (ignored)",
            "DeepseekV4Attention always projects one key=value head",
        );
    }
    let q_rank = cfg.size_or("q_lora_rank", 1024, "`q_lora_rank` defaults to 1024")?;
    let o_groups = cfg.size_or("o_groups", 8, "`o_groups` defaults to 8")?;
    let o_rank = cfg.size_or("o_lora_rank", 1024, "`o_lora_rank` defaults to 1024")?;
    let q_width = heads.checked_mul(d).ok_or_else(|| {
        cfg.invalid(
            "num_attention_heads",
            heads,
            "a count whose width fits in 64 bits",
        )
    })?;
    if q_width % o_groups != 0 {
        return Err(cfg.invalid(
            "o_groups",
            o_groups,
            format!("a divisor of num_attention_heads · head_dim ({q_width})"),
        ));
    }
    let window = cfg.size_or("sliding_window", 128, "`sliding_window` defaults to 128")?;
    let index_heads = cfg.size_or("index_n_heads", 64, "`index_n_heads` defaults to 64")?;
    let index_dim = cfg.size_or("index_head_dim", 128, "`index_head_dim` defaults to 128")?;
    let index_topk = cfg.size_or("index_topk", 512, "`index_topk` defaults to 512")?;
    let hc = cfg.size_or("hc_mult", 4, "`hc_mult` defaults to 4")?;
    let expert_f = cfg.size_or(
        "moe_intermediate_size",
        2048,
        "`moe_intermediate_size` defaults to 2048",
    )?;
    let num_experts = cfg.size_or(
        "n_routed_experts",
        256,
        "`n_routed_experts` defaults to 256",
    )?;
    let experts_per_token = cfg.size_or(
        "num_experts_per_tok",
        6,
        "`num_experts_per_tok` defaults to 6",
    )?;
    let mlp_bias = cfg.flag_or("mlp_bias", false, "`mlp_bias` defaults to false")?;
    let (csa_rate, hca_rate) = compress_rates(cfg)?;
    let kinds = layer_kinds(cfg, layers)?;
    // Checked only: hash-routed layers keep a router of the same shape, and every
    // layer is an MoE layer either way.
    cfg.per_layer("mlp_layer_types", layers, &["hash_moe", "moe"])?;
    if cfg.count_or(
        "num_nextn_predict_layers",
        1,
        "`num_nextn_predict_layers` defaults to 1",
    )? > 0
    {
        cfg.assume(
            "num_nextn_predict_layers",
            "0 counted",
            "transformers does not build the multi-token-prediction layer",
        );
    }

    let m =
        |name: &str, rows: u64, cols: u64| NamedTensor::matrix(name, rows, cols, Group::Attention);
    let v = |name: &str, len: u64| NamedTensor::vector(name, len, Group::Attention);
    let norm = |name: &str, len: u64| NamedTensor::vector(name, len, Group::Norm);
    let common = vec![
        m("q_a_proj", q_rank, h),
        norm("q_a_norm", q_rank),
        m("q_b_proj", q_width, q_rank),
        m("kv_proj", d, h),
        norm("kv_norm", d),
        m("o_a_proj", o_groups * o_rank, q_width / o_groups),
        m("o_b_proj", h, o_groups * o_rank),
        v("sinks", heads),
    ];
    let attention = |kind: Kind| {
        let mut tensors = common.clone();
        let compressed = match kind {
            Kind::Sliding => None,
            Kind::Csa => {
                tensors.extend([
                    m("compressor.kv_proj", 2 * d, h),
                    m("compressor.gate_proj", 2 * d, h),
                    v("compressor.position_bias", csa_rate * 2 * d),
                    norm("compressor.kv_norm", d),
                    m("compressor.indexer.kv_proj", 2 * index_dim, h),
                    m("compressor.indexer.gate_proj", 2 * index_dim, h),
                    v("compressor.indexer.position_bias", csa_rate * 2 * index_dim),
                    norm("compressor.indexer.kv_norm", index_dim),
                    m(
                        "compressor.indexer.q_b_proj",
                        index_heads * index_dim,
                        q_rank,
                    ),
                    m("compressor.indexer.scorer.weights_proj", index_heads, h),
                ]);
                Some(CompressedKv {
                    ratio: csa_rate,
                    width: d + index_dim,
                    selected: Some(index_topk),
                })
            }
            Kind::Hca => {
                tensors.extend([
                    m("compressor.kv_proj", d, h),
                    m("compressor.gate_proj", d, h),
                    v("compressor.position_bias", hca_rate * d),
                    norm("compressor.kv_norm", d),
                ]);
                Some(CompressedKv {
                    ratio: hca_rate,
                    width: d,
                    selected: None,
                })
            }
        };
        Attention {
            sinks: true,
            span: Span::Window(window),
            k_eq_v: true,
            listed: Some(ListedAttention {
                tensors,
                cached_per_token: d,
                compressed,
            }),
            ..Attention::plain(AttentionKind::Standard {
                heads,
                kv_heads: 1,
                head_dim: d,
            })
        }
    };
    let gated = |f, bias| Mlp {
        kind: MlpKind::Gated,
        intermediate_size: f,
        bias,
    };
    let mix = (2 + hc) * hc;
    let mut extra = Vec::new();
    for side in ["attn_hc", "ffn_hc"] {
        extra.push(NamedTensor::matrix(
            &format!("{side}.fn"),
            mix,
            hc * h,
            Group::Other,
        ));
        extra.push(NamedTensor::vector(
            &format!("{side}.base"),
            mix,
            Group::Other,
        ));
        extra.push(NamedTensor::vector(
            &format!("{side}.scale"),
            3,
            Group::Other,
        ));
    }
    let block = |kind: Kind| Block {
        mixer: Mixer::Attention(attention(kind)),
        ffn: BlockFfn::Moe(Moe {
            num_experts,
            experts_per_token,
            expert: gated(expert_f, false),
            shared: Some(SharedExperts {
                mlp: gated(expert_f, mlp_bias),
                gate: false,
            }),
            router_bias: false,
        }),
        norms: 2,
        parallel: false,
        extra: extra.clone(),
    };
    let schedule = Schedule::from_layers(kinds.iter().map(|&k| block(k)));
    let max_context = cfg.context_or(&["max_position_embeddings"], 1_048_576)?;
    let tied = cfg.tied(false)?;
    let mut arch = Decoder {
        hidden: h,
        vocab,
        max_context,
        tied,
    }
    .around(cfg.model_type(), schedule);
    arch.towers.push(Tower {
        name: "hc_head".into(),
        params: hc * hc * h + hc + 1,
        group: Group::Other,
    });
    Ok(arch)
}

/// `compress_rates` (`compressed_sparse_attention`, `heavily_compressed_attention`),
/// with the legacy `compress_rate_csa` / `compress_rate_hca` overriding them.
fn compress_rates(cfg: &mut Config) -> Result<(u64, u64), FormatError> {
    let mut rates = (4, 128);
    match cfg.field("compress_rates") {
        Field::Value(Value::Object(map)) => {
            for (key, slot) in [(CSA, &mut rates.0), (HCA, &mut rates.1)] {
                if let Some(v) = map.get(key) {
                    *slot = v.as_u64().filter(|&r| r > 0).ok_or_else(|| {
                        cfg.invalid(
                            "compress_rates",
                            format!("{key}: {v}"),
                            "a positive number of tokens per compressed entry",
                        )
                    })?;
                }
            }
        }
        Field::Value(v) => {
            return Err(cfg.invalid("compress_rates", v, "an object of rates by layer type"))
        }
        Field::Absent | Field::Null => cfg.assume(
            "compress_rates",
            "CSA 4, HCA 128",
            "`compress_rates` defaults to 4 (CSA) and 128 (HCA)",
        ),
    }
    if let Some(r) = cfg.opt_size(&["compress_rate_csa"])? {
        rates.0 = r;
    }
    if let Some(r) = cfg.opt_size(&["compress_rate_hca"])? {
        rates.1 = r;
    }
    Ok(rates)
}

/// Each layer's attention kind, as `DeepseekV4Config` decides it.
fn layer_kinds(cfg: &mut Config, layers: u64) -> Result<Vec<Kind>, FormatError> {
    let n = layers as usize;
    if let Some(types) = cfg.layer_types(layers, &[SLIDING, CSA, HCA])? {
        return Ok(types
            .iter()
            .map(|t| match *t {
                SLIDING => Kind::Sliding,
                CSA => Kind::Csa,
                _ => Kind::Hca,
            })
            .collect());
    }
    if let Some(ratios) = cfg.opt_counts("compress_ratios")? {
        // the checkpoint lists its MTP layer too: only the first num_hidden_layers count
        if ratios.len() < n {
            return Err(cfg.invalid(
                "compress_ratios",
                format!("a list of {} entries", ratios.len()),
                format!("at least one entry per layer ({layers})"),
            ));
        }
        return ratios[..n]
            .iter()
            .map(|&r| match r {
                0 => Ok(Kind::Sliding),
                4 => Ok(Kind::Csa),
                128 => Ok(Kind::Hca),
                other => Err(cfg.invalid(
                    "compress_ratios",
                    format!("an entry {other}"),
                    "entries among 0 (sliding), 4 (CSA), 128 (HCA)",
                )),
            })
            .collect();
    }
    cfg.assume(
        "layer_types",
        "HCA, HCA, then CSA and HCA alternating",
        "`layer_types` and `compress_ratios` absent: the DeepSeek-V4-Pro layout",
    );
    Ok((0..n)
        .map(|i| match i {
            0 | 1 => Kind::Hca,
            i if (i - 2) % 2 == 1 => Kind::Csa,
            _ => Kind::Hca,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sizeup_core::params::count;

    use crate::hf::{from_config_str, kv_layers, local_2026_config, refusal, refused};

    /// The per-layer counts worked out by hand from the transformers modules named in
    /// the module docs, for DeepSeek-V4-Flash (h 4096, a 64, d 512, r_q 1024, g 8,
    /// r_o 1024, E 256 of 2048, m 4, indexer 64 × 128).
    #[test]
    fn v4_flash_layers_count_as_derived_by_hand() {
        let (h, a, d, rq, g, ro) = (4096u64, 64u64, 512u64, 1024u64, 8u64, 1024u64);
        let attention =
            rq * h + rq + a * d * rq + d * h + d + g * ro * (a * d / g) + h * g * ro + a;
        let moe = 256 * h + 256 * 3 * h * 2048 + 3 * h * 2048;
        let mhc = 2 * ((2 + 4) * 4 * 4 * h + (2 + 4) * 4 + 3);
        let common = attention + moe + mhc + 2 * h;
        assert_eq!(common, 6_576_416_374);
        let csa = 2 * 2 * d * h
            + 4 * 2 * d
            + d
            + 2 * 2 * 128 * h
            + 4 * 2 * 128
            + 128
            + 64 * 128 * rq
            + 64 * h;
        let hca = 2 * d * h + 128 * d + d;
        assert_eq!((csa, hca), (19_142_272, 4_260_352));
        let outside = 2 * 129_280 * h + h + 4 * 4 * h + 4 + 1;
        let total = 43 * common + 21 * csa + 20 * hca + outside;
        assert_eq!(total, 284_332_230_231);
        let c = local_2026_config("deepseek-v4-flash");
        let counted = count(&from_config_str(&c.to_string()).unwrap().arch).unwrap();
        assert_eq!(counted.total, total);
    }

    #[test]
    fn v4_flash_caches_a_window_and_compressed_entries() {
        let c = local_2026_config("deepseek-v4-flash");
        let arch = from_config_str(&c.to_string()).unwrap().arch;
        let kv = kv_layers(&arch, 1 << 20);
        // every layer: one 512-wide key=value over the last 128 tokens
        assert_eq!(kv.get(&("MQA window 128".into(), 512, 128)), Some(&2));
        assert_eq!(
            kv.get(&("MQA window 128 + compressed 1/4".into(), 512, 128)),
            Some(&21)
        );
        assert_eq!(
            kv.get(&("MQA window 128 + compressed 1/128".into(), 512, 128)),
            Some(&20)
        );
        // at 1M tokens, fp16: window 43·128·512·2 + CSA 21·(2^20/4)·(512+128)·2
        // + HCA 20·(2^20/128)·512·2
        let req = sizeup_core::kv::KvRequest {
            seq_len: 1 << 20,
            batch: 1,
            dtype: sizeup_core::KvDtype::Fp16,
            tp: 1,
            block_tokens: None,
        };
        let size = sizeup_core::kv::size(&arch, &req).unwrap();
        let want = 43 * 128 * 1024 + 21 * (1 << 18) * 1280 + 20 * (1 << 13) * 1024;
        assert_eq!(size.bytes_per_sequence, want);
        // per token without the window: 43·1024 + 21·1280/4 + 20·1024/128
        assert_eq!(size.bytes_per_token, 43 * 1024 + 21 * 320 + 20 * 8);
    }

    #[test]
    fn v4_bad_configs_name_field_value_and_fix() {
        let base = local_2026_config("deepseek-v4-flash");
        let expected = refused(&base, "num_experts_per_tok", json!(257));
        assert!(expected.contains("256"), "{expected}");
        refused(&base, "num_attention_heads", json!(0));
        let mut c = base.clone();
        c["layer_types"] = json!(["sliding_attention"]);
        let (field, value, expected) = refusal(&c);
        assert_eq!(field, "layer_types");
        assert!(
            value.contains("1 entries") && expected.contains("(43)"),
            "{value}"
        );
        let mut c = base.clone();
        c["compress_ratios"] = json!([0, 4, 16]);
        assert_eq!(refusal(&c).0, "compress_ratios");
        let mut c = base;
        c["o_groups"] = json!(3);
        let (field, value, expected) = refusal(&c);
        assert_eq!((field.as_str(), value.as_str()), ("o_groups", "3"));
        assert!(expected.contains("32768"), "{expected}");
    }

    #[test]
    fn v4_default_layout_is_two_hca_then_alternating() {
        let mut c = local_2026_config("deepseek-v4-flash");
        c.as_object_mut().unwrap().remove("compress_ratios");
        c["num_hidden_layers"] = json!(6);
        let arch = from_config_str(&c.to_string()).unwrap().arch;
        let kv = kv_layers(&arch, 1024);
        // HCA, HCA, HCA (i=2: (i-2)%2==0), CSA, HCA, CSA
        assert_eq!(
            kv.get(&("MQA window 128 + compressed 1/128".into(), 512, 128)),
            Some(&4)
        );
        assert_eq!(
            kv.get(&("MQA window 128 + compressed 1/4".into(), 512, 128)),
            Some(&2)
        );
    }
}
