//! End-to-end tests of `sizeup infer` and `sizeup gpus`: the JSON contract and exit codes.

use predicates::prelude::*;

mod common;
use common::sizeup;

/// `sizeup ARGS --format json`, required to succeed, parsed.
fn json(args: &[&str]) -> serde_json::Value {
    common::json(&[args, &["--format", "json"]].concat())
}

#[test]
fn llama_70b_fp8_on_two_h100_at_32k_fits() {
    let v = json(&[
        "infer",
        "llama-3.1-70b",
        "--gpu",
        "H100-SXM",
        "--gpus",
        "2",
        "--weights",
        "fp8",
        "--context",
        "32k",
    ]);
    let e = &v["estimate"];
    assert_eq!(e["fits"], true);
    assert_eq!(e["tp"], 2);
    // 80·2·8·128·2 = 327_680 bytes per token in bf16 (shared/fixtures/models/llama-3.1-70b)
    assert_eq!(e["kv_bytes_per_token"], 327_680);
    assert_eq!(e["memory"]["kv_cache_bytes"], 5u64 << 30);
    assert_eq!(e["decode"]["bound"], "memory_bandwidth");
    assert!(e["cost"]["usd_per_million_output_tokens"].as_f64().unwrap() > 0.0);
    assert!(e["assumptions"].as_array().unwrap().len() > 10);
}

#[test]
fn mixtral_q4_k_m_does_not_fit_one_4090_and_says_what_would() {
    let v = json(&[
        "infer",
        "mixtral-8x7b-v0.1",
        "--gpu",
        "rtx4090",
        "--weights",
        "Q4_K_M",
        "--engine",
        "llama.cpp",
    ]);
    let e = &v["estimate"];
    assert_eq!(e["fits"], false);
    assert!(e["memory"]["shortfall_bytes"].as_u64().unwrap() > 1 << 30);
    assert_eq!(e["fit_advice"]["min_tp"], 2);
    assert_eq!(e["moe_experts_touched_per_layer"], 2.0);
}

