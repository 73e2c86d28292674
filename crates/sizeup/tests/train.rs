//! End-to-end tests of `sizeup train`: the JSON contract, the table and exit codes.

use predicates::prelude::*;
use serde_json::Value;

mod common;
use common::sizeup;

/// `sizeup train ARGS --format json`, required to succeed, parsed.
fn json(args: &[&str]) -> serde_json::Value {
    common::json(&[&["train"], args, &["--format", "json"]].concat())
}

#[test]
fn issue_5_llama_8b_lora_on_one_4090_fits() {
    let v = json(&[
        "llama-3.1-8b",
        "--gpu",
        "RTX-4090",
        "--method",
        "lora",
        "--lora-rank",
        "8",
        "--lora-targets",
        "q,v",
        "--recompute",
        "full",
        "--seq-len",
        "2048",
    ]);
    let e = &v["estimate"];
    assert_eq!(e["fits"], true);
    // 32 layers · 8 · ((4096 + 4096) + (4096 + 1024)) (shared/fixtures/models/llama-3.1-8b)
    assert_eq!(e["params_trainable"], 3_407_872);
    assert_eq!(e["method"]["method"], "lora");
    assert!(e["largest_micro_batch"].as_u64().unwrap() >= 1);
    assert!(e["time"]["tokens_per_second"].as_f64().unwrap() > 0.0);
}

#[test]
fn issue_5_llama_70b_full_fine_tune_on_8_h100_with_fsdp_does_not_fit() {
    // AdamW keeps 16 bytes per parameter: 70.6B · 16 / 8 GPUs = 141 GB each
    let v = json(&[
        "llama-3.1-70b",
        "--gpus",
        "8",
        "--fsdp",
        "--recompute",
        "full",
    ]);
    let e = &v["estimate"];
    assert_eq!(e["fits"], false);
    assert_eq!(e["layout"]["zero"], "zero3");
    assert_eq!(e["largest_micro_batch"], Value::Null);
}

#[test]
fn issue_5_llama_405b_on_16384_h100_with_metas_layout() {
    // Llama Team 2024 Table 4: TP 8, PP 16, CP 1, 16M-token batches of 8192
    let v = json(&[
        "llama-3.1-405b",
        "--gpus",
        "16384",
        "--tp",
        "8",
        "--pp",
        "16",
        "--vpp",
        "2",
        "--sequence-parallel",
        "--zero",
        "2",
        "--seq-len",
        "8192",
        "--global-batch",
        "2048",
        "--recompute",
        "full",
        "--tokens",
        "15.6T",
    ]);
    let e = &v["estimate"];
    assert_eq!(e["layout"]["dp"], 128);
    assert_eq!(e["layout"]["micro_batches"], 16);
    assert_eq!(e["fits"], true);
    let mfu = e["time"]["mfu"].as_f64().unwrap();
    assert!(mfu > 0.2 && mfu < 0.5, "{mfu}");
    // 126 layers on 16 stages is uneven: the assumption says so
    let notes = e["assumptions"].to_string();
    assert!(notes.contains("uneven pipeline stages"));
}

#[test]
fn table_shows_memory_step_and_run() {
    sizeup()
        .args(["train", "llama-3.2-1b", "--gpus", "8", "--fsdp"])
        .assert()
        .success()
        .stdout(predicate::str::contains("optimizer states"))
        .stdout(predicate::str::contains("pipeline bubble"))
        .stdout(predicate::str::contains("compute-optimal tokens"))
        .stdout(predicate::str::contains("assumptions:"));
}

#[test]
fn issue_5_bad_layouts_exit_2_naming_the_field() {
    for (args, field) in [
        (vec!["--gpus", "8", "--tp", "3"], "gpus"),
        (vec!["--gpus", "6", "--tp", "6"], "tp"),
        (vec!["--gpus", "40", "--pp", "40"], "pp"),
        (vec!["--gpus", "2", "--ep", "2"], "ep"),
        (vec!["--gpus", "2", "--global-batch", "7"], "global_batch"),
        (vec!["--gpus", "8", "--tp", "2", "--dp", "2"], "dp"),
        (vec!["--gpus", "2", "--pp", "2", "--vpp", "3"], "vpp"),
    ] {
        sizeup()
            .args(["train", "llama-3.2-1b"])
            .args(&args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(format!(
                "`--{}` = ",
                field.replace('_', "-")
            )))
            .stderr(predicate::str::contains("hint:"));
    }
}

