//! Configs as transformers 5.25 writes them back (`PretrainedConfig.to_dict()`, what
//! a Python caller hands over), not as the Hub stores them: the same model, the
//! same count. Each test rewrites a shared fixture the way transformers' own
//! round trip does and checks the reference count still comes out.

use std::path::Path;

use serde_json::{json, Value};
use sizeup_core::params;
use sizeup_formats::hf;

fn fixture(set: &str, name: &str) -> (Value, u64) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures")
        .join(set)
        .join(name);
    let read = |f: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(f)).unwrap()).unwrap()
    };
    let total = read("expected.json")["params_total"].as_u64().unwrap();
    (read("config.json"), total)
}

fn count(config: &Value) -> Result<u64, String> {
    let parsed = hf::from_config_str(&config.to_string()).map_err(|e| e.to_string())?;
    Ok(params::count(&parsed.arch).unwrap().total)
}

#[test]
fn gemma4_global_shapes_as_per_layer_overrides_count_the_same() {
    // Gemma4TextConfig.__post_init__ (transformers 5.25) pops `global_head_dim`
    // and `num_global_key_value_heads` and writes a `per_layer_config` entry for
    // each full-attention layer instead
    let (mut config, total) = fixture("models-2026", "gemma-4-31b-it");
    assert_eq!(count(&config), Ok(total));
    let text = config["text_config"].as_object_mut().unwrap();
    let head_dim = text.remove("global_head_dim").unwrap();
    let kv = text.remove("num_global_key_value_heads").unwrap();
    let per_layer: serde_json::Map<String, Value> = text["layer_types"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(_, t)| *t == "full_attention")
        .map(|(i, _)| {
            (
                format!("{i:02}"),
                json!({"head_dim": head_dim, "num_key_value_heads": kv}),
            )
        })
        .collect();
    text.insert("per_layer_config".into(), Value::Object(per_layer));
    assert_eq!(count(&config), Ok(total));

    // one layer named twice ("5" beside "05") is refused, not resolved by order
    let mut twice = config.clone();
    twice["text_config"]["per_layer_config"]["5"] = json!({"head_dim": 512});
    let err = count(&twice).unwrap_err();
    assert!(err.contains("per_layer_config.5"), "{err}");

    // an override the reader does not model is refused by name, not ignored
    config["text_config"]["per_layer_config"]["05"]["intermediate_size"] = json!(1);
    let err = count(&config).unwrap_err();
    assert!(
        err.contains("text_config.per_layer_config.05.intermediate_size"),
        "{err}"
    );
}

#[test]
fn per_layer_overrides_on_a_type_that_does_not_apply_them_are_refused() {
    let (mut config, _) = fixture("models", "llama-3.1-8b");
    config["per_layer_config"] = json!({"3": {"intermediate_size": 1024}});
    let err = count(&config).unwrap_err();
    assert!(err.contains("per_layer_config"), "{err}");
}

#[test]
fn qwen2_moe_window_written_as_zero_while_off_counts_the_same() {
    // Qwen2MoeConfig writes `sliding_window` = 0 when `use_sliding_window` is false
    let (mut config, total) = fixture("models", "qwen1.5-moe-a2.7b");
    assert_eq!(config["use_sliding_window"], json!(false));
    config["sliding_window"] = json!(0);
    assert_eq!(count(&config), Ok(total));
}
