//! End-to-end tests of `sizeup sweep`: the same numbers as `kv` and `infer` at
//! the same points, grids, error rows, charts and bad axes.

use predicates::prelude::*;
use serde_json::Value;

mod common;
use common::{sizeup, svg_texts};

/// `sizeup ARGS --format json`, required to succeed, parsed.
fn json(args: &[&str]) -> serde_json::Value {
    common::json(&[args, &["--format", "json"]].concat())
}

#[test]
fn kv_sweep_matches_sizeup_kv_at_every_point() {
    let v = json(&["sweep", "llama-3.1-8b", "--vary", "seq_len=4k..128k"]);
    let points = v["points"].as_array().unwrap();
    assert_eq!(points.len(), 6);
    for p in points {
        let s = p["values"]["seq_len"].as_u64().unwrap();
        // vLLM's paged cache (block 16, the default engine) at batch 1, tp 1
        let kv = json(&[
            "kv",
            "llama-3.1-8b",
            "--seq-len",
            &s.to_string(),
            "--kv-dtype",
            "bf16",
            "--block-size",
            "16",
        ]);
        let serve = &p["serve"];
        assert_eq!(serve["kv_per_request_bytes"], kv["bytes_per_sequence"]);
        assert_eq!(serve["memory"]["kv_cache_bytes"], kv["bytes_per_gpu"]);
        // 2·32·8·128·2 = 131,072 bytes per token
        // (shared/fixtures/models/llama-3.1-8b/expected.json, kv_bytes_per_token_fp16)
        assert_eq!(serve["kv_per_request_bytes"].as_u64(), Some(131_072 * s));
    }
    assert_eq!(v["axes"][0]["input"], "context");
    assert_eq!(v["axes"][0]["spec"], "seq_len=4k..128k");
}

#[test]
fn a_point_equals_infer_with_that_flag() {
    let sweep = json(&[
        "sweep",
        "llama-3.1-8b",
        "--gpu",
        "L40S",
        "--vary",
        "concurrency=1,16",
    ]);
    let infer = json(&[
        "infer",
        "llama-3.1-8b",
        "--gpu",
        "L40S",
        "--concurrency",
        "16",
    ]);
    let p = &sweep["points"][1]["serve"];
    let e = &infer["estimate"];
    assert_eq!(p["memory"], e["memory"]);
    assert_eq!(
        p["time_per_output_token_seconds"],
        e["schedule"]["time_per_output_token_seconds"]
    );
    assert_eq!(p["output_tokens_per_sec"], e["output_tokens_per_sec_total"]);
    assert_eq!(p["max_batch_at_context"], e["max_batch_at_context"]);
}

#[test]
fn two_axes_make_a_grid_with_error_rows() {
    let v = json(&[
        "sweep",
        "llama-3.1-8b",
        "--vary",
        "batch=1,4,16",
        "--vary",
        "tp=1,2,3,4",
    ]);
    let points = v["points"].as_array().unwrap();
    assert_eq!(points.len(), 3 * 4);
    // first axis outermost
    assert_eq!(
        points[1]["values"],
        serde_json::json!({"batch": 1, "tp": 2})
    );
    assert_eq!(
        points[4]["values"],
        serde_json::json!({"batch": 4, "tp": 1})
    );
    // tp 3 does not divide Llama-3.1-8B's 32 heads: a row with the reason, not a failure
    let errors: Vec<&Value> = points.iter().filter(|p| p.get("error").is_some()).collect();
    assert_eq!(errors.len(), 3);
    assert!(errors.iter().all(|p| p["values"]["tp"] == 3));
    assert!(errors[0]["error"]
        .as_str()
        .unwrap()
        .contains("a divisor of the 32 attention heads"));

    let csv = sizeup()
        .args(["sweep", "llama-3.1-8b", "--vary", "batch=1,4,16"])
        .args(["--vary", "tp=1,2,3,4", "--format", "csv"])
        .assert()
        .success();
    let text = String::from_utf8(csv.get_output().stdout.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 12);
    assert!(
        lines[0].starts_with("batch,tp,weights_bytes_per_gpu,"),
        "{}",
        lines[0]
    );
    // exact base units: 8,030,261,248 params × 2 bytes at tp 1
    // (shared/fixtures/models/llama-3.1-8b/expected.json)
    assert!(lines[1].starts_with("1,1,16060522496,"), "{}", lines[1]);
}

#[test]
fn hidden_size_rederives_the_model() {
    let v = json(&["sweep", "llama-3.1-8b", "--vary", "hidden=2k,4k,8k"]);
    let p = |i: usize| &v["points"][i]["serve"];
    // the model's own width is the model: 8,030,261,248 parameters
    // (shared/fixtures/models/llama-3.1-8b/expected.json)
    assert_eq!(p(1)["params_total"], 8_030_261_248u64);
    assert_eq!(
        p(2)["shape"],
        serde_json::json!({"layers": 32, "hidden_size": 8192, "heads": 64, "kv_heads": 16,
            "head_dim": 128, "intermediate_size": 28672})
    );
    let params: Vec<u64> = (0..3)
        .map(|i| p(i)["params_total"].as_u64().unwrap())
        .collect();
    // the blocks grow as h², the embedding as h: doubling h more than triples the count
    assert!(
        params[1] > 3 * params[0] && params[2] > 3 * params[1],
        "{params:?}"
    );
}

