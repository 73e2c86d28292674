//! `sizeup params`, `kv` and `models` end to end: the JSON contract and bad input.

use predicates::prelude::*;

mod common;
use common::{json, shared, sizeup};

#[test]
fn params_json_has_top_level_totals() {
    // shared/fixtures/models/mixtral-8x7b-v0.1/expected.json
    let v = json(&["params", "mixtral-8x7b-v0.1", "--format", "json"]);
    assert_eq!(v["params_total"], 46_702_792_704u64);
    assert_eq!(v["params_active"], 12_879_925_248u64);
    assert_eq!(v["breakdown"]["moe_router"], 1_048_576u64);
}

#[test]
fn params_reads_a_config_path_and_a_folder() {
    // shared/fixtures/models/qwen3-8b/expected.json: 8_190_735_360
    let dir = shared("fixtures/models/qwen3-8b");
    for arg in [dir.clone(), dir.join("config.json")] {
        let v = json(&["params", arg.to_str().unwrap(), "--format", "json"]);
        assert_eq!(v["params_total"], 8_190_735_360u64);
        assert_eq!(v["model"]["name"], "qwen3-8b");
    }
}

#[test]
fn kv_json_has_bytes_per_token_and_total() {
    // llama-3.1-8b: 32·2·8·128·2 = 131_072 bytes per token (fixture kv_bytes_per_token_fp16)
    let v = json(&[
        "kv",
        "llama-3.1-8b",
        "--seq-len",
        "32k",
        "--batch",
        "4",
        "--format",
        "json",
    ]);
    assert_eq!(v["bytes_per_token"], 131_072u64);
    assert_eq!(v["bytes_total"], 131_072u64 * 32_768 * 4);
}

#[test]
fn kv_fp8_halves_and_q4_0_is_9_32_of_fp16() {
    let fp16 = json(&["kv", "llama-3.1-8b", "--format", "json"])["bytes_total"]
        .as_u64()
        .unwrap();
    let fp8 = json(&[
        "kv",
        "llama-3.1-8b",
        "--kv-dtype",
        "fp8",
        "--format",
        "json",
    ])["bytes_total"]
        .as_u64()
        .unwrap();
    let q4 = json(&[
        "kv",
        "llama-3.1-8b",
        "--kv-dtype",
        "q4_0",
        "--format",
        "json",
    ])["bytes_total"]
        .as_u64()
        .unwrap();
    assert_eq!(fp8 * 2, fp16);
    // q4_0 stores 32 values in 18 bytes (4.5 bits) against 64 bytes in fp16
    assert_eq!(q4 * 64, fp16 * 18);
}

#[test]
fn kv_gemma2_windows_half_the_layers() {
    // gemma-2-9b-it: 42 layers, 21 local with a 4096 window; 8 KV heads × 256 dims
    let v = json(&[
        "kv",
        "gemma-2-9b-it",
        "--seq-len",
        "32768",
        "--format",
        "json",
    ]);
    let per_layer_token = 2 * 8 * 256 * 2u64;
    assert_eq!(
        v["bytes_per_sequence"],
        per_layer_token * (21 * 32_768 + 21 * 4096)
    );
}

#[test]
fn kv_mla_caches_the_latent() {
    // deepseek-v3: 61·(512 + 64)·2 = 70_272 bytes per token (fixture)
    let v = json(&["kv", "deepseek-v3", "--format", "json", "--tp", "8"]);
    assert_eq!(v["bytes_per_token"], 70_272u64);
    assert_eq!(v["bytes_per_gpu"], v["bytes_total"]);
}

#[test]
fn kv_tp_beyond_kv_heads_replicates() {
    // llama-3.1-70b has 8 KV heads; at tp 16 each GPU still holds one whole head
    let v = json(&["kv", "llama-3.1-70b", "--tp", "16", "--format", "json"]);
    assert_eq!(v["kv_heads_per_gpu"], 1);
    assert_eq!(
        v["bytes_per_gpu"].as_u64().unwrap() * 8,
        v["bytes_total"].as_u64().unwrap()
    );
}

#[test]
fn models_lists_every_fixture_and_the_lesson() {
    let v = json(&["models", "--format", "json"]);
    let names: Vec<&str> = v["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    let fixtures: Vec<String> = std::fs::read_dir(shared("fixtures/models"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for f in &fixtures {
        assert!(names.contains(&f.as_str()), "{f} missing from the catalog");
    }
    // 74 models from other real configs (catalog/sources.toml) beside the 61
    // fixtures and the lesson's two
    assert_eq!(names.len(), fixtures.len() + 2 + 74);
    assert!(names.contains(&"qwen3-next-80b-a3b") && names.contains(&"gemma-4-31b"));
    assert!(names.contains(&"lesson-small") && names.contains(&"lesson-large"));
}