#[test]
fn deepspeed_bf16_optimizer_keeps_six_gradient_bytes_per_parameter() {
    // llama-3.2-1b: 1,235,814,400 parameters (shared/fixtures/models); at ZeRO-1 on
    // 8 GPUs DeepSpeed's BF16_Optimizer holds 2 + (2 + 4) + 12/8 bytes of each
    let p: u64 = 1_235_814_400;
    let v = json(&[
        "llama-3.2-1b",
        "--gpus",
        "8",
        "--zero",
        "1",
        "--optimizer-impl",
        "deepspeed-bf16",
    ]);
    assert_eq!(v["request"]["optimizer_impl"], "deepspeed-bf16");
    let m = &v["estimate"]["memory"];
    assert_eq!(m["weights_bytes"], 2 * p);
    assert_eq!(m["gradients_bytes"], 6 * p);
    assert_eq!(m["optimizer_states_bytes"], (12 * p).div_ceil(8));
    let notes = v["estimate"]["assumptions"].to_string();
    assert!(notes.contains("DeepSpeed's BF16_Optimizer"), "{notes}");
    assert!(notes.contains("2 + 6 + 12 bytes per parameter"), "{notes}");
    // the default is the precision's convention
    let v = json(&["llama-3.2-1b", "--gpus", "8", "--zero", "1"]);
    assert_eq!(v["request"]["optimizer_impl"], "standard");
    assert_eq!(v["estimate"]["memory"]["gradients_bytes"], 4 * p);
    // it runs at ZeRO-1 only: without it, exit 2 naming the flag
    sizeup()
        .args(["train", "llama-3.2-1b", "--gpus", "8"])
        .args(["--optimizer-impl", "deepspeed-bf16"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "`--optimizer-impl` = deepspeed-bf16 is invalid: DeepSpeed's BF16_Optimizer shards",
        ))
        .stderr(predicate::str::contains("hint:"));
}

/// Issue 11: a peak inside the fit margin is called tight, in the JSON, the table
/// and its note, never a plain fit.
#[test]
fn issue_11_a_peak_inside_the_margin_is_tight() {
    let args = [
        "llama-2-7b",
        "--gpu",
        "A100-SXM-80GB",
        "--gpus",
        "8",
        "--zero",
        "3",
        "--micro-batch",
        "3",
        "--recompute",
        "selective",
    ];
    let at = |seq: &str| json(&[&args[..], &["--seq-len", seq]].concat());
    // 76.73 GB counted of 85.90 GB: 89.3%, a fit with the 9% margin to spare
    let e = &at("4608")["estimate"];
    assert_eq!(e["memory"]["total_bytes"], 76_733_408_000u64);
    assert_eq!(
        (e["fits"].as_bool(), e["verdict"].as_str()),
        (Some(true), Some("fits"))
    );
    // 80.12 GB: 93.3%, inside the margin
    let e = &at("4864")["estimate"];
    assert_eq!(e["memory"]["total_bytes"], 80_117_818_112u64);
    assert_eq!(
        (e["fits"].as_bool(), e["verdict"].as_str()),
        (Some(true), Some("tight"))
    );
    assert!(e["assumptions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["name"] == "fit verdict"));
    // the longest sequence: 5,120 tokens within the capacity, 4,608 with the margin
    let f = &json(&[&args[..], &["--max-seq-len"]].concat())["longest_fit"];
    let len = |k: &str| f[k]["seq_len"].as_u64();
    assert_eq!(
        (len("longest_with_margin"), len("longest"), len("next")),
        (Some(4608), Some(5120), Some(5376))
    );
    sizeup()
        .args(["train"])
        .args(args)
        .args(["--seq-len", "4864"])
        .assert()
        .success()
        .stdout(predicate::str::contains("tight, may run out of memory: 74.62 GiB per GPU counted against 80.00 GiB, inside the 9% margin"));
}
