//! `sizeup params` and `sizeup inspect` on synthetic checkpoints the test writes:
//! a sharded safetensors Llama-2-7B (sparse files: headers only) and a GGUF file.

// The writers live with the readers' tests; this suite reuses them.
#[path = "../../sizeup-formats/tests/support/mod.rs"]
mod support;

use predicates::prelude::*;
use support::{GgufWriter, Lm, Ty};

mod common;
use common::{json, sizeup};

/// A Llama-2-7B checkpoint folder: its real config.json and two sparse BF16 shards.
fn llama_2_7b_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let config = support::shared_dir().join("fixtures/models/llama-2-7b/config.json");
    std::fs::copy(config, dir.path().join("config.json")).unwrap();
    support::write_llama_2_7b_sharded(dir.path());
    dir
}

#[test]
fn params_on_a_sharded_checkpoint_compares_config_and_files() {
    let dir = llama_2_7b_folder();
    let v = json(&["params", dir.path().to_str().unwrap(), "--format", "json"]);
    // shared/fixtures/models/llama-2-7b/expected.json: 6_738_415_616
    assert_eq!(v["params_total"], 6_738_415_616u64);
    assert_eq!(v["checkpoint"]["table"]["params"], 6_738_415_616u64);
    assert_eq!(v["checkpoint"]["table"]["bytes"], 2 * 6_738_415_616u64);
    assert_eq!(v["checkpoint"]["comparison"]["extra_in_file"], 0);
    sizeup()
        .args(["params", dir.path().to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "the files hold exactly the parameters the config describes",
        ));
}

#[test]
fn inspect_groups_a_sharded_checkpoint_by_role() {
    let dir = llama_2_7b_folder();
    let v = json(&["inspect", dir.path().to_str().unwrap(), "--format", "json"]);
    let roles = &v["table"]["by_role"];
    // 32·4·4096² attention, 32·3·4096·11008 MLP (llama-2-7b)
    assert_eq!(roles["attention"]["params"], 2_147_483_648u64);
    assert_eq!(roles["mlp"]["params"], 4_328_521_728u64);
    assert_eq!(roles["attention"]["tensors"], 128);
    assert_eq!(v["table"]["tensors"].as_array().unwrap().len(), 291);
}

/// llama-2-7b's shape in llama.cpp naming.
fn llama_2_7b_lm() -> Lm {
    Lm {
        layers: 32,
        hidden: 4096,
        heads: 32,
        kv_heads: 32,
        head_dim: 128,
        vocab: 32000,
        ffn: 11008,
        norms_per_layer: 2,
        ..Lm::default()
    }
}

/// A llama-2-7b GGUF with Q4_K matrices and F32 norms, written to `path` (sparse: headers only).
fn write_llama_2_7b_gguf(path: &std::path::Path) {
    let mut g = GgufWriter::default();
    llama_2_7b_lm().gguf_keys(&mut g, "llama", 4096);
    llama_2_7b_lm().gguf_tensors(&mut g, Ty::Q4_K);
    g.write(path);
}

#[test]
fn params_and_inspect_on_a_gguf_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("llama-2-7b.Q4_K.gguf");
    write_llama_2_7b_gguf(&path);
    let p = path.to_str().unwrap();

    let v = json(&["params", p, "--format", "json"]);
    assert_eq!(v["params_total"], 6_738_415_616u64);
    assert_eq!(v["model"]["source"], "gguf");
    let i = json(&["inspect", p, "--format", "json"]);
    // Q4_K: 144 bytes per 256 values; F32 norms: (2·32 + 1)·4096·4 bytes
    let q4k = 6_738_415_616u64 - 266_240;
    assert_eq!(i["table"]["bytes"], q4k / 256 * 144 + 266_240 * 4);
    let kv = json(&["kv", p, "--seq-len", "4096", "--format", "json"]);
    assert_eq!(kv["bytes_per_token"], 524_288u64); // 32·2·32·128·2
}

#[test]
fn a_truncated_gguf_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.gguf");
    std::fs::write(&path, b"GGUF\x03\x00\x00\x00\xff\xff").unwrap();
    sizeup()
        .args(["inspect", path.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("broken.gguf"))
        .stderr(predicate::str::contains("panicked").not());
}

/// Writes the synthetic checkpoints these tests use into `$SIZEUP_DEMO_DIR`, to try
/// the commands by hand: `SIZEUP_DEMO_DIR=/tmp/demo cargo test -p sizeup --test
/// checkpoints -- --ignored`, then `sizeup inspect /tmp/demo/llama-2-7b-sharded`.
#[test]
#[ignore = "writes files for people to look at; run on demand"]
fn write_demo_checkpoints() {
    let Some(dir) = std::env::var_os("SIZEUP_DEMO_DIR") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let sharded = dir.join("llama-2-7b-sharded");
    std::fs::create_dir_all(&sharded).unwrap();
    let config = support::shared_dir().join("fixtures/models/llama-2-7b/config.json");
    std::fs::copy(config, sharded.join("config.json")).unwrap();
    support::write_llama_2_7b_sharded(&sharded);
    write_llama_2_7b_gguf(&dir.join("llama-2-7b.Q4_K.gguf"));
}

#[test]
fn a_gguf_claiming_a_million_layers_is_refused_at_the_door() {
    // the metadata says 1,000,000 blocks; the file holds 2: estimates would walk every layer
    let mut claimed = llama_2_7b_lm();
    claimed.layers = 1_000_000;
    let mut real = llama_2_7b_lm();
    real.layers = 2;
    let mut g = GgufWriter::default();
    claimed.gguf_keys(&mut g, "llama", 4096);
    real.gguf_tensors(&mut g, Ty::Q4_K);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("liar.gguf");
    g.write(&path);
    sizeup()
        .args(["params", path.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`num_hidden_layers` = 1000000"));
}
