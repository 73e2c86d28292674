//! GGUF: synthetic files with the shapes of real models, read back header-only.
//!
//! Each model's parameter count comes from `shared/fixtures/models/<name>/expected.json`
//! (transformers' `sum(p.numel())`); the file's tensors and the architecture built
//! from its metadata must both reproduce it, and that architecture must equal the
//! one `hf` reads from the fixture's `config.json`.

mod support;

use sizeup_core::arch::{AttentionKind, QkNorm};
use sizeup_core::params;
use sizeup_formats::gguf::{self, GgmlType, GgufError, Value};
use sizeup_formats::tensors::{Dtype, Role};
use support::{fixture_params, GgufWriter, Lm, MlaSpec, MoeSpec, Ty};

fn llama_2_7b() -> Lm {
    // shared/fixtures/models/llama-2-7b/config.json
    Lm {
        layers: 32,
        hidden: 4096,
        heads: 32,
        kv_heads: 32,
        head_dim: 128,
        vocab: 32000,
        ffn: 11008,
        norms_per_layer: 2,
        ..Lm::default()
    }
}

/// Read a virtual GGUF and check that tensors and metadata both give the fixture count.
fn check_model(g: &GgufWriter, fixture: &str) -> (gguf::GgufFile, sizeup_core::Architecture) {
    let file = gguf::read(g.virtual_file(), fixture).unwrap();
    let table = file.tensor_table().unwrap();
    let (arch, _) = file.architecture().unwrap();
    let expected = fixture_params(fixture);
    assert_eq!(
        table.params, expected,
        "{fixture}: parameters in the tensors"
    );
    assert_eq!(
        params::count(&arch).unwrap().total,
        expected,
        "{fixture}: parameters from metadata"
    );
    // the same Architecture as transformers' config.json gives (main's hf reader)
    let dir = support::shared_dir().join("fixtures/models").join(fixture);
    let mut from_config = sizeup_formats::hf::from_config_path(&dir).unwrap().arch;
    // GGUF files leave out the multi-token-prediction layers (llama.cpp drops them)
    from_config.mtp = None;
    assert_eq!(
        arch, from_config,
        "{fixture}: GGUF metadata and config.json describe the same model"
    );
    (file, arch)
}

