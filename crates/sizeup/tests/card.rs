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
        .stdout(predicate::str::contains("| Training cost |"))
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
