//! Hub-style names against the catalog: exact `hf_id` first, then an alias with
//! the organization, a `Meta-` prefix and tuning or format suffixes set aside;
//! never a fuzzy guess.

use sizeup_formats::catalog::{self, find_alias, find_hf_id, hf_ids};

#[test]
fn bracketed_ids_stand_for_both_repositories() {
    let entry = catalog::find("llama-3.2-1b").unwrap();
    assert_eq!(entry.hf_id, "meta-llama/Llama-3.2-1B(-Instruct)");
    assert_eq!(
        hf_ids(entry),
        vec![
            "meta-llama/Llama-3.2-1B".to_string(),
            "meta-llama/Llama-3.2-1B-Instruct".to_string()
        ]
    );
    assert_eq!(
        find_hf_id("META-LLAMA/llama-3.2-1b-instruct").map(|e| e.name.as_str()),
        Some("llama-3.2-1b")
    );
    assert_eq!(
        catalog::find("Llama-3.2-1B-Instruct").unwrap().name,
        "llama-3.2-1b"
    );
}

#[test]
fn exact_ids_ignore_case_only() {
    let hit = |id| find_hf_id(id).map(|e| e.name.as_str());
    assert_eq!(hit("meta-llama/Meta-Llama-3.1-8B"), Some("llama-3.1-8b"));
    assert_eq!(hit("meta-llama/meta-llama-3.1-8b"), Some("llama-3.1-8b"));
    // renamed on the Hub, and tuned: not exact
    assert_eq!(hit("meta-llama/Llama-3.1-8B"), None);
    assert_eq!(hit("meta-llama/Meta-Llama-3.1-8B-Instruct"), None);
    assert_eq!(hit("Meta-Llama-3.1-8B"), None);
}

#[test]
fn aliases_set_aside_organization_prefix_and_suffixes() {
    for (name, entry, tuned) in [
        ("meta-llama/Llama-3.1-8B-Instruct", "llama-3.1-8b", true),
        ("Meta-Llama-3.1-8B-Instruct", "llama-3.1-8b", true),
        ("meta-llama/Llama-3.1-8B", "llama-3.1-8b", false),
        ("meta-llama/Llama-2-7b-chat-hf", "llama-2-7b", true),
        ("google/gemma-2-9b", "gemma-2-9b-it", true),
        ("Qwen/Qwen2.5-7B", "qwen2.5-7b-instruct", true),
        (
            "deepseek-ai/deepseek-llm-67b-chat",
            "deepseek-llm-67b-base",
            true,
        ),
        ("someone/Qwen3-8B-Base", "qwen3-8b", true),
    ] {
        let alias = find_alias(name).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(
            (alias.entry.name.as_str(), alias.tuned),
            (entry, tuned),
            "{name}"
        );
    }
}

#[test]
fn aliases_never_guess() {
    for name in [
        "llama-3.1-8",
        "meta-llama/Llama-3.1-8B-Instruct-v2",
        "meta-llama/Llama-3.1-9B-Instruct",
        "Instruct",
        "org/-it",
        "",
    ] {
        assert_eq!(
            find_alias(name).map(|a| a.entry.name.as_str()),
            None,
            "{name}"
        );
    }
}

/// Every entry is its own alias: no two entries reduce to the same name, so
/// the ambiguity rule never hides one of them.
#[test]
fn every_entry_reduces_to_itself() {
    for entry in catalog::all() {
        let alias = find_alias(&entry.name);
        assert_eq!(
            alias.map(|a| a.entry.name.as_str()),
            Some(entry.name.as_str()),
            "{}",
            entry.name
        );
        for id in hf_ids(entry) {
            assert_eq!(
                find_alias(&id).map(|a| a.entry.name.as_str()),
                Some(entry.name.as_str()),
                "{id}"
            );
        }
    }
}
