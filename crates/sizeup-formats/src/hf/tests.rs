//! Families without a reference fixture (counts derived by hand from the
//! transformers modules named in each reader) and every class of bad input.

use serde_json::{json, Value};
use sizeup_core::params::count;
use sizeup_core::CoreError;

use super::*;

fn read(config: Value) -> Result<Parsed, FormatError> {
    from_config_str(&config.to_string())
}

fn total(config: Value) -> u64 {
    let parsed = read(config).unwrap();
    count(&parsed.arch).unwrap().total
}

fn llama_small() -> Value {
    json!({"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2,
           "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 96,
           "vocab_size": 50, "max_position_embeddings": 128})
}

#[test]
fn mpt_7b_counts_as_transformers_builds_it() {
    // mosaicml/mpt-7b: d_model 4096, 32 layers, 32 heads, vocab 50432, tied head.
    // Per block: two bias-free LayerNorms 2·4096, Wqkv + out_proj 4·4096², MLP
    // 2·4096·16384 = 201_334_784; ×32 + embedding 50432·4096 + norm_f 4096.
    let config = json!({"model_type": "mpt", "d_model": 4096, "n_layers": 32, "n_heads": 32,
                        "vocab_size": 50432, "max_seq_len": 2048, "expansion_ratio": 4,
                        "no_bias": true});
    assert_eq!(total(config), 6_649_286_656);
}

#[test]
fn cohere_command_r_counts_with_parallel_block_and_tied_head() {
    // CohereForAI/c4ai-command-r-v01: h 8192, 40 layers, 64 heads (MHA), f 22528,
    // vocab 256000. Per block: q/k/v/o 4·8192², gated MLP 3·8192·22528, one scale-only
    // LayerNorm 8192 = 822_091_776; ×40 + embedding 256000·8192 (tied) + final 8192.
    let config = json!({"model_type": "cohere", "hidden_size": 8192, "num_hidden_layers": 40,
                        "num_attention_heads": 64, "num_key_value_heads": 64,
                        "intermediate_size": 22528, "vocab_size": 256000,
                        "max_position_embeddings": 8192, "use_qk_norm": false});
    assert_eq!(total(config), 34_980_831_232);
}

#[test]
fn cohere_qk_norm_is_scale_only_over_all_heads() {
    // use_qk_norm adds CohereLayerNorm((a, d)) + CohereLayerNorm((k, d)): 4·16 + 2·16 = 96
    // weights per layer, in the norm group.
    let mut config = llama_small();
    config["model_type"] = json!("cohere");
    let plain = count(&read(config.clone()).unwrap().arch).unwrap();
    config["use_qk_norm"] = json!(true);
    let with = count(&read(config).unwrap().arch).unwrap();
    assert_eq!(with.breakdown.norm - plain.breakdown.norm, 2 * 96);
}

