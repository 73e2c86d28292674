//! `sizeup card` end to end: the card's numbers come from the same estimates as `infer` and `train`.

use predicates::prelude::*;

mod common;
use common::{json, sizeup};

#[test]
fn chat_card_matches_infer_at_the_same_setup() {
    let card = json(&[
        "card",
        "llama-3.1-8b",
        "--workload",
        "chat",
        "--gpu",
        "L4",
        "--context",
        "32k",
        "--format",
        "json",
    ]);
    let i = &card["card"]["inference"];
    let fit = i["requests_in_flight"].as_u64().unwrap().to_string();
    let infer = json(&[
        "infer",
        "llama-3.1-8b",
        "--gpu",
        "L4",
        "--context",
        "32k",
        "--prompt",
        "2048",
        "--output",
        "512",
        "--concurrency",
        &fit,
        "--format",
        "json",
    ]);
    let e = &infer["estimate"];
    assert_eq!(i["weights_bytes_per_gpu"], e["memory"]["weights_bytes"]);
    assert_eq!(i["max_requests_at_context"], e["max_batch_at_context"]);
    assert_eq!(
        i["tpot_seconds"],
        e["schedule"]["time_per_output_token_seconds"]
    );
    assert_eq!(
        i["ttft_seconds"],
        e["schedule"]["time_to_first_token_seconds"]
    );
    // fixture params_total of llama-3.1-8b
    assert_eq!(card["card"]["params"]["total"], 8_030_261_248u64);
}

#[test]
fn chat_card_on_an_l4_binds_on_memory_and_ranks_what_ifs() {
    let card = json(&[
        "card",
        "llama-3.1-8b",
        "--gpu",
        "L4",
        "--context",
        "32k",
        "--format",
        "json",
    ]);
    assert_eq!(card["card"]["bottleneck"]["kind"], "memory");
    let decisions = card["card"]["decisions"].as_array().unwrap();
    let gains: Vec<f64> = decisions
        .iter()
        .filter_map(|d| d["gain"].as_f64())
        .collect();
    assert!(
        gains.windows(2).all(|w| w[0] >= w[1]),
        "ranked best first: {gains:?}"
    );
    let fp8 = decisions
        .iter()
        .find(|d| d["name"] == "fp8 KV cache")
        .unwrap();
    assert!(fp8["after"].as_f64().unwrap() > fp8["before"].as_f64().unwrap());
}

