//! The embedded catalog against the reference fixtures, and its lookups.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::{check_counts, expected, fail_on, fixture_names, fixtures_dir, push, Mismatch};
use serde_json::Value;
use sizeup_core::kv::{self, KvRequest};
use sizeup_core::{params, Architecture, KvDtype};
use sizeup_formats::{catalog, hf, FormatError};

#[test]
fn every_entry_matches_its_fixture_counts_and_reader() {
    let fixtures: BTreeSet<String> = fixture_names().into_iter().collect();
    let mut mismatches = Vec::new();
    for entry in catalog::all() {
        if entry.context != entry.arch.max_context {
            push(
                &mut mismatches,
                &entry.name,
                "context",
                entry.arch.max_context,
                entry.context,
            );
        }
        if !fixtures.contains(&entry.name) {
            continue; // hand-made entries (the lesson's) are checked below
        }
        check_counts(
            &entry.name,
            &entry.arch,
            &expected(&entry.name),
            &mut mismatches,
        );
        // The catalog says what the reader says: no hand edit drifts from the config.
        match hf::from_config_path(&fixtures_dir().join(&entry.name)) {
            Ok(parsed) if parsed.arch == entry.arch => {}
            Ok(_) => push(
                &mut mismatches,
                &entry.name,
                "arch",
                "as read from config.json",
                "differs",
            ),
            Err(e) => push(
                &mut mismatches,
                &entry.name,
                "read",
                "Ok",
                format!("Err({e})"),
            ),
        }
    }
    fail_on(&mismatches);
}

#[test]
fn every_fixture_and_the_lesson_are_in_the_catalog() {
    let names: BTreeSet<&str> = catalog::all().iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names.len(), catalog::all().len(), "duplicate names");
    for name in fixture_names() {
        assert!(
            names.contains(name.as_str()),
            "{name} missing from catalog/models.toml"
        );
    }
    assert!(names.contains("lesson-small") && names.contains("lesson-large"));
}

#[test]
fn lesson_entries_cache_what_the_lesson_says() {
    // The lesson's KV formula L·B·s·k·d·2·bytes: small 24·1·4096·16·128·2·2 = 768 MiB,
    // large 48·1·8192·8·128·2·2 = 1.5 GiB (crates/sizeup-core/src/rough.rs, RoughConfig::lesson).
    for (name, seq_len, bytes) in [
        ("lesson-small", 4096, 805_306_368),
        ("lesson-large", 8192, 1_610_612_736),
    ] {
        let entry = catalog::find(name).unwrap();
        let req = KvRequest {
            seq_len,
            batch: 1,
            dtype: KvDtype::Fp16,
            tp: 1,
            block_tokens: None,
        };
        assert_eq!(
            kv::size(&entry.arch, &req).unwrap().bytes_total,
            bytes,
            "{name}"
        );
        assert!(entry.notes.as_deref().unwrap_or("").contains("GPT-style"));
    }
}

#[test]
fn find_is_loose_about_case_and_separators() {
    for query in [
        "llama-3.1-8b",
        "LLAMA_3_1_8B",
        "Llama-3.1-8B",
        " llama.3.1.8b ",
        "meta-llama/Meta-Llama-3.1-8B",
        "Meta-Llama-3.1-8B",
    ] {
        assert_eq!(
            catalog::find(query).unwrap().name,
            "llama-3.1-8b",
            "{query}"
        );
    }
    // The part of the Hugging Face id after the slash matches too.
    assert_eq!(
        catalog::find("Mixtral-8x7B-v0.1").unwrap().name,
        "mixtral-8x7b-v0.1"
    );
}

#[test]
fn unknown_names_come_with_nearest_suggestions() {
    match catalog::find("llama-3.1-8") {
        Err(FormatError::UnknownModel { name, suggestions }) => {
            assert_eq!(name, "llama-3.1-8");
            assert_eq!(
                suggestions.first().map(String::as_str),
                Some("llama-3.1-8b")
            );
            assert!(suggestions.len() <= 3);
        }
        other => panic!("{other:?}"),
    }
    match catalog::find("zzzzzzzzzzzzzzzzzzzzzzzz") {
        Err(FormatError::UnknownModel { suggestions, .. }) => assert!(suggestions.is_empty()),
        other => panic!("{other:?}"),
    }
}

/// Every entry written from a config folder (`catalog/sources.toml`) equals what the
/// reader makes of that config today, so no entry drifts from its reader.
#[test]
fn every_entry_equals_its_source_read_now() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sources = sources();
    let mut mismatches = Vec::new();
    for (name, config) in &sources {
        let entry = catalog::find(name).unwrap();
        let Some(dir) = config else { continue };
        match hf::from_config_path(&root.join("../..").join(dir)) {
            Ok(parsed) if parsed.arch == entry.arch => {}
            Ok(_) => push(&mut mismatches, name, "arch", "as read now", "differs"),
            Err(e) => push(&mut mismatches, name, "read", "Ok", format!("Err({e})")),
        }
    }
    assert_eq!(sources.len(), catalog::all().len());
    fail_on(&mismatches);
}

/// The catalog's sources: name and config folder (none for hand-made entries).
fn sources() -> Vec<(String, Option<String>)> {
    #[derive(serde::Deserialize)]
    struct Sources {
        model: Vec<Source>,
    }
    #[derive(serde::Deserialize)]
    struct Source {
        name: String,
        config: Option<String>,
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("catalog/sources.toml")).unwrap();
    let sources: Sources = toml::from_str(&text).unwrap();
    sources
        .model
        .into_iter()
        .map(|s| (s.name, s.config))
        .collect()
}