#[test]
fn table_prints_memory_speed_and_assumptions() {
    sizeup()
        .args([
            "infer",
            "llama-3.1-8b",
            "--gpu",
            "L40S",
            "--concurrency",
            "16",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("engine reserve"))
        .stdout(predicate::str::contains("time per output token"))
        .stdout(predicate::str::contains("assumptions:"));
}

#[test]
fn bad_input_exits_2_with_a_hint() {
    sizeup()
        .args(["infer", "llama-3.1-70b", "--gpu", "h100-sxn"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("did you mean `H100-SXM`"));
    sizeup()
        .args(["infer", "llama-3.1-70b", "--tp", "3"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`--tp` = 3"));
    sizeup()
        .args(["infer", "llama-3.1-70b", "--batch", "0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("batch"));
    sizeup()
        .args(["infer", "llama-3.1-70b", "--weights", "q4_k_x"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("Q4_K_M"));
}

#[test]
fn context_beyond_the_model_is_a_warning() {
    let v = json(&["infer", "llama-3.1-8b", "--context", "200k"]);
    let warnings = v["estimate"]["warnings"].as_array().unwrap();
    assert!(warnings.iter().any(|w| w["kind"] == "context_beyond_model"));
}

#[test]
fn gpus_lists_the_catalog_with_sources() {
    let v = json(&["gpus"]);
    let rows = v["accelerators"].as_array().unwrap();
    assert!(rows.len() >= 19);
    // NVIDIA H100 datasheet: 989.4 TFLOPS BF16 dense, 3.35 TB/s
    let h100 = rows.iter().find(|r| r["name"] == "H100-SXM").unwrap();
    assert_eq!(h100["peak_flops"]["bf16"], 989.4e12);
    assert!(rows
        .iter()
        .all(|r| !r["source"].as_str().unwrap().is_empty()));
    sizeup()
        .args(["gpus", "--filter", "apple"])
        .assert()
        .success()
        .stdout(predicate::str::contains("M2-Ultra"));
}

#[test]
fn a_user_accelerator_file_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.toml");
    std::fs::write(
        &path,
        "name = \"my-card\"\nvendor = \"acme\"\nmemory_bytes = 34359738368\nmemory_bandwidth_bytes_per_sec = 1e12\npeak_flops = { bf16 = 2e14 }\ninterconnect = \"PCIe\"\ninterconnect_bytes_per_sec = 32e9\nprice_per_hour_usd = 1.0\nprice_source = \"mine\"\nsource = \"my bench\"\n",
    )
    .unwrap();
    let v = json(&[
        "infer",
        "llama-3.1-8b",
        "--gpu-file",
        path.to_str().unwrap(),
    ]);
    assert_eq!(v["estimate"]["gpu"], "my-card");
}

#[test]
fn a_rate_runs_the_simulation_and_reports_percentiles() {
    let args = [
        "infer",
        "llama-3.1-8b",
        "--gpu",
        "H100-SXM",
        "--rate",
        "5",
        "--requests",
        "200",
        "--prompt-dist",
        "uniform:200..800",
        "--output-dist",
        "normal:128,32",
        "--seed",
        "7",
    ];
    let v = json(&args);
    let s = &v["simulation"];
    assert_eq!(s["requests_completed"], 200);
    assert_eq!(s["state"]["kind"], "steady");
    assert_eq!(s["arrivals"]["rate_per_sec"], 5.0);
    for k in ["ttft", "tpot", "itl", "e2e"] {
        let p = &s[k];
        let (p50, p99) = (p["p50"].as_f64().unwrap(), p["p99"].as_f64().unwrap());
        assert!(p50 > 0.0 && p99 >= p50, "{k}: {p}");
    }
    // the estimate beside it is for the mean request: (200 + 800)/2 prompt tokens
    assert_eq!(v["estimate"]["prompt"], 500);
    // same seed, same run
    assert_eq!(json(&args)["simulation"], *s);
    sizeup()
        .args(&args[..6])
        .assert()
        .success()
        .stdout(predicate::str::contains("Serving under load"))
        .stdout(predicate::str::contains("time to first token"))
        .stdout(predicate::str::contains("steady state"));
}

#[test]
fn an_overloaded_engine_says_there_is_no_steady_state() {
    sizeup()
        .args([
            "infer",
            "llama-3.1-8b",
            "--rate",
            "500",
            "--requests",
            "2000",
            "--prompt",
            "2048",
            "--output",
            "256",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("NO STEADY STATE"));
}

#[test]
fn a_lengths_file_is_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("lengths.csv");
    std::fs::write(&csv, "prompt,output\n100,10\n300,30\n").unwrap();
    let v = json(&[
        "infer",
        "llama-3.1-8b",
        "--closed-loop",
        "2",
        "--requests",
        "4",
        "--lengths",
        csv.to_str().unwrap(),
    ]);
    let s = &v["simulation"];
    assert_eq!(s["requests_completed"], 4);
    assert_eq!(s["prompt_mean"], 200.0);
    // 2 requests of 100 prompt tokens and 2 of 300, each answered
    let prompt_tokens =
        s["prompt_tokens_per_sec"].as_f64().unwrap() * s["simulated_seconds"].as_f64().unwrap();
    // a rate times a time: exact up to rounding
    assert!((prompt_tokens - 800.0).abs() < 1e-9, "{prompt_tokens}");
    let jsonl = dir.path().join("lengths.jsonl");
    std::fs::write(&jsonl, "{\"prompt\": 64, \"output\": 8}\n").unwrap();
    let v = json(&[
        "infer",
        "llama-3.1-8b",
        "--rate",
        "1",
        "--requests",
        "3",
        "--lengths",
        jsonl.to_str().unwrap(),
    ]);
    assert_eq!(v["simulation"]["output_mean"], 8.0);
}

#[test]
fn bad_simulation_input_exits_2() {
    // simulation flags need a load
    sizeup()
        .args(["infer", "llama-3.1-8b", "--requests", "10"])
        .assert()
        .code(2);
    sizeup()
        .args(["infer", "llama-3.1-8b", "--rate=-1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("rate"));
    sizeup()
        .args([
            "infer",
            "llama-3.1-8b",
            "--rate",
            "1",
            "--prompt-dist",
            "uniform:9..3",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("uniform:9..3"));
    sizeup()
        .args([
            "infer",
            "llama-3.1-8b",
            "--rate",
            "1",
            "--lengths",
            "/dev/zero",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--lengths"));
    sizeup()
        .args(["infer", "llama-3.1-8b", "--rate", "1", "--closed-loop", "4"])
        .assert()
        .code(2);
}

/// llama.cpp spreads one model over `--gpus` by whole layers unless told `--split-mode row`.
#[test]
fn issue_11_llama_cpp_splits_layers_across_gpus() {
    let args = |extra: &[&str]| {
        json(
            &[
                &[
                    "infer",
                    "llama-3.1-70b",
                    "--gpu",
                    "RTX-4090",
                    "--gpus",
                    "2",
                    "--engine",
                    "llama.cpp",
                    "--weights",
                    "Q4_K_M",
                ][..],
                extra,
            ]
            .concat(),
        )
    };
    let layer = args(&[]);
    let e = &layer["estimate"];
    assert_eq!((e["tp"].as_u64(), e["pp"].as_u64()), (Some(1), Some(2)));
    assert_eq!(e["replicas"], 1);
    assert_eq!(e["fits"], true);
    assert!(e["assumptions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["name"] == "multi-GPU split"));
    let row = args(&["--split-mode", "row"]);
    let r = &row["estimate"];
    assert_eq!((r["tp"].as_u64(), r["pp"].as_u64()), (Some(2), Some(1)));
    // whole layers in turn stream every weight through one device at a time
    assert!(
        e["decode"]["seconds"].as_f64().unwrap() > 1.5 * r["decode"]["seconds"].as_f64().unwrap()
    );
}

#[test]
fn issue_11_split_mode_and_tp_belong_to_their_engines() {
    sizeup()
        .args(["infer", "llama-3.1-8b", "--split-mode", "layer"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`--split-mode` = `layer`"))
        .stderr(predicate::str::contains("--tp"));
    sizeup()
        .args([
            "infer",
            "llama-3.1-8b",
            "--engine",
            "llama.cpp",
            "--tp",
            "2",
            "--split-mode",
            "layer",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`--tp` = `2`"))
        .stderr(predicate::str::contains("split by rows"));
    // `--tp` with llama.cpp: instances of that many GPUs, split by rows
    let v = json(&[
        "infer",
        "llama-3.1-8b",
        "--engine",
        "llama.cpp",
        "--gpus",
        "4",
        "--tp",
        "2",
    ]);
    let e = &v["estimate"];
    assert_eq!(
        (e["tp"].as_u64(), e["pp"].as_u64(), e["replicas"].as_u64()),
        (Some(2), Some(1), Some(2))
    );
    let rows = json(&[
        "infer",
        "llama-3.1-8b",
        "--engine",
        "llama.cpp",
        "--gpus",
        "2",
        "--split-mode",
        "row",
    ]);
    // one instance of the two is the row split over two GPUs
    assert_eq!(e["decode"], rows["estimate"]["decode"]);
    sizeup()
        .args([
            "infer",
            "llama-3.1-8b",
            "--engine",
            "llama.cpp",
            "--gpus",
            "2",
            "--pp",
            "2",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`--pp` = `2`"))
        .stderr(predicate::str::contains("--split-mode layer"));
    sizeup()
        .args([
            "infer",
            "llama-3.1-8b",
            "--engine",
            "transformers",
            "--gpus",
            "2",
            "--pp",
            "2",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("pp"))
        .stderr(predicate::str::contains("split it with tp"));
}

/// Issue 12: vLLM's pipeline parallelism (`--pp`): stages of `--tp` GPUs, as many
/// batches in flight, estimated and simulated; llama.cpp's layer split simulated too.
#[test]
fn issue_12_pipeline_parallel_serving() {
    let run = |extra: &[&str]| {
        json(
            &[
                &[
                    "infer",
                    "llama-3.1-70b",
                    "--gpu",
                    "H100-SXM",
                    "--weights",
                    "fp8",
                    "--prompt",
                    "1000",
                    "--output",
                    "100",
                ][..],
                extra,
            ]
            .concat(),
        )
    };
    // 16 GPUs: two replicas of tp 4 · pp 2, or one of tp 8 · pp 2
    let v = run(&[
        "--gpus",
        "16",
        "--tp",
        "4",
        "--pp",
        "2",
        "--concurrency",
        "64",
    ]);
    let e = &v["estimate"];
    assert_eq!(
        (e["tp"].as_u64(), e["pp"].as_u64(), e["replicas"].as_u64()),
        (Some(4), Some(2), Some(2))
    );
    assert!(e["assumptions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["name"] == "multi-GPU split"
            && a["value"].as_str().unwrap().contains("2 batches in flight")));
    // `--pp` alone takes its stages out of `--gpus`
    let v = run(&["--gpus", "16", "--pp", "2"]);
    assert_eq!(
        (
            v["estimate"]["tp"].as_u64(),
            v["estimate"]["replicas"].as_u64()
        ),
        (Some(8), Some(1))
    );
    // under load
    let v = run(&[
        "--gpus",
        "4",
        "--tp",
        "2",
        "--pp",
        "2",
        "--rate",
        "2",
        "--requests",
        "40",
    ]);
    let s = &v["simulation"];
    assert_eq!(
        (s["replicas"].as_u64(), s["batches_in_flight"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(s["requests_completed"], 20);
    // llama.cpp's layer split under load: one batch, the devices in turn
    let v = json(&[
        "infer",
        "llama-3.1-8b",
        "--engine",
        "llama.cpp",
        "--gpu",
        "RTX-4090",
        "--gpus",
        "2",
        "--rate",
        "0.5",
        "--requests",
        "10",
        "--prompt",
        "256",
        "--output",
        "32",
    ]);
    assert_eq!(v["simulation"]["batches_in_flight"], 1);
    assert_eq!(v["simulation"]["requests_completed"], 10);
}

/// Issue 11: a checkpoint's `quantization_config` sets the weight format when
/// `--weights` is not given; `--weights` wins when it is.
#[test]
fn a_quantized_checkpoint_serves_in_its_own_format_unless_told() {
    let folder = common::shared("fixtures/models/gpt-oss-20b");
    let folder = folder.to_str().expect("a UTF-8 path");
    let weights = |extra: &[&str]| {
        let v = json(&[&["infer", folder, "--gpu", "H100-SXM"], extra].concat());
        let e = &v["estimate"];
        let assumption = e["assumptions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "weight format")
            .expect("a weight format assumption")
            .clone();
        (
            e["weights"].as_str().unwrap().to_string(),
            e["memory"]["weights_bytes"].as_u64().unwrap(),
            assumption["source"].as_str().unwrap().to_string(),
        )
    };
    // Per layer the 32 experts' gate_up (5760×2880) and down (2880×2880) in MXFP4
    // (half a byte per weight + a scale byte per 32) = 32·(5760 + 2880)·(1440 + 90)
    // = 423_014_400 bytes, ×24 layers = 10_152_345_600; everything else in bf16:
    // (20_914_757_184 params (shared/fixtures/models/gpt-oss-20b/expected.json)
    // − 24·32·8640·2880 expert weights) · 2 = 3_608_919_168.
    let (format, bytes, source) = weights(&[]);
    assert_eq!(format, "mxfp4-experts");
    assert_eq!(bytes, 10_152_345_600 + 3_608_919_168);
    assert_eq!(
        source,
        "read from config.json quantization_config: quant_method mxfp4 (transformers \
         converts the experts only); storage per tensor in weight_breakdown"
    );
    let (format, bytes, source) = weights(&["--weights", "bf16"]);
    assert_eq!(format, "bf16");
    assert_eq!(bytes, 2 * 20_914_757_184);
    assert_eq!(
        source,
        "user choice; storage per tensor in weight_breakdown"
    );
    // the table says the same
    sizeup()
        .args(["infer", folder, "--gpu", "H100-SXM"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "weight format = mxfp4-experts (read from config.json quantization_config",
        ));
}

/// Issue 12: expert parallelism per replica (`--ep`): whole experts per group of a
/// stage's ranks, the sizes each engine allows, refused with the fix otherwise.
#[test]
fn issue_12_expert_parallel_serving() {
    let run = |extra: &[&str]| {
        json(
            &[
                &[
                    "infer",
                    "mixtral-8x7b-v0.1",
                    "--gpu",
                    "H100-SXM",
                    "--gpus",
                    "8",
                    "--tp",
                    "8",
                ][..],
                extra,
            ]
            .concat(),
        )
    };
    let tensor = run(&[]);
    let expert = run(&["--ep", "8"]);
    let (t, e) = (&tensor["estimate"], &expert["estimate"]);
    assert_eq!(e["ep"], 8);
    // 8 experts over 8 ranks: the same bytes per rank, one whole expert each
    assert_eq!(e["memory"]["weights_bytes"], t["memory"]["weights_bytes"]);
    // batch 1: the busiest rank reads its expert whenever either choice lands on it
    let seconds = |v: &serde_json::Value| v["decode"]["seconds"].as_f64().unwrap();
    assert!(
        seconds(e) > 1.5 * seconds(t),
        "{} vs {}",
        seconds(e),
        seconds(t)
    );
    assert!(e["assumptions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["name"] == "expert parallelism"
            && a["value"]
                .as_str()
                .unwrap()
                .starts_with("8 groups of 1 ranks")));
    // SGLang groups the ranks: 4 groups of 2
    let grouped = run(&["--ep", "4", "--engine", "sglang"]);
    assert_eq!(grouped["estimate"]["ep"], 4);
    for (flags, says) in [
        (&["--ep", "4"][..], "1 or tp = 8"),
        (
            &["--ep", "8", "--engine", "transformers"][..],
            "no expert parallelism",
        ),
    ] {
        sizeup()
            .args(
                [
                    &["infer", "mixtral-8x7b-v0.1", "--gpus", "8", "--tp", "8"][..],
                    flags,
                ]
                .concat(),
            )
            .assert()
            .code(2)
            .stderr(predicate::str::contains("--ep"))
            .stderr(predicate::str::contains(says));
    }
    sizeup()
        .args([
            "infer",
            "llama-3.1-8b",
            "--gpus",
            "2",
            "--tp",
            "2",
            "--ep",
            "2",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no routed experts"));
}

/// Issue 12: data-parallel attention (`--attention-dp`): DeepSeek-V3's MLA cache is
/// one latent per token that tensor parallelism copies onto every rank; eight
/// attention groups of one GPU each hold only their own requests' cache, so the
/// replica holds several times the requests, and its simulation runs the groups
/// as engines of their own.
#[test]
fn issue_12_data_parallel_attention_serving() {
    let run = |extra: &[&str]| {
        json(
            &[
                &[
                    "infer",
                    "deepseek-v3",
                    "--gpu",
                    "H200-SXM",
                    "--gpus",
                    "8",
                    "--weights",
                    "fp8-block128",
                    "--prompt",
                    "2000",
                    "--output",
                    "1000",
                    "--concurrency",
                    "256",
                ][..],
                extra,
            ]
            .concat(),
        )
    };
    let tensor = run(&["--tp", "8"]);
    let groups = run(&["--tp", "1", "--attention-dp", "8", "--ep", "8"]);
    let (t, g) = (&tensor["estimate"], &groups["estimate"]);
    assert_eq!(
        (g["attention_dp"].as_u64(), g["ep"].as_u64()),
        (Some(8), Some(8))
    );
    let kv = |e: &serde_json::Value| e["memory"]["kv_cache_bytes"].as_u64().unwrap();
    assert_eq!(kv(t), 8 * kv(g));
    let most = |e: &serde_json::Value| e["max_batch_at_context"].as_u64().unwrap();
    assert_eq!((most(t), most(g)), (233, 1240));
    let pool = |e: &serde_json::Value| e["kv_pool"]["concurrency_at_context"].as_f64().unwrap();
    assert!(
        pool(g) >= most(g) as f64 && pool(g) < most(g) as f64 + 8.0,
        "{}",
        pool(g)
    );
    assert!(g["assumptions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["name"] == "data-parallel attention"));
    let sim = run(&[
        "--tp",
        "1",
        "--attention-dp",
        "8",
        "--ep",
        "8",
        "--rate",
        "2",
        "--requests",
        "80",
    ]);
    assert!(sim["simulation"]["assumptions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["name"] == "data-parallel attention groups"));
    // one engine of the eight is simulated, with its eighth of the requests, its
    // own sequence cap and its group's pool
    let s = &sim["simulation"];
    assert_eq!(s["requests_completed"], 10);
    assert_eq!(s["attention_dp"], 8);
    assert_eq!(s["scheduler"]["max_num_seqs"], 256);
    let blocks = s["kv_pool_blocks"].as_u64().unwrap();
    let tokens = sim["estimate"]["kv_pool"]["tokens"].as_u64().unwrap();
    assert_eq!(
        blocks,
        tokens / 16,
        "{blocks} blocks of 16 against {tokens} tokens"
    );
    // `--gpus` alone: the groups take their share
    let derived = run(&["--attention-dp", "8"]);
    assert_eq!(derived["estimate"]["tp"], 1);
    sizeup()
        .args([
            "infer",
            "llama-3.1-8b",
            "--gpus",
            "2",
            "--attention-dp",
            "2",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--attention-dp"))
        .stderr(predicate::str::contains("serve them as replicas"));
}