#[test]
fn finetune_card_uses_lora() {
    let card = json(&[
        "card",
        "llama-3.1-8b",
        "--workload",
        "finetune",
        "--train-gpu",
        "RTX4090",
        "--train-gpus",
        "1",
        "--global-batch",
        "8",
        "--format",
        "json",
    ]);
    assert_eq!(card["card"]["training"]["method"], "lora");
    // fine-tuning tokens, not 20 per parameter, and said to be the card's default
    assert_eq!(card["card"]["training"]["tokens"], 100_000_000.0);
    let assumption = card["card"]["assumptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "fine-tuning tokens")
        .unwrap();
    assert!(assumption["source"]
        .as_str()
        .unwrap()
        .starts_with("card default"));
    // a fine-tuning card judges training: no serving decision
    assert!(card["card"]["decision"].is_null());
    // LoRA r16 on all seven projections of Llama-3.1-8B: 32·16·(2·4096 + 2·(4096+1024) + 3·(4096+14336)) = 41,943,040
    assert_eq!(card["card"]["training"]["params_trainable"], 41_943_040u64);
}

#[test]
fn card_markdown_has_every_section() {
    sizeup()
        .args([
            "card",
            "qwen3-8b",
            "--workload",
            "rag",
            "--format",
            "markdown",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("| Params |"))
        .stdout(predicate::str::contains("| Training cost |").not())
        .stdout(predicate::str::contains("| Inference cost |"))
        .stdout(predicate::str::contains("| Bottleneck |"))
        .stdout(predicate::str::contains("Decision: what-ifs ranked"));
}

#[test]
fn unknown_workload_exits_2() {
    sizeup()
        .args(["card", "llama-3.1-8b", "--workload", "serve"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a workload"));
}

#[test]
fn a_chat_card_costs_training_only_when_asked() {
    let without = json(&["card", "llama-3.1-8b", "--format", "json"]);
    assert!(without["card"]["training"].is_null());
    let with = json(&["card", "llama-3.1-8b", "--training", "--format", "json"]);
    assert_eq!(with["card"]["training"]["method"], "full");
}

#[test]
fn the_users_flags_are_labelled_as_theirs_and_defaults_as_defaults() {
    let card = json(&[
        "card",
        "llama-3.1-8b",
        "--tpot-target-ms",
        "40",
        "--prompt",
        "1000",
        "--format",
        "json",
    ]);
    let source = |name: &str| -> String {
        card["card"]["assumptions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap_or_else(|| panic!("{name}"))["source"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(source("time-per-output-token target"), "user flag");
    assert!(source("time-to-first-token target").starts_with("card default"));
    assert_eq!(source("prompt tokens per request"), "user flag");
    assert!(source("output tokens per request").starts_with("card default for chat"));
    assert_eq!(
        source("context for KV sizing"),
        "card default for chat (--context)"
    );
}

/// The README's chat example: the card names the cheapest setup that meets every
/// target, and `sizeup infer` at that setup meets them.
#[test]
fn issue_12_the_card_decides_with_the_cheapest_change_that_meets_every_target() {
    let card = json(&[
        "card",
        "llama-3.1-8b",
        "--workload",
        "chat",
        "--gpu",
        "L4",
        "--context",
        "32k",
        "--format",
        "json",
    ]);
    let d = &card["card"]["decision"];
    let met: Vec<(String, bool)> = d["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["target"].as_str().unwrap().to_string(),
                c["met"].as_bool().unwrap(),
            )
        })
        .collect();
    // one 32k request fits beside bf16 weights on an L4 (16 wanted); decode at
    // 67 ms per token misses 50 ms; the 373 ms prefill meets 2 s
    assert_eq!(
        met,
        [
            ("concurrency".to_string(), false),
            ("ttft".to_string(), true),
            ("tpot".to_string(), false)
        ]
    );
    let p = &d["cheapest"];
    let c = &p["candidate"];
    let replicas = c["replicas"].as_u64().unwrap();
    let infer = json(&[
        "infer",
        "llama-3.1-8b",
        "--gpu",
        p["accelerator"].as_str().unwrap(),
        "--gpus",
        &(c["tp"].as_u64().unwrap() * replicas).to_string(),
        "--tp",
        &c["tp"].as_u64().unwrap().to_string(),
        "--weights",
        c["weights"].as_str().unwrap(),
        "--kv-dtype",
        c["kv_dtype"].as_str().unwrap(),
        "--context",
        "32k",
        "--prompt",
        "2048",
        "--output",
        "512",
        "--concurrency",
        &16u64.div_ceil(replicas).to_string(),
        "--format",
        "json",
    ]);
    let e = &infer["estimate"];
    assert_eq!(e["fits"], true);
    assert!(
        e["schedule"]["time_per_output_token_seconds"]
            .as_f64()
            .unwrap()
            <= 0.05
    );
    assert!(
        e["schedule"]["time_to_first_token_seconds"]
            .as_f64()
            .unwrap()
            <= 2.0
    );
    assert_eq!(
        e["schedule"]["time_per_output_token_seconds"],
        p["steady"]["tpot_seconds"]
    );
    assert!(
        p["usd_per_hour"].as_f64().unwrap()
            <= d["cheapest_alone"]["usd_per_hour"].as_f64().unwrap()
    );
    sizeup()
        .args(["card", "llama-3.1-8b", "--gpu", "L4", "--context", "32k"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Decision: each target"))
        .stdout(predicate::str::contains("cheapest, alone or combined"));
}