/// Model types whose parameter names escape the reference's name rules, with the
/// groups `make_expected.py` therefore counts in `other` (the same list as
/// `tests/fixtures_2026.rs`: Mamba and Nemotron-H embeddings `backbone.embeddings`,
/// Nemotron-H `mixer.*` layers, Granite 4.0-H `shared_mlp.*`).
const NAMED_AS_OTHER: &[(&str, &[&str])] = &[
    ("granitemoehybrid", &["mlp", "moe_shared_experts"]),
    ("mamba", &["embedding"]),
    ("mamba2", &["embedding"]),
    ("nemotron_h", &["embedding", "attention", "mlp"]),
];

/// `arch` against the reference record beside its config: `params_total`, each
/// breakdown group the record gives (the reference's `other` is our
/// `recurrent + other`), `active_params`, `params_text_only` and, where every layer
/// caches the same kind of keys and values, the fp16 KV bytes per token; each where the
/// record has it. Where transformers built the language model alone
/// (`model_class` `…ForCausalLM`) although the config carries towers, the text count
/// is compared.
fn check_reference(name: &str, arch: &Architecture, expected: &Value, out: &mut Vec<Mismatch>) {
    let c = match params::count(arch) {
        Ok(c) => c,
        Err(e) => return push(out, name, "count", "Ok", format!("Err({e})")),
    };
    let text_only = expected["model_class"]
        .as_str()
        .is_some_and(|m| m.ends_with("ForCausalLM"))
        && c.breakdown.vision_and_projector > 0;
    let towers = if text_only {
        c.breakdown.vision_and_projector
    } else {
        0
    };
    let (total, active) = (c.total - towers, c.active - towers);
    let u64_of = |key: &str| expected[key].as_u64();
    if let Some(want) = u64_of("params_total") {
        if total != want {
            push(out, name, "params_total", want, total);
        }
    } else {
        push(out, name, "params_total", "in expected.json", "absent");
    }
    if let Some(want) = u64_of("params_text_only") {
        if c.text != want {
            push(out, name, "params_text_only", want, c.text);
        }
    }
    if let Some(want) = u64_of("active_params") {
        if active != want {
            push(out, name, "active_params", want, active);
        }
    }
    if let Some(groups) = expected["breakdown"].as_object().filter(|g| !g.is_empty()) {
        let b = c.breakdown;
        let mut ours: BTreeMap<&str, u64> = [
            ("embedding", b.embedding),
            ("position_embedding", b.position_embedding),
            ("attention", b.attention),
            ("mlp", b.mlp),
            ("moe_routed_experts", b.moe_routed_experts),
            ("moe_shared_experts", b.moe_shared_experts),
            ("moe_router", b.moe_router),
            ("norm", b.norm),
            ("lm_head", b.lm_head),
            ("vision_and_projector", b.vision_and_projector - towers),
            ("other", b.recurrent + b.other),
        ]
        .into_iter()
        .collect();
        if let Some((_, folded)) = NAMED_AS_OTHER.iter().find(|(t, _)| *t == arch.model_type) {
            for g in folded.iter() {
                let n = ours.insert(g, 0).unwrap_or(0);
                *ours.entry("other").or_insert(0) += n;
            }
        }
        for (key, got) in &ours {
            let want = groups.get(*key).and_then(Value::as_u64).unwrap_or(0);
            if *got != want {
                push(out, name, &format!("breakdown.{key}"), want, got);
            }
        }
    }
    // The reference's KV figure is the uniform `L·2·k·d` (MLA: `L·(r_kv + d_r)`); it
    // does not describe stacks whose cache carries more than that (recurrent state,
    // compressed windows, cross-attention over an image, indexer keys), which
    // `kv::assumptions` names.
    let uniform = kv::assumptions(arch).is_empty();
    if let Some(want) = u64_of("kv_bytes_per_token_fp16").filter(|_| uniform) {
        let req = KvRequest {
            seq_len: 1,
            batch: 1,
            dtype: KvDtype::Fp16,
            tp: 1,
            block_tokens: None,
        };
        match kv::size(arch, &req) {
            Ok(k) if k.bytes_per_token == want => {}
            Ok(k) => push(
                out,
                name,
                "kv_bytes_per_token_fp16",
                want,
                k.bytes_per_token,
            ),
            Err(e) => push(
                out,
                name,
                "kv_bytes_per_token_fp16",
                want,
                format!("Err({e})"),
            ),
        }
    }
}

/// Every entry read from a config folder outside `shared/fixtures/models` (those are
/// checked by [`every_entry_matches_its_fixture_counts_and_reader`]) equals the
/// reference counts in the `expected.json` beside its `config.json`.
#[test]
fn every_config_entry_matches_the_reference_beside_its_config() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let fixtures: BTreeSet<String> = fixture_names().into_iter().collect();
    let mut mismatches = Vec::new();
    let mut checked = 0;
    for (name, config) in sources() {
        let Some(dir) = config else { continue };
        if fixtures.contains(&name) && dir.ends_with(&format!("fixtures/models/{name}")) {
            continue;
        }
        let path = root.join(&dir).join("expected.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{name}: {}: {e}", path.display()));
        let expected: Value = serde_json::from_str(&text).unwrap();
        let Some(entry) = catalog::all().iter().find(|e| e.name == name) else {
            push(&mut mismatches, &name, "entry", "in models.toml", "absent");
            continue;
        };
        check_reference(&name, &entry.arch, &expected, &mut mismatches);
        checked += 1;
    }
    assert!(checked > 0);
    fail_on(&mismatches);
}