#[test]
fn llama_2_7b_q4_k_m_on_disk() {
    let lm = llama_2_7b();
    let mut g = GgufWriter::default();
    lm.gguf_keys(&mut g, "llama", 4096);
    // a Q4_K_M-like mix: Q6_K for attn_v, ffn_down and output, Q4_K elsewhere
    lm.gguf_tensors(&mut g, Ty::Q4_K);
    for t in &mut g.tensors {
        let n = t.name.as_str();
        if n.ends_with(".attn_v.weight") || n.ends_with(".ffn_down.weight") || n == "output.weight"
        {
            t.type_id = Ty::Q6_K.id();
            t.bytes = Ty::Q6_K.bytes(&t.dims);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("llama-2-7b.Q4_K_M.gguf");
    g.write(&path);

    let model = gguf::read_model(&path).unwrap();
    // 6_738_415_616 = shared/fixtures/models/llama-2-7b/expected.json params_total
    assert_eq!(model.table.params, 6_738_415_616);
    assert_eq!(model.table.params, fixture_params("llama-2-7b"));
    // Q4_K: token_embd 32000·4096 + 32·(3·4096² + 2·4096·11008) = 4_627_365_888 values,
    //       144 bytes per 256 → 2_602_893_312 bytes
    // Q6_K: 32·(4096² + 4096·11008) + 32000·4096 = 2_110_783_488 values,
    //       210 bytes per 256 → 1_731_502_080 bytes
    // F32 norms: (2·32 + 1)·4096 = 266_240 values → 1_064_960 bytes
    let q4 = model.table.by_dtype[&Dtype::Ggml(GgmlType::Q4_K)];
    let q6 = model.table.by_dtype[&Dtype::Ggml(GgmlType::Q6_K)];
    let f32 = model.table.by_dtype[&Dtype::F32];
    assert_eq!((q4.params, q4.bytes), (4_627_365_888, 2_602_893_312));
    assert_eq!((q6.params, q6.bytes), (2_110_783_488, 1_731_502_080));
    assert_eq!((f32.params, f32.bytes), (266_240, 1_064_960));
    assert_eq!(model.table.bytes, 4_335_460_352);
    // breakdown of the fixture
    assert_eq!(model.table.role(Role::Attention).params, 2_147_483_648);
    assert_eq!(model.table.role(Role::Mlp).params, 4_328_521_728);
    assert_eq!(model.table.role(Role::Norm).params, 266_240);
    assert_eq!(model.table.role(Role::Embedding).params, 131_072_000);
    assert_eq!(model.table.role(Role::LmHead).params, 131_072_000);

    assert_eq!(model.arch, "llama");
    let arch = &model.architecture;
    assert_eq!(params::count(arch).unwrap().total, 6_738_415_616);
    assert_eq!(
        (arch.num_layers(), arch.hidden_size, arch.vocab_size),
        (32, 4096, 32000)
    );
    assert!(!arch.embedding.tied);
    let dir = support::shared_dir().join("fixtures/models/llama-2-7b");
    assert_eq!(
        arch,
        &sizeup_formats::hf::from_config_path(&dir).unwrap().arch
    );
    let vocab = model
        .assumptions
        .iter()
        .find(|a| a.name == "vocab_size")
        .unwrap();
    assert_eq!(vocab.source, "rows of token_embd.weight");
}

#[test]
fn qwen3_30b_a3b_moe() {
    // shared/fixtures/models/qwen3-30b-a3b/config.json
    let lm = Lm {
        layers: 48,
        hidden: 2048,
        heads: 32,
        kv_heads: 4,
        head_dim: 128,
        vocab: 151_936,
        ffn: 6144,
        qk_norm: true,
        norms_per_layer: 2,
        moe: Some(MoeSpec {
            experts: 128,
            used: 8,
            ffn: 768,
            ..MoeSpec::default()
        }),
        ..Lm::default()
    };
    let mut g = GgufWriter::default();
    lm.gguf_keys(&mut g, "qwen3moe", 40960);
    lm.gguf_tensors(&mut g, Ty::Q8_0);
    let (file, arch) = check_model(&g, "qwen3-30b-a3b");
    let count = params::count(&arch).unwrap();
    // active_params in the fixture: 3_353_032_704
    assert_eq!(count.active, 3_353_032_704);
    assert_eq!(
        arch.primary_attention().unwrap().qk_norm,
        QkNorm::PerHeadShared
    );
    let table = file.tensor_table().unwrap();
    // breakdown: moe_routed_experts 28_991_029_248, moe_router 12_582_912
    assert_eq!(table.role(Role::MoeRoutedExperts).params, 28_991_029_248);
    assert_eq!(table.role(Role::MoeRouter).params, 12_582_912);
    // Q8_0 holds 32 values in 34 bytes
    let q8 = table.by_dtype[&Dtype::Ggml(GgmlType::Q8_0)];
    assert_eq!(q8.bytes, q8.params / 32 * 34);
}

fn deepseek_v3() -> Lm {
    // shared/fixtures/models/deepseek-v3/config.json
    Lm {
        layers: 61,
        hidden: 7168,
        heads: 128,
        kv_heads: 128,
        vocab: 129_280,
        ffn: 18432,
        norms_per_layer: 2,
        moe: Some(MoeSpec {
            experts: 256,
            used: 8,
            ffn: 2048,
            shared_ffn: 2048,
            dense_first: 3,
            probs_bias: true,
            ..MoeSpec::default()
        }),
        mla: Some(MlaSpec {
            q_lora_rank: 1536,
            kv_lora_rank: 512,
            nope: 128,
            rope: 64,
            v: 128,
        }),
        ..Lm::default()
    }
}

fn deepseek_keys(g: &mut GgufWriter, lm: &Lm) {
    lm.gguf_keys(g, "deepseek2", 163_840);
    g.u32("deepseek2.attention.q_lora_rank", 1536)
        .u32("deepseek2.attention.kv_lora_rank", 512)
        .u32("deepseek2.rope.dimension_count", 64)
        .u32("deepseek2.leading_dense_block_count", 3)
        .u32("deepseek2.expert_shared_count", 1);
}

#[test]
fn deepseek_v3_mla_with_old_keys() {
    let lm = deepseek_v3();
    let mut g = GgufWriter::default();
    deepseek_keys(&mut g, &lm);
    // older converters: key_length = qk_nope + qk_rope, value_length = v_head_dim
    g.u32("deepseek2.attention.key_length", 192)
        .u32("deepseek2.attention.value_length", 128);
    lm.gguf_tensors(&mut g, Ty::Q8_0);
    let (file, arch) = check_model(&g, "deepseek-v3");
    let count = params::count(&arch).unwrap();
    assert_eq!(count.active, 37_552_282_624); // fixture active_params
    assert!(matches!(
        arch.primary_attention().unwrap().kind,
        AttentionKind::Mla {
            q_lora_rank: Some(1536),
            kv_lora_rank: 512,
            qk_nope_head_dim: 128,
            qk_rope_head_dim: 64,
            v_head_dim: 128,
            ..
        }
    ));
    // exp_probs_b (e_score_correction_bias) is a buffer: 58 layers × 256
    let table = file.tensor_table().unwrap();
    assert_eq!(table.role(Role::Buffer).params, 58 * 256);
    assert_eq!(table.role(Role::MoeSharedExperts).params, 2_554_331_136);
    assert_eq!(table.role(Role::Mlp).params, 1_189_085_184);
}

#[test]
fn deepseek_v3_mla_with_absorbed_keys() {
    let lm = deepseek_v3();
    let mut g = GgufWriter::default();
    deepseek_keys(&mut g, &lm);
    // newer converters: key_length = kv_lora_rank + rope (576), value_length = kv_lora_rank,
    // the per-head sizes under *_mla
    g.u32("deepseek2.attention.key_length", 576)
        .u32("deepseek2.attention.value_length", 512)
        .u32("deepseek2.attention.key_length_mla", 192)
        .u32("deepseek2.attention.value_length_mla", 128);
    lm.gguf_tensors(&mut g, Ty::Q8_0);
    check_model(&g, "deepseek-v3");
}

#[test]
fn gpt_oss_20b_mxfp4() {
    // shared/fixtures/models/gpt-oss-20b/config.json
    let lm = Lm {
        layers: 24,
        hidden: 2880,
        heads: 64,
        kv_heads: 8,
        head_dim: 64,
        vocab: 201_088,
        ffn: 2880,
        qkv_bias: true,
        o_bias: true,
        sinks: true,
        norms_per_layer: 2,
        moe: Some(MoeSpec {
            experts: 32,
            used: 4,
            ffn: 2880,
            router_bias: true,
            expert_bias: true,
            ..MoeSpec::default()
        }),
        ..Lm::default()
    };
    let mut g = GgufWriter::default();
    lm.gguf_keys(&mut g, "gpt-oss", 131_072);
    g.u32("gpt-oss.attention.sliding_window", 128);
    lm.gguf_tensors(&mut g, Ty::MXFP4);
    let (file, arch) = check_model(&g, "gpt-oss-20b");
    assert_eq!(params::count(&arch).unwrap().active, 4_187_440_704);
    assert_eq!(arch.sliding_window(), Some((128, 12)));
    let table = file.tensor_table().unwrap();
    assert_eq!(table.role(Role::MoeRoutedExperts).params, 19_116_933_120);
    // MXFP4: 32 values in 17 bytes
    let fp4 = table.by_dtype[&Dtype::Ggml(GgmlType::MXFP4)];
    assert_eq!(fp4.bytes, fp4.params / 32 * 17);
}

#[test]
fn gemma_2_and_3_tied_with_sandwich_norms_and_windows() {
    // shared/fixtures/models/gemma-2-2b-it/config.json
    let gemma2 = Lm {
        layers: 26,
        hidden: 2304,
        heads: 8,
        kv_heads: 4,
        head_dim: 256,
        vocab: 256_000,
        ffn: 9216,
        tied: true,
        norms_per_layer: 4,
        ..Lm::default()
    };
    let mut g = GgufWriter::default();
    gemma2.gguf_keys(&mut g, "gemma2", 8192);
    g.u32("gemma2.attention.sliding_window", 4096);
    gemma2.gguf_tensors(&mut g, Ty::F16);
    let (_, arch) = check_model(&g, "gemma-2-2b-it");
    assert!(arch.embedding.tied);
    // llama.cpp: every second layer (0, 2, …) is local → 13 of 26
    assert_eq!(arch.sliding_window(), Some((4096, 13)));

    // shared/fixtures/models/gemma-3-1b-it/config.json
    let gemma3 = Lm {
        layers: 26,
        hidden: 1152,
        heads: 4,
        kv_heads: 1,
        head_dim: 256,
        vocab: 262_144,
        ffn: 6912,
        tied: true,
        qk_norm: true,
        norms_per_layer: 4,
        ..Lm::default()
    };
    let mut g = GgufWriter::default();
    gemma3.gguf_keys(&mut g, "gemma3", 32768);
    g.u32("gemma3.attention.sliding_window", 512);
    gemma3.gguf_tensors(&mut g, Ty::F16);
    let (_, arch) = check_model(&g, "gemma-3-1b-it");
    // pattern 6: layers 5, 11, 17, 23 are global → 22 of 26 local
    assert_eq!(arch.sliding_window(), Some((512, 22)));
}

#[test]
fn qwen2_dense_and_moe_with_biases_and_shared_expert() {
    // shared/fixtures/models/qwen2-0.5b/config.json (tied, q/k/v biases)
    let qwen2 = Lm {
        layers: 24,
        hidden: 896,
        heads: 14,
        kv_heads: 2,
        head_dim: 64,
        vocab: 151_936,
        ffn: 4864,
        tied: true,
        qkv_bias: true,
        norms_per_layer: 2,
        ..Lm::default()
    };
    let mut g = GgufWriter::default();
    qwen2.gguf_keys(&mut g, "qwen2", 32768);
    qwen2.gguf_tensors(&mut g, Ty::F16);
    check_model(&g, "qwen2-0.5b");

    // shared/fixtures/models/qwen1.5-moe-a2.7b/config.json
    let moe = Lm {
        layers: 24,
        hidden: 2048,
        heads: 16,
        kv_heads: 16,
        head_dim: 128,
        vocab: 151_936,
        ffn: 5632,
        qkv_bias: true,
        norms_per_layer: 2,
        moe: Some(MoeSpec {
            experts: 60,
            used: 4,
            ffn: 1408,
            shared_ffn: 5632,
            shared_gate: true,
            ..MoeSpec::default()
        }),
        ..Lm::default()
    };
    let mut g = GgufWriter::default();
    moe.gguf_keys(&mut g, "qwen2moe", 32768);
    g.u32("qwen2moe.expert_shared_feed_forward_length", 5632);
    moe.gguf_tensors(&mut g, Ty::F16);
    let (_, arch) = check_model(&g, "qwen1.5-moe-a2.7b");
    assert_eq!(params::count(&arch).unwrap().active, 2_689_173_504);
}

#[test]
fn vocab_from_tokenizer_and_defaults_are_recorded() {
    let mut g = GgufWriter::default();
    g.string("general.architecture", "llama")
        .u32("llama.block_count", 1)
        .u32("llama.embedding_length", 64)
        .u32("llama.feed_forward_length", 128)
        .u32("llama.attention.head_count", 4)
        .u32("llama.context_length", 256)
        .strings(
            "tokenizer.ggml.tokens",
            &(0..100).map(|i| format!("t{i}")).collect::<Vec<_>>(),
        );
    let file = gguf::read_bytes(&g.bytes()).unwrap();
    let (arch, assumptions) = file.architecture().unwrap();
    assert_eq!(arch.vocab_size, 100);
    assert_eq!(arch.heads(), 4);
    assert_eq!(arch.kv_heads(), 4);
    assert_eq!(arch.head_dim(), 16);
    let names: Vec<&str> = assumptions.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "vocab_size",
            "num_key_value_heads",
            "head_dim",
            "tie_word_embeddings"
        ]
    );
    assert_eq!(assumptions[0].source, "length of tokenizer.ggml.tokens");
}

