//! safetensors: single and sharded checkpoints written by the tests, read
//! header-only (data sections are holes in sparse files).

mod support;

use sizeup_core::{params, Shape};
use sizeup_formats::file::FileError;
use sizeup_formats::safetensors::{self, compare_with_config, SafetensorsError};
use sizeup_formats::tensors::{Dtype, Role};
use support::{fixture_params, st_header, st_write, write_llama_2_7b_sharded};

#[test]
fn sharded_llama_2_7b_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    write_llama_2_7b_sharded(dir.path());

    let ckpt = safetensors::read_checkpoint(dir.path()).unwrap();
    // 6_738_415_616 = shared/fixtures/models/llama-2-7b/expected.json params_total
    assert_eq!(ckpt.table.params, 6_738_415_616);
    assert_eq!(ckpt.table.params, fixture_params("llama-2-7b"));
    // every tensor in BF16: 2 bytes per parameter
    assert_eq!(ckpt.table.bytes, 13_476_831_232);
    assert_eq!(ckpt.index_total_size, Some(13_476_831_232));
    assert_eq!(ckpt.files.len(), 2);
    assert_eq!(ckpt.files[0].tensors, 1 + 16 * 9);
    assert_eq!(ckpt.metadata.get("format").map(String::as_str), Some("pt"));
    assert_eq!(ckpt.table.by_dtype[&Dtype::BF16].tensors, 3 + 32 * 9);
    // the fixture's breakdown
    assert_eq!(ckpt.table.role(Role::Embedding).params, 131_072_000);
    assert_eq!(ckpt.table.role(Role::Attention).params, 2_147_483_648);
    assert_eq!(ckpt.table.role(Role::Mlp).params, 4_328_521_728);
    assert_eq!(ckpt.table.role(Role::Norm).params, 266_240);
    assert_eq!(ckpt.table.role(Role::LmHead).params, 131_072_000);

    let arch = Shape::llama(32, 4096, 32, 32, 11008, 32000)
        .build()
        .unwrap();
    let cmp = compare_with_config(params::count(&arch).unwrap().total, &ckpt.table);
    assert_eq!((cmp.extra_in_file, cmp.missing_in_file), (0, 0));

    // the index file itself is an entry point too
    let again =
        safetensors::read_checkpoint(&dir.path().join("model.safetensors.index.json")).unwrap();
    assert_eq!(again.table, ckpt.table);
}

#[test]
fn folder_entry_point_finds_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let err = safetensors::read_checkpoint(dir.path()).unwrap_err();
    assert!(
        matches!(err, SafetensorsError::NoCheckpoint { .. }),
        "{err}"
    );

    let (json, len) = st_header(&[("w", "F32", vec![2, 3])], &[]);
    st_write(&dir.path().join("consolidated.safetensors"), &json, len);
    let ckpt = safetensors::read_checkpoint(dir.path()).unwrap();
    assert_eq!((ckpt.table.params, ckpt.table.bytes), (6, 24));
    assert!(ckpt.source.ends_with("consolidated.safetensors"));

    st_write(&dir.path().join("other.safetensors"), &json, len);
    let err = safetensors::read_checkpoint(dir.path()).unwrap_err();
    assert!(
        matches!(&err, SafetensorsError::AmbiguousCheckpoint { candidates, .. } if candidates.len() == 2)
    );

    st_write(&dir.path().join("model.safetensors"), &json, len);
    let ckpt = safetensors::read_checkpoint(dir.path()).unwrap();
    assert!(ckpt.source.ends_with("model.safetensors"));
}

