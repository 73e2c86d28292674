//! Every reference fixture, counted exactly.
//!
//! For each folder of `shared/fixtures/models`, `config.json` goes through the
//! Hugging Face reader and `sizeup_core::params::count`; the total, every breakdown
//! group, the active parameters (MoE) and the fp16 KV bytes per token must equal
//! `expected.json` (transformers 5.24.0 on the meta device). All mismatches are
//! collected into one table before the test fails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sizeup_core::kv::{self, KvRequest};
use sizeup_core::{params, KvDtype};
use sizeup_formats::hf;

/// Fixtures whose `model_type` is knowingly unsupported, with the reason. Empty:
/// every fixture must be read.
const KNOWN_UNSUPPORTED: &[(&str, &str)] = &[];

/// Breakdown keys of `expected.json` that are information, not a parameter group.
const INFORMATIONAL: &[&str] = &["lm_head_tied_to_embedding"];

/// `shared/fixtures/models`, beside the repository.
fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/models")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

struct Mismatch {
    model: String,
    what: String,
    expected: String,
    got: String,
}

fn check_model(dir: &Path, name: &str, out: &mut Vec<Mismatch>) {
    let expected = read_json(&dir.join("expected.json"));
    let mut miss = |what: &str, e: String, g: String| {
        out.push(Mismatch {
            model: name.to_string(),
            what: what.to_string(),
            expected: e,
            got: g,
        })
    };
    let parsed = match hf::from_config_path(dir) {
        Ok(p) => p,
        Err(e) => {
            let allowed = KNOWN_UNSUPPORTED.iter().any(|(n, _)| *n == name);
            if !allowed {
                miss("read", "Ok".into(), format!("Err({e})"));
            }
            return;
        }
    };
    let count = match params::count(&parsed.arch) {
        Ok(c) => c,
        Err(e) => return miss("count", "Ok".into(), format!("Err({e})")),
    };

    let want_total = expected["params_total"].as_u64().unwrap_or(0);
    if count.total != want_total {
        miss(
            "params_total",
            want_total.to_string(),
            count.total.to_string(),
        );
    }

    // Every Breakdown group: the fixture's value, or 0 when the fixture has none.
    let got_groups: BTreeMap<String, u64> = match serde_json::to_value(count.breakdown) {
        Ok(Value::Object(m)) => m
            .into_iter()
            .map(|(k, v)| (k, v.as_u64().unwrap_or(0)))
            .collect(),
        _ => BTreeMap::new(),
    };
    let want_groups = expected["breakdown"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for (key, value) in &want_groups {
        if INFORMATIONAL.contains(&key.as_str()) {
            continue;
        }
        if !got_groups.contains_key(key) {
            miss(
                &format!("breakdown.{key}"),
                value.to_string(),
                "no such group".into(),
            );
        }
    }
    for (key, got) in &got_groups {
        let want = want_groups.get(key).and_then(Value::as_u64).unwrap_or(0);
        if *got != want {
            miss(
                &format!("breakdown.{key}"),
                want.to_string(),
                got.to_string(),
            );
        }
    }

    match expected["active_params"].as_u64() {
        Some(want) if count.active != want => {
            miss("active_params", want.to_string(), count.active.to_string())
        }
        None if count.active != count.total => miss(
            "active_params",
            "= total (dense)".into(),
            count.active.to_string(),
        ),
        _ => {}
    }

    let want_kv = expected["kv_bytes_per_token_fp16"].as_u64().unwrap_or(0);
    let req = KvRequest {
        seq_len: 1,
        batch: 1,
        dtype: KvDtype::Fp16,
        tp: 1,
        block_tokens: None,
    };
    match kv::size(&parsed.arch, &req) {
        Ok(c) if c.bytes_per_token == want_kv => {}
        Ok(c) => miss(
            "kv_bytes_per_token_fp16",
            want_kv.to_string(),
            c.bytes_per_token.to_string(),
        ),
        Err(e) => miss(
            "kv_bytes_per_token_fp16",
            want_kv.to_string(),
            format!("Err({e})"),
        ),
    }

    // Windows: a fixture that records sliding layers must get the same number.
    let local = parsed.arch.attention.window.map_or(0, |w| w.local_layers);
    let sw = &expected["sliding_window"];
    let want_local = match sw["layer_types_counts"]["sliding_attention"].as_u64() {
        Some(n) => Some(n),
        None if sw["sliding_window"].is_u64() && sw.get("use_sliding_window").is_none() => {
            Some(parsed.arch.num_layers) // a Mistral-style window on every layer
        }
        None if sw.is_null()
            || sw["sliding_window"].is_null()
            || sw["use_sliding_window"] == false =>
        {
            Some(0)
        }
        None => None,
    };
    if let Some(want) = want_local {
        if local != want {
            miss("sliding layers", want.to_string(), local.to_string());
        }
    }
}

#[test]
fn every_fixture_counts_exactly() {
    let dir = fixtures_dir();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("config.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(
        names.len() >= 61,
        "expected the 61 reference fixtures, found {}",
        names.len()
    );

    let mut mismatches = Vec::new();
    for name in &names {
        check_model(&dir.join(name), name, &mut mismatches);
    }
    if !mismatches.is_empty() {
        let mut table = format!(
            "{} mismatches:\n{:<30} {:<32} {:>16} {:>16}\n",
            mismatches.len(),
            "model",
            "what",
            "expected",
            "got"
        );
        for m in &mismatches {
            table.push_str(&format!(
                "{:<30} {:<32} {:>16} {:>16}\n",
                m.model, m.what, m.expected, m.got
            ));
        }
        panic!("{table}");
    }
}

#[test]
fn known_unsupported_entries_still_fail() {
    // An entry here must name a fixture the reader still rejects, so the list
    // cannot outlive the gap it documents.
    for (name, reason) in KNOWN_UNSUPPORTED {
        let result = hf::from_config_path(&fixtures_dir().join(name));
        assert!(
            result.is_err(),
            "{name} is read now; drop it from KNOWN_UNSUPPORTED ({reason})"
        );
    }
}
