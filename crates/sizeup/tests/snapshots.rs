//! Snapshots of whole outputs: exit code, stdout and stderr in one record per
//! command × format (as uv's `uv_snapshot!`), so any change in what a person
//! sees shows up in review. Update with `INSTA_UPDATE=always cargo test`.

use assert_cmd::Command;

/// Run sizeup and render exit code, stdout and stderr as one text.
fn record(args: &[&str]) -> String {
    let out = Command::cargo_bin("sizeup")
        .expect("the sizeup binary is built for tests")
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("sizeup runs");
    format!(
        "exit: {}\n----- stdout -----\n{}----- stderr -----\n{}",
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

macro_rules! snapshot {
    ($name:ident, $($arg:expr),+) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(stringify!($name), record(&[$($arg),+]));
        }
    };
}

snapshot!(help, "--help");
snapshot!(rough_table, "rough");
snapshot!(rough_csv, "rough", "--format", "csv");
snapshot!(params_table, "params", "llama-3.1-8b");
snapshot!(params_json, "params", "llama-3.1-8b", "--format", "json");
snapshot!(params_csv, "params", "mixtral-8x7b-v0.1", "--format", "csv");
snapshot!(
    params_markdown,
    "params",
    "deepseek-v3",
    "--format",
    "markdown"
);
snapshot!(
    kv_table,
    "kv",
    "gemma-2-9b-it",
    "--seq-len",
    "8k",
    "--batch",
    "4",
    "--kv-dtype",
    "fp8",
    "--tp",
    "2"
);
snapshot!(
    kv_csv,
    "kv",
    "deepseek-v3",
    "--seq-len",
    "32k",
    "--format",
    "csv"
);
snapshot!(models_csv, "models", "--format", "csv");
snapshot!(error_unknown_model, "params", "llama-3.1-9b");
snapshot!(
    error_bad_kv_dtype,
    "kv",
    "llama-3.1-8b",
    "--kv-dtype",
    "fp4"
);