#[test]
fn unknown_architecture_and_missing_keys_are_named() {
    let mut g = GgufWriter::default();
    g.string("general.architecture", "mamba");
    let err = gguf::read_bytes(&g.bytes())
        .unwrap()
        .architecture()
        .unwrap_err();
    assert!(matches!(&err, GgufError::UnsupportedArchitecture { arch, .. } if arch == "mamba"));
    assert!(err.to_string().contains("`mamba`"), "{err}");

    let mut g = GgufWriter::default();
    g.string("general.architecture", "llama")
        .u32("llama.block_count", 2);
    let err = gguf::read_bytes(&g.bytes())
        .unwrap()
        .architecture()
        .unwrap_err();
    assert!(matches!(&err, GgufError::MissingKey { key, .. } if key == "llama.embedding_length"));

    let mut g = GgufWriter::default();
    g.string("general.architecture", "llama")
        .u32("llama.block_count", 2)
        .u32("llama.embedding_length", 64)
        .u32("llama.feed_forward_length", 128)
        .u32("llama.context_length", 256)
        .u32("llama.vocab_size", 10)
        .u32("llama.attention.head_count", 4)
        .i32s("llama.attention.head_count_kv", &[4, 2]);
    let err = gguf::read_bytes(&g.bytes())
        .unwrap()
        .architecture()
        .unwrap_err();
    assert!(
        matches!(&err, GgufError::VariesPerLayer { key, .. } if key == "llama.attention.head_count_kv")
    );
}

