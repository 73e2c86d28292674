//! The library door the Python package uses: `run_json` is the CLI's JSON, and a
//! failure carries the CLI's rendered message.

use std::path::Path;

use serde_json::Value;
use sizeup::{run_json, run_json_with, InlineConfig};

fn args(line: &[&str]) -> Vec<String> {
    line.iter().map(|s| s.to_string()).collect()
}

fn json(line: &[&str]) -> Value {
    let text = run_json(&args(line)).unwrap_or_else(|f| panic!("{f}"));
    serde_json::from_str(&text).expect("run_json returns JSON")
}

#[test]
fn run_json_is_the_commands_json() {
    let report = json(&["params", "llama-3.1-8b"]);
    // 8,030,261,248 = shared/fixtures/models/llama-3.1-8b/expected.json params_total
    assert_eq!(report["params_total"], 8_030_261_248u64);
    let out = assert_cmd::Command::cargo_bin("sizeup")
        .expect("the binary")
        .args(["params", "llama-3.1-8b", "--format", "json"])
        .output()
        .expect("runs");
    let cli: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report, cli);
}

#[test]
fn a_refused_command_line_is_a_usage_failure_with_clap_s_message() {
    let failure = run_json(&args(&["infer", "llama-3.1-8b", "--tp", "0"])).unwrap_err();
    assert!(failure.usage);
    assert!(
        failure
            .message
            .starts_with("error: invalid value '0' for '--tp"),
        "{}",
        failure.message
    );
    // `--format` is the door's own: a second one is refused, not silently obeyed
    let failure = run_json(&args(&["models", "--format", "table"])).unwrap_err();
    assert!(failure.usage, "{}", failure.message);
}

#[test]
fn a_failed_command_carries_the_rendered_error_and_its_hints() {
    let failure = run_json(&args(&["params", "llama-3.1-8bb"])).unwrap_err();
    assert!(!failure.usage);
    assert!(failure
        .message
        .starts_with("error: unknown model `llama-3.1-8bb`"));
    assert!(failure.hints.iter().any(|h| h.contains("`llama-3.1-8b`")));
    assert!(failure
        .hints
        .iter()
        .all(|h| failure.message.contains(&format!("hint: {h}"))));
}

#[test]
fn an_inline_config_reads_as_its_file_but_for_the_name() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/models/llama-2-7b/config.json");
    let text = std::fs::read_to_string(&path).expect("the shared fixture");
    let inline = InlineConfig {
        name: "my-llama".into(),
        text,
    };
    let from_memory = run_json_with(&args(&["params", "my-llama"]), Some(&inline)).expect("runs");
    let mut from_memory: Value = serde_json::from_str(&from_memory).expect("JSON");
    let mut from_file = json(&["params", &path.display().to_string()]);
    // shared/fixtures/models/llama-2-7b/expected.json: 6_738_415_616
    assert_eq!(from_memory["params_total"], 6_738_415_616u64);
    assert_eq!(from_memory["model"]["name"], "my-llama");
    from_memory["model"]["name"] = Value::Null;
    from_file["model"]["name"] = Value::Null;
    assert_eq!(from_memory, from_file);
    // the loan ends with the call: the name is unknown again
    assert!(run_json(&args(&["params", "my-llama"])).is_err());
}
