//! Every reference fixture, counted exactly.
//!
//! For each folder of `shared/fixtures/models`, `config.json` goes through the
//! Hugging Face reader and `sizeup_core::params::count`; the total, every breakdown
//! group, the active parameters (MoE) and the fp16 KV bytes per token must equal
//! `expected.json` (transformers 5.24.0 on the meta device), and the sliding layers
//! must match those the fixture records. All mismatches are collected into one
//! table before the test fails.

mod common;

use common::{check_counts, expected, fail_on, fixture_names, fixtures_dir, push};
use serde_json::Value;
use sizeup_core::arch::Span;
use sizeup_formats::hf;

/// Fixtures whose `model_type` is knowingly unsupported, with the reason. Empty:
/// every fixture must be read.
const KNOWN_UNSUPPORTED: &[(&str, &str)] = &[];

fn check_model(name: &str, out: &mut Vec<common::Mismatch>) {
    let expected = expected(name);
    let parsed = match hf::from_config_path(&fixtures_dir().join(name)) {
        Ok(p) => p,
        Err(e) => {
            if !KNOWN_UNSUPPORTED.iter().any(|(n, _)| *n == name) {
                push(out, name, "read", "Ok", format!("Err({e})"));
            }
            return;
        }
    };
    check_counts(name, &parsed.arch, &expected, out);

    // Windows: a fixture that records sliding layers must get the same number.
    let local: u64 = parsed
        .arch
        .blocks()
        .filter(|(b, _)| b.attention().is_some_and(|a| a.span != Span::Full))
        .map(|(_, n)| n)
        .sum();
    let sw = &expected["sliding_window"];
    let want_local = match sw["layer_types_counts"]["sliding_attention"].as_u64() {
        Some(n) => Some(n),
        // A Mistral-style window on every layer.
        None if sw["sliding_window"].is_u64() && sw.get("use_sliding_window").is_none() => {
            Some(parsed.arch.num_layers())
        }
        None if sw.is_null()
            || sw["sliding_window"].is_null()
            || sw["use_sliding_window"] == Value::Bool(false) =>
        {
            Some(0)
        }
        None => None,
    };
    if let Some(want) = want_local {
        if local != want {
            push(out, name, "sliding layers", want, local);
        }
    }
}

#[test]
fn every_fixture_counts_exactly() {
    let names = fixture_names();
    assert!(
        names.len() >= 61,
        "expected the 61 reference fixtures, found {}",
        names.len()
    );
    let mut mismatches = Vec::new();
    for name in &names {
        check_model(name, &mut mismatches);
    }
    fail_on(&mismatches);
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
