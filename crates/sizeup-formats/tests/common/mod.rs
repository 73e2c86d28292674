//! Shared by the integration tests: where the fixtures are and how a count is
//! compared with `expected.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sizeup_core::kv::{self, KvRequest};
use sizeup_core::{params, Architecture, KvDtype};

/// Breakdown keys of `expected.json` that are information, not a parameter group.
const INFORMATIONAL: &[&str] = &["lm_head_tied_to_embedding"];

/// `shared/fixtures/models`, beside the repository.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/models")
}

/// The fixture folders that hold a `config.json`, sorted.
pub fn fixture_names() -> Vec<String> {
    let dir = fixtures_dir();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("config.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A fixture's `expected.json`.
pub fn expected(name: &str) -> Value {
    let path = fixtures_dir().join(name).join("expected.json");
    read_json(&path)
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One difference from the reference.
pub struct Mismatch {
    pub model: String,
    pub what: String,
    pub expected: String,
    pub got: String,
}

/// Record a difference.
pub fn push(
    out: &mut Vec<Mismatch>,
    model: &str,
    what: &str,
    expected: impl ToString,
    got: impl ToString,
) {
    out.push(Mismatch {
        model: model.to_string(),
        what: what.to_string(),
        expected: expected.to_string(),
        got: got.to_string(),
    });
}

/// Compare `arch`'s total, every breakdown group (0 where the fixture has none),
/// active parameters and fp16 KV bytes per token with `expected`.
pub fn check_counts(model: &str, arch: &Architecture, expected: &Value, out: &mut Vec<Mismatch>) {
    let count = match params::count(arch) {
        Ok(c) => c,
        Err(e) => return push(out, model, "count", "Ok", format!("Err({e})")),
    };
    let want_total = expected["params_total"].as_u64().unwrap_or(0);
    if count.total != want_total {
        push(out, model, "params_total", want_total, count.total);
    }

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
        if !INFORMATIONAL.contains(&key.as_str()) && !got_groups.contains_key(key) {
            push(
                out,
                model,
                &format!("breakdown.{key}"),
                value,
                "no such group",
            );
        }
    }
    for (key, got) in &got_groups {
        let want = want_groups.get(key).and_then(Value::as_u64).unwrap_or(0);
        if *got != want {
            push(out, model, &format!("breakdown.{key}"), want, got);
        }
    }

    match expected["active_params"].as_u64() {
        Some(want) if count.active != want => push(out, model, "active_params", want, count.active),
        None if count.active != count.total => {
            push(out, model, "active_params", "= total (dense)", count.active)
        }
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
    match kv::size(arch, &req) {
        Ok(c) if c.bytes_per_token == want_kv => {}
        Ok(c) => push(
            out,
            model,
            "kv_bytes_per_token_fp16",
            want_kv,
            c.bytes_per_token,
        ),
        Err(e) => push(
            out,
            model,
            "kv_bytes_per_token_fp16",
            want_kv,
            format!("Err({e})"),
        ),
    }
}

/// Fail with one table of every mismatch, if any.
pub fn fail_on(mismatches: &[Mismatch]) {
    if mismatches.is_empty() {
        return;
    }
    let mut table = format!(
        "{} mismatches:\n{:<30} {:<32} {:>16} {:>16}\n",
        mismatches.len(),
        "model",
        "what",
        "expected",
        "got"
    );
    for m in mismatches {
        table.push_str(&format!(
            "{:<30} {:<32} {:>16} {:>16}\n",
            m.model, m.what, m.expected, m.got
        ));
    }
    panic!("{table}");
}