#[test]
fn names_match_loosely() {
    let v = json(&["params", "LLAMA_3_1_8B", "--format", "json"]);
    assert_eq!(v["params_total"], 8_030_261_248u64);
}

#[test]
fn unknown_name_suggests_nearest() {
    sizeup()
        .args(["params", "mistral-7b-v0.2"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown model `mistral-7b-v0.2`"))
        .stderr(predicate::str::contains("did you mean `mistral-7b-v0.1`"));
}

/// Each class of bad config: exit 2, one error naming the field, no panic.
#[test]
fn bad_configs_exit_2_and_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(shared("fixtures/models/llama-3.1-8b/config.json")).unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "truncated",
            good[..good.len() / 2].to_string(),
            "invalid JSON",
        ),
        (
            "missing",
            good.replace("\"hidden_size\"", "\"hidden_sizeX\""),
            "`hidden_size`",
        ),
        (
            "zero",
            good.replace("\"num_hidden_layers\": 32", "\"num_hidden_layers\": 0"),
            "`num_hidden_layers`",
        ),
        (
            "negative",
            good.replace("\"num_hidden_layers\": 32", "\"num_hidden_layers\": -4"),
            "`num_hidden_layers`",
        ),
        (
            "heads",
            good.replace("\"num_attention_heads\": 32", "\"num_attention_heads\": 24"),
            "`num_attention_heads`",
        ),
        (
            "overflow",
            good.replace(
                "\"vocab_size\": 128256",
                "\"vocab_size\": 18446744073709551615",
            ),
            "overflows",
        ),
        (
            "unknown",
            good.replace("\"model_type\": \"llama\"", "\"model_type\": \"llamax\""),
            "unsupported model_type `llamax`",
        ),
        (
            "layers",
            good.replace(
                "\"num_hidden_layers\": 32",
                "\"num_hidden_layers\": 1000000000",
            ),
            "at most 65536",
        ),
    ];
    for (name, text, expected) in cases {
        let path = dir.path().join(format!("{name}.json"));
        std::fs::write(&path, text).unwrap();
        sizeup()
            .args(["params", path.to_str().unwrap()])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(expected))
            .stderr(predicate::str::contains("panicked").not());
    }
}

#[test]
fn more_experts_per_token_than_experts_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let good =
        std::fs::read_to_string(shared("fixtures/models/mixtral-8x7b-v0.1/config.json")).unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(
        &path,
        good.replace("\"num_experts_per_tok\": 2", "\"num_experts_per_tok\": 64"),
    )
    .unwrap();
    sizeup()
        .args(["infer", path.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "`num_experts_per_tok` = 64 is invalid: at most the 8 routed experts",
        ));
}

#[test]
fn a_prompt_that_overflows_is_an_error_not_a_wrap() {
    sizeup()
        .args(["infer", "llama-3.1-8b", "--prompt", "18446744073709551615"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "invalid value '18446744073709551615' for '--prompt': 18446744073709551615 is out of range: a token count from 1 to 1073741824",
        ));
}

#[test]
fn an_unknown_model_type_names_the_nearest_and_as_reads_it_unverified() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/models/llama-3.1-8b/config.json"
    ))
    .unwrap()
    .replace("\"model_type\": \"llama\"", "\"model_type\": \"llama9\"");
    std::fs::write(&path, text).unwrap();
    sizeup()
        .args(["params", path.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "hint: nearest supported: `llama`, `llama4` or `mllama`; if the architecture is one of these, pass `--as llama`",
        ));
    let out = sizeup()
        .args([
            "params",
            path.to_str().unwrap(),
            "--as",
            "llama",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // the llama reader's exact count of Llama 3.1 8B (shared/fixtures/models/llama-3.1-8b)
    assert_eq!(v["params_total"], 8_030_261_248u64);
    assert_eq!(v["model"]["model_type"], "llama9");
    assert_eq!(v["assumptions"][0]["name"], "read as");
    assert!(v["assumptions"][0]["source"]
        .as_str()
        .unwrap()
        .starts_with("UNVERIFIED"));
    sizeup()
        .args(["params", path.to_str().unwrap(), "--as", "lama"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`--as` = `lama` is invalid"));
}