#[test]
fn gptq_checkpoint_counts_unpacked_parameters() {
    // a 2-layer llama (h 256, f 512, 4 heads, V 1000), GPTQ int4, group size 128
    let (h, f, v) = (256u64, 512u64, 1000u64);
    let mut spec: Vec<(String, &str, Vec<u64>)> =
        vec![("model.embed_tokens.weight".into(), "F16", vec![v, h])];
    for i in 0..2 {
        let mut linear = |name: String, d_in: u64, d_out: u64| {
            spec.push((format!("{name}.qweight"), "I32", vec![d_in / 8, d_out]));
            spec.push((format!("{name}.qzeros"), "I32", vec![d_in / 128, d_out / 8]));
            spec.push((format!("{name}.scales"), "F16", vec![d_in / 128, d_out]));
            spec.push((format!("{name}.g_idx"), "I32", vec![d_in]));
        };
        for p in ["q_proj", "k_proj", "v_proj", "o_proj"] {
            linear(format!("model.layers.{i}.self_attn.{p}"), h, h);
        }
        linear(format!("model.layers.{i}.mlp.gate_proj"), h, f);
        linear(format!("model.layers.{i}.mlp.up_proj"), h, f);
        linear(format!("model.layers.{i}.mlp.down_proj"), f, h);
        spec.push((
            format!("model.layers.{i}.input_layernorm.weight"),
            "F16",
            vec![h],
        ));
        spec.push((
            format!("model.layers.{i}.post_attention_layernorm.weight"),
            "F16",
            vec![h],
        ));
    }
    spec.push(("model.norm.weight".into(), "F16", vec![h]));
    spec.push(("lm_head.weight".into(), "F16", vec![v, h]));
    let refs: Vec<(&str, &str, Vec<u64>)> = spec
        .iter()
        .map(|(n, d, s)| (n.as_str(), *d, s.clone()))
        .collect();
    let (json, len) = st_header(&refs, &[]);
    let dir = tempfile::tempdir().unwrap();
    st_write(&dir.path().join("model.safetensors"), &json, len);

    let ckpt = safetensors::read_checkpoint(dir.path()).unwrap();
    let arch = Shape::llama(2, h, 4, 4, f, v).build().unwrap();
    let config = params::count(&arch).unwrap().total;
    assert_eq!(ckpt.table.params, config);
    assert_eq!(
        compare_with_config(config, &ckpt.table).relative_difference,
        0.0
    );
    // int4 weights take half a byte each
    let linear = 2 * (4 * h * h + 3 * h * f);
    assert_eq!(
        ckpt.table.role(Role::Attention).bytes + ckpt.table.role(Role::Mlp).bytes,
        linear / 2
    );
    assert_eq!(ckpt.table.role(Role::QuantScales).tensors, 2 * 7 * 3);
}

#[test]
fn index_problems_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let (json, len) = st_header(&[("a", "F32", vec![4])], &[]);
    st_write(&dir.path().join("s1.safetensors"), &json, len);
    st_write(&dir.path().join("s2.safetensors"), &json, len);
    let index = dir.path().join("model.safetensors.index.json");

    let cases: [(serde_json::Value, &str); 5] = [
        (
            serde_json::json!({"weight_map": {"a": "../s1.safetensors"}}),
            "UnsafeShardName",
        ),
        (
            serde_json::json!({"weight_map": {"a": "/etc/passwd"}}),
            "UnsafeShardName",
        ),
        (
            serde_json::json!({"weight_map": {"a": "s1.safetensors", "b": "s1.safetensors"}}),
            "MissingFromShard",
        ),
        (
            serde_json::json!({"weight_map": {"a": "s1.safetensors", "x": "s2.safetensors"}}),
            "TensorInTwoShards",
        ),
        (serde_json::json!({"weight_map": {}}), "EmptyIndex"),
    ];
    for (value, expected) in cases {
        std::fs::write(&index, value.to_string()).unwrap();
        let err = safetensors::read_checkpoint(dir.path()).unwrap_err();
        assert!(format!("{err:?}").starts_with(expected), "{value}: {err:?}");
    }
    std::fs::write(&index, r#"{"weight_map": {"a": "missing.safetensors"}}"#).unwrap();
    let err = safetensors::read_checkpoint(dir.path()).unwrap_err();
    assert!(
        matches!(&err, SafetensorsError::File(FileError::Io { path, .. }) if path.ends_with("missing.safetensors"))
    );
}
