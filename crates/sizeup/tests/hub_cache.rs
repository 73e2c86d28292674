//! The binary with a Hugging Face cache it did not write: a temporary `HF_HOME`
//! and an environment cleared of everything else, so no real cache, token or
//! network is ever used.
#![cfg(feature = "hub")]

mod common;

use std::path::{Path, PathBuf};

use common::{shared, sizeup};

const COMMIT: &str = "0e9e39f249a16976918f6564b8830bc894c89659";

/// `HF_HOME` holding `meta-llama/Llama-3.1-8B-Instruct` at `main` = [`COMMIT`],
/// laid out as huggingface_hub writes it; returns the snapshot folder.
fn cached_llama(home: &Path) -> PathBuf {
    let repo = home.join("hub/models--meta-llama--Llama-3.1-8B-Instruct");
    let snapshot = repo.join("snapshots").join(COMMIT);
    std::fs::create_dir_all(&snapshot).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), COMMIT).unwrap();
    std::fs::copy(
        shared("fixtures/models/llama-3.1-8b/config.json"),
        snapshot.join("config.json"),
    )
    .unwrap();
    snapshot
}

fn offline(home: &Path) -> assert_cmd::Command {
    let mut cmd = sizeup();
    cmd.env_clear()
        .env("HOME", home)
        .env("HF_HOME", home)
        .env("XDG_CACHE_HOME", home.join("xdg"))
        .env("HF_HUB_OFFLINE", "1")
        // were the network used, this would fail at once
        .env("HF_ENDPOINT", "http://127.0.0.1:1");
    cmd
}

#[test]
fn card_reads_the_cached_copy_and_says_which() {
    let home = tempfile::tempdir().unwrap();
    let snapshot = cached_llama(home.path());
    let out = offline(home.path())
        .args(["card", "meta-llama/Llama-3.1-8B-Instruct"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("Evidence card: meta-llama/Llama-3.1-8B-Instruct (llama, 32 layers"));
    // 8,030,261,248 = shared/fixtures/models/llama-3.1-8b/expected.json params_total
    assert!(stdout.contains("8,030,261,248"), "{stdout}");
    let line = format!(
        "  read from = {} (Hugging Face cache, refs/main → commit {COMMIT}; no network)",
        snapshot.display()
    );
    assert!(stdout.contains(&line), "{stdout}");
}

#[test]
fn params_json_names_the_cache_as_the_source() {
    let home = tempfile::tempdir().unwrap();
    cached_llama(home.path());
    let out = offline(home.path())
        .args([
            "params",
            "hf:meta-llama/Llama-3.1-8B-Instruct",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["model"]["source"], "hf-cache");
    assert_eq!(json["params_total"], 8_030_261_248u64);
    assert_eq!(json["assumptions"][0]["name"], "read from");
}

#[test]
fn hub_style_names_fall_back_to_the_catalog_offline() {
    let home = tempfile::tempdir().unwrap();
    for spec in [
        "meta-llama/Llama-3.1-8B-Instruct",
        "Meta-Llama-3.1-8B-Instruct",
        "hf:meta-llama/Llama-3.1-8B-Instruct",
    ] {
        let out = offline(home.path())
            .args(["params", spec])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{spec}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("read as = catalog entry llama-3.1-8b (same architecture as its hf_id meta-llama/Meta-Llama-3.1-8B; instruction tuning does not change shapes"),
            "{spec}: {stdout}"
        );
    }
}

#[test]
fn offline_without_the_model_exits_2_naming_hf_hub_offline() {
    let home = tempfile::tempdir().unwrap();
    let out = offline(home.path())
        .args(["params", "hf:org/absent"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: `org/absent` at `main` is not in the Hugging Face cache"),
        "{stderr}"
    );
    assert!(stderr.contains("HF_HUB_OFFLINE is set"), "{stderr}");
}

#[test]
fn inspect_takes_a_bare_repo_id_from_the_cache() {
    let home = tempfile::tempdir().unwrap();
    let snapshot = cached_llama(home.path());
    // one 2×2 bf16 tensor: an 8-byte header length, the JSON header, 8 bytes of data
    let header = br#"{"model.norm.weight":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,8]}}"#;
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(header);
    file.extend_from_slice(&[0; 8]);
    std::fs::write(snapshot.join("model.safetensors"), file).unwrap();
    let out = offline(home.path())
        .args([
            "inspect",
            "meta-llama/Llama-3.1-8B-Instruct",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["table"]["params"], 4);
}