#[test]
fn kv_chart_holds_series_axes_and_limits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kv.svg");
    sizeup()
        .args(["sweep", "llama-3.1-8b", "--vary", "seq_len=4k..32k:4k"])
        .args(["--vary", "kv_heads=1,8", "--chart"])
        .arg(&path)
        .assert()
        .success()
        .stderr(predicate::str::contains("chart written to"));
    let texts = svg_texts(&std::fs::read_to_string(&path).unwrap());
    for expected in [
        "kv_heads=1",
        "kv_heads=8",
        "Context length (tokens)",
        "KV cache per request (GiB)",
        "H100-SXM memory 80.00 GiB",
        "32k",
    ] {
        assert!(
            texts.iter().any(|t| t == expected),
            "{expected} not in {texts:?}"
        );
    }
}

#[test]
fn batch_sweep_charts_latency_against_throughput() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latency.svg");
    sizeup()
        .args(["sweep", "llama-3.1-8b", "--vary", "batch=1..64", "--chart"])
        .arg(&path)
        .assert()
        .success();
    let texts = svg_texts(&std::fs::read_to_string(&path).unwrap());
    for expected in [
        "B=1",
        "B=64",
        "Time per output token (ms)",
        "Output throughput, all replicas (tokens/s, log scale)",
    ] {
        assert!(
            texts.iter().any(|t| t == expected),
            "{expected} not in {texts:?}"
        );
    }
}

#[test]
fn other_axes_chart_memory_as_stacked_bars_in_png() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("memory.svg");
    sizeup()
        .args([
            "sweep",
            "llama-3.1-70b",
            "--gpu",
            "L40S",
            "--vary",
            "tp=2,4,8",
        ])
        .arg("--chart")
        .arg(&svg)
        .assert()
        .success();
    let texts = svg_texts(&std::fs::read_to_string(&svg).unwrap());
    for expected in [
        "weights",
        "KV cache",
        "engine reserve",
        "L40S memory 48.00 GiB",
        "tp",
    ] {
        assert!(
            texts.iter().any(|t| t == expected),
            "{expected} not in {texts:?}"
        );
    }
    let png = dir.path().join("memory.png");
    sizeup()
        .args([
            "sweep",
            "llama-3.1-70b",
            "--gpu",
            "L40S",
            "--vary",
            "tp=2,4,8",
        ])
        .arg("--chart")
        .arg(&png)
        .assert()
        .success();
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
}

#[test]
fn unknown_axis_exits_2_naming_the_valid_ones() {
    sizeup()
        .args(["sweep", "llama-3.1-8b", "--vary", "seqlen=4k..8k"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "`seqlen` is not a serving input a sweep can vary",
        ))
        .stderr(predicate::str::contains("did you mean `seq_len`?"))
        .stderr(predicate::str::contains("`context` (`seq_len`), `prompt`"))
        .stderr(predicate::str::contains("`hidden`, `layers`, `kv_heads`"));
}

#[test]
fn bad_sweeps_exit_2() {
    for args in [
        // three axes
        &["--vary", "batch=1", "--vary", "tp=1", "--vary", "prompt=1k"][..],
        // a fraction of a request
        &["--vary", "batch=0.5"],
        // the same input twice under two names
        &["--vary", "context=1k", "--vary", "seq_len=2k"],
        // a chart format that is neither SVG nor PNG
        &["--vary", "batch=1,2", "--chart", "out.pdf"],
        // a KV chart without a context axis
        &[
            "--vary",
            "batch=1,2",
            "--chart",
            "out.svg",
            "--chart-kind",
            "kv",
        ],
    ] {
        sizeup()
            .args(["sweep", "llama-3.1-8b"])
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::starts_with("error:"));
    }
}

#[test]
fn a_training_point_equals_train_with_that_flag() {
    let sweep = json(&[
        "sweep",
        "llama-3.1-8b",
        "--mode",
        "train",
        "--gpus",
        "8",
        "--zero",
        "3",
        "--vary",
        "micro_batch=1,2",
    ]);
    let train = json(&[
        "train",
        "llama-3.1-8b",
        "--gpus",
        "8",
        "--zero",
        "3",
        "--micro-batch",
        "2",
    ]);
    let p = &sweep["points"][1]["train"];
    let e = &train["estimate"];
    assert_eq!(p["memory"], e["memory"]);
    assert_eq!(p["step_seconds"], e["time"]["step_seconds"]);
    assert_eq!(p["mfu"], e["time"]["mfu"]);
    assert_eq!(p["gpu_hours"], e["time"]["gpu_hours"]);
    assert_eq!(p["largest_micro_batch"], e["largest_micro_batch"]);
    assert_eq!(sweep["settings"]["zero"], 3);
}

