//! The architectures of late 2026, counted exactly.
//!
//! Walks `shared/fixtures/models-2026` and this crate's own `tests/fixtures-2026`
//! (real configs whose reference counts were made with the same transformers script).
//! Every folder must be read and match `params_total`, each breakdown group the record
//! gives, and the active parameters; a model_type not read yet must be listed in
//! [`NOT_YET`] with the reason, and stays there only while the reader refuses it.
//! The reference's `other` group (parameters its name rules do not place: recurrent
//! mixers, per-layer scalars) is our `recurrent + other`. Where `AutoModelForCausalLM`
//! built the language model alone (`model_class` `…ForCausalLM`) although the config
//! carries towers, the text count (`ParamCount::text`) is compared.

#[allow(dead_code)]
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{fail_on, push, Mismatch};
use serde_json::Value;
use sizeup_core::params;
use sizeup_formats::hf;

/// Fixtures whose model_type has no reader yet, with the reason.
const NOT_YET: &[(&str, &str)] = &[(
    "nemotron-3-super-120b-a12b-fp8",
    "nemotron_h: latent MoE projections (moe_latent_size) not modelled",
)];

/// Model types whose parameter names escape the reference's name rules, with the
/// groups the reference therefore counts in `other`: the Mamba families and Nemotron-H
/// name their embedding `backbone.embeddings`/`model.embeddings`, Nemotron-H its
/// attention and MLP layers `mixer.*` (`model.layers.N.mixer.q_proj`), Granite 4.0-H
/// its shared MLP `shared_mlp.*`, none of which `make_expected.py`'s patterns place.
/// Totals and active counts are compared as they are; only these groups are folded
/// into `other` for the comparison.
const NAMED_AS_OTHER: &[(&str, &[&str])] = &[
    ("granitemoehybrid", &["mlp", "moe_shared_experts"]),
    ("mamba", &["embedding"]),
    ("mamba2", &["embedding"]),
    ("nemotron_h", &["embedding", "attention", "mlp"]),
];

/// The folders of both fixture sets.
fn folders() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in [
        root.join("../../../shared/fixtures/models-2026"),
        root.join("tests/fixtures-2026"),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            panic!("missing fixture folder {}", dir.display());
        };
        for e in entries.flatten() {
            if e.path().join("expected.json").is_file() {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

fn check(dir: &Path, out: &mut Vec<Mismatch>) {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("?");
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let not_yet = NOT_YET.iter().any(|(n, _)| *n == name);
    let parsed = match hf::from_config_path(dir) {
        Ok(p) => p,
        Err(e) => {
            if !not_yet {
                push(out, name, "read", "Ok", format!("Err({e})"));
            }
            return;
        }
    };
    if not_yet {
        push(
            out,
            name,
            "NOT_YET",
            "refused",
            "read now: drop it from NOT_YET",
        );
    }
    let c = match params::count(&parsed.arch) {
        Ok(c) => c,
        Err(e) => return push(out, name, "count", "Ok", format!("Err({e})")),
    };
    // AutoModelForCausalLM built the language model alone (Llama 3.2 Vision's
    // MllamaForCausalLM) while the config carries towers: compare the text count
    let text_only = expected["model_class"]
        .as_str()
        .is_some_and(|m| m.ends_with("ForCausalLM"))
        && c.breakdown.vision_and_projector > 0;
    let (total, active) = if text_only {
        let towers = c.breakdown.vision_and_projector;
        (c.text, c.active - towers)
    } else {
        (c.total, c.active)
    };
    if let Some(want) = expected["params_total"].as_u64() {
        if total != want {
            push(out, name, "params_total", want, total);
        }
    }
    let mut b = c.breakdown;
    if text_only {
        b.vision_and_projector = 0;
    }
    let ours: BTreeMap<&str, u64> = [
        ("embedding", b.embedding),
        ("position_embedding", b.position_embedding),
        ("attention", b.attention),
        ("mlp", b.mlp),
        ("moe_routed_experts", b.moe_routed_experts),
        ("moe_shared_experts", b.moe_shared_experts),
        ("moe_router", b.moe_router),
        ("norm", b.norm),
        ("lm_head", b.lm_head),
        ("vision_and_projector", b.vision_and_projector),
        ("other", b.recurrent + b.other),
    ]
    .into_iter()
    .collect();
    let mut ours = ours;
    if let Some((_, groups)) = NAMED_AS_OTHER
        .iter()
        .find(|(t, _)| *t == parsed.arch.model_type)
    {
        for g in groups.iter() {
            let n = ours.insert(g, 0).unwrap_or(0);
            *ours.entry("other").or_insert(0) += n;
        }
    }
    if let Some(groups) = expected["breakdown"].as_object().filter(|g| !g.is_empty()) {
        for (key, got) in &ours {
            let want = groups.get(*key).and_then(Value::as_u64).unwrap_or(0);
            if *got != want {
                push(out, name, &format!("breakdown.{key}"), want, got);
            }
        }
    }
    if let Some(want) = expected["active_params"].as_u64() {
        if active != want {
            push(out, name, "active_params", want, active);
        }
    }
}

#[test]
fn every_2026_fixture_counts_exactly_or_is_listed_as_not_yet() {
    let dirs = folders();
    assert!(dirs.len() >= 30, "found {} fixtures", dirs.len());
    let mut mismatches = Vec::new();
    for dir in &dirs {
        check(dir, &mut mismatches);
    }
    fail_on(&mismatches);
}
