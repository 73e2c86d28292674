//! The embedded catalog against the reference fixtures, and its lookups.

mod common;

use std::collections::BTreeSet;

use common::{check_counts, expected, fail_on, fixture_names, fixtures_dir, push};
use sizeup_core::kv::{self, KvRequest};
use sizeup_core::KvDtype;
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
    #[derive(serde::Deserialize)]
    struct Sources {
        model: Vec<Source>,
    }
    #[derive(serde::Deserialize)]
    struct Source {
        name: String,
        config: Option<String>,
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("catalog/sources.toml")).unwrap();
    let sources: Sources = toml::from_str(&text).unwrap();
    let mut mismatches = Vec::new();
    for s in &sources.model {
        let entry = catalog::find(&s.name).unwrap();
        let Some(dir) = &s.config else { continue };
        match hf::from_config_path(&root.join("../..").join(dir)) {
            Ok(parsed) if parsed.arch == entry.arch => {}
            Ok(_) => push(&mut mismatches, &s.name, "arch", "as read now", "differs"),
            Err(e) => push(&mut mismatches, &s.name, "read", "Ok", format!("Err({e})")),
        }
    }
    assert_eq!(sources.model.len(), catalog::all().len());
    fail_on(&mismatches);
}