#[test]
fn training_memory_against_micro_batch_per_zero_stage() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("train.svg");
    let out = sizeup()
        .args(["sweep", "llama-3.1-8b", "--mode", "train", "--gpus", "8"])
        .args([
            "--vary",
            "micro_batch=1..8",
            "--vary",
            "zero=0,3",
            "--chart",
        ])
        .arg(&path)
        .assert()
        .success();
    let table = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(table.contains("optimizer"), "{table}");
    let texts = svg_texts(&std::fs::read_to_string(&path).unwrap());
    for expected in [
        "zero=0",
        "zero=3",
        "Micro-batch (sequences)",
        "Memory per GPU (GiB)",
        "H100-SXM memory 80.00 GiB",
    ] {
        assert!(
            texts.iter().any(|t| t == expected),
            "{expected} not in {texts:?}"
        );
    }
}

#[test]
fn flags_and_axes_of_the_other_mode_exit_2() {
    sizeup()
        .args([
            "sweep",
            "llama-3.1-8b",
            "--micro-batch",
            "2",
            "--vary",
            "batch=1,2",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("add `--mode train`"));
    sizeup()
        .args([
            "sweep",
            "llama-3.1-8b",
            "--mode",
            "train",
            "--vary",
            "context=1k",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "`context` is a serving input: add `--mode serve`",
        ));
    sizeup()
        .args([
            "sweep",
            "llama-3.1-8b",
            "--mode",
            "train",
            "--vary",
            "tp=1,2",
        ])
        .args(["--chart", "x.svg", "--chart-kind", "latency-throughput"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("it plots a serving estimate"));
}

/// Text axes: names are checked with suggestions, each point uses its own
/// accelerator and format, and the JSON names the value.
#[test]
fn issue_plan_text_axes_vary_gpu_weights_and_engine() {
    let out = sizeup()
        .args([
            "sweep",
            "llama-3.1-8b",
            "--vary",
            "gpu=L4,A100-SXM-80GB,H100-SXM",
            "--vary",
            "weights=bf16,fp8,awq-int4-g128",
            "--format",
            "json",
        ])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let points = v["points"].as_array().unwrap();
    assert_eq!(points.len(), 9);
    assert_eq!(points[0]["values"]["gpu"], "L4");
    assert_eq!(points[8]["values"]["weights"], "awq-int4-g128");
    // the same point as `sizeup infer` with those flags
    let infer = common::json(&[
        "infer",
        "llama-3.1-8b",
        "--gpu",
        "L4",
        "--weights",
        "fp8",
        "--format",
        "json",
    ]);
    assert_eq!(points[1]["serve"]["memory"], infer["estimate"]["memory"]);
    sizeup()
        .args(["sweep", "llama-3.1-8b", "--vary", "engine=vlm"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("did you mean `vllm`"));
    sizeup()
        .args(["sweep", "llama-3.1-8b", "--vary", "gpu=L4..H100"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a name"));
}

/// `--rank`: points that do not fit are marked and never ranked above those that do.
#[test]
fn issue_plan_ranked_sweeps_put_points_that_fit_first() {
    let v = common::json(&[
        "sweep",
        "llama-3.1-70b",
        "--vary",
        "gpu=L4,H100-SXM",
        "--vary",
        "weights=bf16,fp8,awq-int4-g128",
        "--gpus",
        "2",
        "--tp",
        "2",
        "--rank",
        "cost",
        "--format",
        "json",
    ]);
    let fits: Vec<bool> = v["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["serve"]["fits"].as_bool().unwrap())
        .collect();
    assert!(fits.contains(&false) && fits.contains(&true), "{fits:?}");
    let first_miss = fits.iter().position(|f| !f).unwrap();
    assert!(fits[first_miss..].iter().all(|f| !f), "{fits:?}");
}

/// Issue 12: `--vary attention_dp` splits DeepSeek-V3's replicated MLA cache over
/// the attention groups: each group holds its own share of the requests' cache.
#[test]
fn attention_groups_are_a_sweep_axis() {
    let csv = sizeup()
        .args(["sweep", "deepseek-v3", "--gpu", "H200-SXM", "--gpus", "8"])
        .args(["--weights", "fp8-block128", "--concurrency", "64"])
        .args(["--vary", "attention_dp=1,2,8", "--format", "csv"])
        .assert()
        .success();
    let text = String::from_utf8(csv.get_output().stdout.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 3);
    let header: Vec<&str> = lines[0].split(',').collect();
    assert_eq!(header[0], "attention_dp");
    let kv_at = header
        .iter()
        .position(|h| *h == "kv_cache_bytes_per_gpu")
        .unwrap();
    let kv: Vec<u64> = lines[1..]
        .iter()
        .map(|l| l.split(',').nth(kv_at).unwrap().parse().unwrap())
        .collect();
    // 64 requests: 64, 32 and 8 per group; one latent per token whatever the tp
    assert_eq!(kv[1] * 2, kv[0]);
    assert_eq!(kv[2] * 8, kv[0]);
}