#[test]
fn every_value_type_and_nested_arrays_read_back() {
    let mut g = GgufWriter::default();
    g.version = 2;
    let nested = {
        // array of 2 arrays of uint16: [[1, 2], []]
        let mut p = 9u32.to_le_bytes().to_vec();
        p.extend_from_slice(&2u64.to_le_bytes());
        p.extend_from_slice(&2u32.to_le_bytes());
        p.extend_from_slice(&2u64.to_le_bytes());
        p.extend_from_slice(&[1, 0, 2, 0]);
        p.extend_from_slice(&2u32.to_le_bytes());
        p.extend_from_slice(&0u64.to_le_bytes());
        p
    };
    g.raw_kv("u8", 0, &[7])
        .raw_kv("i8", 1, &[0xff])
        .raw_kv("u16", 2, &513u16.to_le_bytes())
        .raw_kv("i16", 3, &(-2i16).to_le_bytes())
        .u32("u32", 70_000)
        .raw_kv("i32", 5, &(-3i32).to_le_bytes())
        .f32("f32", 0.5)
        .bool("bool", true)
        .string("str", "héllo")
        .u64("u64", 1 << 40)
        .raw_kv("i64", 11, &(-4i64).to_le_bytes())
        .raw_kv("f64", 12, &2.25f64.to_le_bytes())
        .raw_kv("nested", 9, &nested)
        .alignment(64)
        .tensor("x", &[256, 2], Ty::Q4_K);
    let file = gguf::read_bytes(&g.bytes()).unwrap();
    assert_eq!((file.version, file.alignment), (2, 64));
    let md = &file.metadata;
    assert_eq!(md.get("u8"), Some(&Value::U8(7)));
    assert_eq!(md.get("i8"), Some(&Value::I8(-1)));
    assert_eq!(md.get("u16").and_then(Value::as_u64), Some(513));
    assert_eq!(md.get("i16"), Some(&Value::I16(-2)));
    assert_eq!(md.get("i32"), Some(&Value::I32(-3)));
    assert_eq!(md.get("f32"), Some(&Value::F32(0.5)));
    assert_eq!(md.get("bool"), Some(&Value::Bool(true)));
    assert_eq!(md.get("str").and_then(Value::as_str), Some("héllo"));
    assert_eq!(md.get("u64").and_then(Value::as_u64), Some(1 << 40));
    assert_eq!(md.get("i64"), Some(&Value::I64(-4)));
    assert_eq!(md.get("f64"), Some(&Value::F64(2.25)));
    let nested = md.get("nested").and_then(Value::as_array).unwrap();
    assert_eq!(nested.len(), 2);
    assert_eq!(serde_json::to_string(nested).unwrap(), "[[1,2],[]]");
    // data section starts on a 64-byte boundary; Q4_K: 2 rows of one block
    assert_eq!(file.data_offset % 64, 0);
    assert_eq!(file.tensors[0].bytes, 2 * 144);
    assert_eq!(file.tensor_table().unwrap().tensors[0].shape, vec![2, 256]);
}
