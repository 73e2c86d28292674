//! What every end-to-end suite needs: the binary, its JSON, and `shared/`.
//!
//! Each test binary uses part of this module.
#![allow(dead_code)]

use assert_cmd::Command;

/// The `sizeup` binary built for the tests.
pub fn sizeup() -> Command {
    Command::cargo_bin("sizeup").expect("the sizeup binary is built for tests")
}

/// Run sizeup, require success, and parse its stdout as JSON.
pub fn json(args: &[&str]) -> serde_json::Value {
    let out = sizeup().args(args).output().expect("sizeup runs");
    assert!(
        out.status.success(),
        "sizeup {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("sizeup prints JSON")
}

/// A path under `shared/`, which sits beside the repository (CI clones it so).
pub fn shared(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(rel)
}

/// The text content of every `<text>` element of an SVG.
pub fn svg_texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|chunk| {
            let body = chunk.split_once('>')?.1;
            Some(body.split_once("</text>")?.0.trim().to_string())
        })
        .collect()
}