#[test]
fn olmo3_counts_like_olmo2_and_slides_three_of_four_layers() {
    // h 64, 8 layers, 4 heads (k = 4 by default), f 128, V 100, untied.
    // Per block: q/k/v/o 4·64² = 16384, q/k RMSNorm over a·d + k·d = 128, two RMSNorms
    // 128, gated MLP 3·64·128 = 24576 → 41216; ×8 = 329_728; + 2·100·64 + final 64.
    let config = json!({"model_type": "olmo3", "hidden_size": 64, "num_hidden_layers": 8,
                        "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 100});
    let parsed = read(config).unwrap();
    assert_eq!(count(&parsed.arch).unwrap().total, 342_592);
    // Olmo3Config: layers 3 and 7 ((i + 1) % 4 == 0) are global, window 4096.
    let w = parsed.arch.sliding_window().unwrap();
    assert_eq!((w.0, w.1), (4096, 6));
}

#[test]
fn stablelm_qk_layernorm_is_one_scale_per_head_element() {
    // h 64, a 4, k 2 (d 16), 2 layers, f 96, V 50, q/k/v bias, per-head q/k norms,
    // parallel residual (one LayerNorm per block).
    // Attention 4096 + 2·2048 + 4096 + bias 128 = 12416; q/k norms 4·16 + 2·16 = 96;
    // LayerNorm 2·64 = 128; MLP 3·64·96 = 18432 → 31072 per block; ×2 + final 128 +
    // embedding and head 2·50·64 = 68_672.
    let config = json!({"model_type": "stablelm", "hidden_size": 64, "num_hidden_layers": 2,
                        "num_attention_heads": 4, "num_key_value_heads": 2,
                        "intermediate_size": 96, "vocab_size": 50, "use_qkv_bias": true,
                        "qk_layernorm": true, "use_parallel_residual": true});
    let c = count(&read(config).unwrap().arch).unwrap();
    assert_eq!(c.total, 68_672);
    assert_eq!(c.breakdown.norm, 2 * (96 + 128) + 128);
}

#[test]
fn falcon_7b_multi_query_counts_one_kv_head() {
    // tiiuae/falcon-7b: h 4544, 71 heads (d 64), 32 layers, multi_query, one LayerNorm
    // per parallel block. query_key_value 4544·(4544 + 2·64), dense 4544², MLP
    // 2·4544·18176, LayerNorm 2·4544; ×32 + embedding 65024·4544 (tied) + ln_f.
    let config = json!({"model_type": "falcon", "hidden_size": 4544, "num_attention_heads": 71,
                        "num_hidden_layers": 32, "vocab_size": 65024, "multi_query": true,
                        "parallel_attn": true, "bias": false,
                        "new_decoder_architecture": false});
    let parsed = read(config).unwrap();
    assert_eq!(count(&parsed.arch).unwrap().total, 6_921_720_704);
    assert_eq!(parsed.arch.kv_heads(), 1);
}

#[test]
fn qwen2_window_covers_layers_from_max_window_layers() {
    // Qwen2Config: with use_sliding_window, layers i >= max_window_layers slide.
    let mut config = llama_small();
    config["model_type"] = json!("qwen2");
    config["num_hidden_layers"] = json!(28);
    config["use_sliding_window"] = json!(true);
    config["sliding_window"] = json!(4096);
    config["max_window_layers"] = json!(21);
    let w = read(config.clone()).unwrap().arch.sliding_window().unwrap();
    assert_eq!((w.0, w.1), (4096, 7));
    config["use_sliding_window"] = json!(false);
    assert_eq!(read(config).unwrap().arch.sliding_window(), None);
}

#[test]
fn mistral_window_defaults_to_4096_and_null_turns_it_off() {
    let mut config = llama_small();
    config["model_type"] = json!("mistral");
    let w = read(config.clone()).unwrap().arch.sliding_window().unwrap();
    assert_eq!((w.0, w.1), (4096, 2));
    config["sliding_window"] = Value::Null;
    assert_eq!(read(config).unwrap().arch.sliding_window(), None);
}

#[test]
fn absent_keys_are_recorded_as_assumptions() {
    let mut config = llama_small();
    config
        .as_object_mut()
        .unwrap()
        .remove("num_key_value_heads");
    let parsed = read(config).unwrap();
    assert_eq!(parsed.arch.kv_heads(), 4);
    let names: Vec<&str> = parsed.assumptions.iter().map(|a| a.name.as_str()).collect();
    assert!(names.contains(&"num_key_value_heads"), "{names:?}");
    assert!(names.contains(&"head_dim"), "{names:?}");
    assert!(names.contains(&"tie_word_embeddings"), "{names:?}");
}

#[test]
fn supported_types_are_sorted_and_cover_the_brief() {
    let types = supported_model_types();
    assert!(types.windows(2).all(|w| w[0] < w[1]), "{types:?}");
    for t in [
        "llama",
        "mistral",
        "mixtral",
        "qwen2",
        "qwen2_moe",
        "qwen3",
        "qwen3_moe",
        "gemma",
        "gemma2",
        "gemma3_text",
        "gemma3",
        "phi",
        "phi3",
        "gpt2",
        "gpt_neox",
        "gptj",
        "falcon",
        "opt",
        "bloom",
        "starcoder2",
        "olmo",
        "olmo2",
        "olmo3",
        "mpt",
        "granite",
        "glm",
        "gpt_oss",
        "stablelm",
        "cohere",
        "deepseek_v2",
        "deepseek_v3",
    ] {
        assert!(types.contains(&t), "{t}");
    }
}

// ---- bad input: each an error, never a panic ----

#[test]
fn truncated_json_reports_line_and_column() {
    let err =
        from_config_str("{\n  \"model_type\": \"llama\",\n  \"hidden_size\": 40").unwrap_err();
    match err {
        // The text stops after `40`, the 19th character of line 3.
        FormatError::Json { line, column, .. } => assert_eq!((line, column), (3, 19)),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        from_config_str("{\"model_type\": llama}"),
        Err(FormatError::Json { line: 1, .. })
    ));
}

#[test]
fn missing_field_names_model_type_and_field() {
    let mut config = llama_small();
    config.as_object_mut().unwrap().remove("num_hidden_layers");
    match read(config).unwrap_err() {
        FormatError::MissingField { model_type, field } => {
            assert_eq!(
                (model_type.as_str(), field.as_str()),
                ("llama", "num_hidden_layers")
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn zero_negative_and_mistyped_sizes_are_invalid() {
    for bad in [json!(0), json!(-1), json!("4096"), json!(64.5), json!(1e30)] {
        let mut config = llama_small();
        config["hidden_size"] = bad.clone();
        match read(config).unwrap_err() {
            FormatError::InvalidField { field, .. } => assert_eq!(field, "hidden_size", "{bad}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn heads_that_do_not_divide_hidden_are_invalid() {
    let mut config = llama_small();
    config["num_attention_heads"] = json!(3);
    config["num_key_value_heads"] = json!(3);
    match read(config).unwrap_err() {
        FormatError::InvalidField { field, value, .. } => {
            assert_eq!(
                (field.as_str(), value.as_str()),
                ("num_attention_heads", "3")
            )
        }
        other => panic!("{other:?}"),
    }
    let mut config = llama_small();
    config["num_key_value_heads"] = json!(3);
    assert!(
        matches!(read(config), Err(FormatError::InvalidField { field, .. }) if field == "num_key_value_heads")
    );
}

#[test]
fn counts_that_overflow_u64_are_core_overflow() {
    let mut config = llama_small();
    config["hidden_size"] = json!(1u64 << 40);
    config["vocab_size"] = json!(1u64 << 40);
    assert!(matches!(
        read(config),
        Err(FormatError::Core(CoreError::Overflow { .. }))
    ));
}

#[test]
fn unknown_model_type_lists_supported_types() {
    let mut config = llama_small();
    config["model_type"] = json!("llama9");
    match read(config).unwrap_err() {
        FormatError::UnsupportedModelType {
            model_type,
            nearest,
            supported,
        } => {
            assert_eq!(model_type, "llama9");
            assert_eq!(nearest, ["llama", "llama4", "mllama"]);
            assert!(supported.iter().any(|s| s == "llama"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn json_without_model_type_is_rejected() {
    for text in ["[1, 2]", "{}", "{\"model_type\": 3}", "null"] {
        assert!(
            matches!(
                from_config_str(text),
                Err(FormatError::MissingModelType { .. })
            ),
            "{text}"
        );
    }
}

#[test]
fn layer_types_of_the_wrong_length_are_invalid() {
    let mut config = llama_small();
    config["model_type"] = json!("gemma2");
    config["layer_types"] = json!(["sliding_attention"]);
    assert!(
        matches!(read(config), Err(FormatError::InvalidField { field, .. }) if field == "layer_types")
    );
}

#[test]
fn opt_projected_embeddings_are_rejected_not_miscounted() {
    // facebook/opt-350m projects 512-wide embeddings into h 1024.
    let config = json!({"model_type": "opt", "hidden_size": 1024, "num_hidden_layers": 24,
                        "num_attention_heads": 16, "ffn_dim": 4096, "vocab_size": 50272,
                        "word_embed_proj_dim": 512});
    assert!(
        matches!(read(config), Err(FormatError::InvalidField { field, .. }) if field == "word_embed_proj_dim")
    );
}

#[test]
fn nested_fields_are_named_with_their_prefix() {
    let config = json!({"model_type": "gemma3", "text_config": {"hidden_size": 0}});
    match read(config).unwrap_err() {
        FormatError::InvalidField {
            model_type, field, ..
        } => {
            assert_eq!(
                (model_type.as_str(), field.as_str()),
                ("gemma3", "text_config.hidden_size")
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn paths_that_cannot_be_read_are_errors() {
    let dir = std::env::temp_dir().join(format!("sizeup-hf-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    assert!(matches!(
        from_config_path(&dir),
        Err(FormatError::NoConfigInDirectory { .. })
    ));
    assert!(matches!(
        from_config_path(&dir.join("absent.json")),
        Err(FormatError::File(crate::file::FileError::Io { .. }))
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}
