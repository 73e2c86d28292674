//! End-to-end tests of `sizeup plan serve`: agreement with `sizeup infer`, the
//! search's accounting, and each class of bad input.

use predicates::prelude::*;
use serde_json::Value;

mod common;
use common::{sizeup, svg_texts};

/// A small space: two accelerators, up to 8 GPUs, aggregated setups (the ones
/// the simulation confirms).
const SMALL: &[&str] = &[
    "llama-3.1-8b",
    "--rate",
    "6",
    "--prompt",
    "2000",
    "--output",
    "500",
    "--ttft",
    "1",
    "--tpot",
    "0.05",
    "--gpu",
    "L40S,A100-SXM-80GB",
    "--gpus",
    "1..8:1",
    "--requests-per-replica",
    "200",
    "--disaggregated",
    "no",
];

fn plan(args: &[&str]) -> Value {
    common::json(&[&["plan", "serve"], args, &["--format", "json"]].concat())
}

/// `sizeup infer llama-3.1-8b` run with a plan row's flags under `key`, as JSON.
fn infer_row(row: &Value, key: &str) -> Value {
    infer_model_row("llama-3.1-8b", row, key)
}

/// `sizeup infer MODEL` with a row's flags under `key`.
fn infer_model_row(model: &str, row: &Value, key: &str) -> Value {
    let flags = strings(&row[key]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    common::json(&[&["infer", model], &flags[..], &["--format", "json"]].concat())
}

/// `sizeup infer MODEL` with a row's `infer_args`, asserted to give the row's
/// estimate and simulation to the bit; its output.
fn reproduced(model: &str, row: &Value) -> Value {
    let infer = infer_model_row(model, row, "infer_args");
    let flags = strings(&row["infer_args"]);
    assert_eq!(infer["estimate"], row["estimate"], "{flags:?}");
    for key in ["ttft", "tpot", "e2e", "steps", "requests_completed"] {
        assert_eq!(infer["simulation"][key], row["simulated"][key], "{key}");
    }
    infer
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

/// The plan's rows, run through `sizeup infer` with the flags the plan reports,
/// give the same steady-state estimate and the same simulation to the last bit
/// (JSON floats are written in shortest round-trip form: equal text, equal bits).
#[test]
fn issue_12_plan_serve_rows_match_infer_to_the_bit() {
    for users in [false, true] {
        let mut args: Vec<&str> = SMALL.to_vec();
        if users {
            let i = args.iter().position(|a| *a == "--rate").unwrap();
            args.splice(i..i + 2, ["--users", "40"]);
        }
        let v = plan(&[&args[..], &["--top", "2"]].concat());
        let rows = v["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 2);
        for row in rows {
            let infer = infer_row(row, "infer_args");
            assert_eq!(
                infer["estimate"], row["estimate"],
                "{:?}",
                row["infer_args"]
            );
            let s = &infer["simulation"];
            let r = &row["simulated"];
            for key in [
                "ttft",
                "tpot",
                "itl",
                "e2e",
                "state",
                "steps",
                "requests_completed",
            ] {
                assert_eq!(s[key], r[key], "{key}: {:?}", row["infer_args"]);
            }
            // the steady-state figures are the estimate's
            let e = &row["estimate"]["schedule"];
            assert_eq!(
                row["steady"]["ttft_seconds"],
                e["time_to_first_token_seconds"]
            );
            assert_eq!(
                row["steady"]["tpot_seconds"],
                e["time_per_output_token_seconds"]
            );
            assert!(row["simulated"]["meets"].as_bool().unwrap());
        }
    }
}

#[test]
fn the_search_says_what_it_evaluated_kept_and_how_fast() {
    let v = plan(SMALL);
    let p = &v["plan"];
    assert_eq!(p["tally"]["evaluated"], p["space"]["setups"]);
    // 2 accelerators × 3 formats (fp8 only on the L40S: the A100 has no FP8 path)
    // × 9 (tp, pp) of at most 8 GPUs (tp 1 and 2 with pp 1, 2, 4; tp 4 with pp 1, 2;
    // tp 8) × 2 KV precisions: 54 + 36 machines
    assert_eq!(p["space"]["machines"], 90);
    assert_eq!(p["space"]["formats_without_path"], 1);
    assert!(p["tally"]["kept"].as_u64().unwrap() > 0);
    assert!(p["confirmed"]["simulated"].as_u64().unwrap() >= 5);
    let costs: Vec<f64> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["steady"]["usd_per_hour"].as_f64().unwrap())
        .collect();
    assert_eq!(costs.len(), 5);
    assert!(costs.windows(2).all(|w| w[0] <= w[1]), "{costs:?}");
    // the Pareto front: no point dominated by another
    let pts: Vec<(f64, f64)> = v["pareto"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["output_tokens_per_sec_per_gpu"].as_f64().unwrap(),
                p["tokens_per_sec_per_user"].as_f64().unwrap(),
            )
        })
        .collect();
    assert!(!pts.is_empty());
    for a in &pts {
        assert!(!pts
            .iter()
            .any(|b| b.0 >= a.0 && b.1 >= a.1 && (b.0 > a.0 || b.1 > a.1)));
    }
}

#[test]
fn the_table_names_the_winner_the_reason_the_front_and_the_space() {
    sizeup()
        .args([&["plan", "serve"], SMALL].concat())
        .assert()
        .success()
        .stdout(predicate::str::contains("p95 TTFT ≤ 1.00 s"))
        .stdout(predicate::str::contains("why #1:"))
        .stdout(predicate::str::contains(
            "reproduce #1: sizeup infer llama-3.1-8b",
        ))
        .stdout(predicate::str::contains("Pareto front"))
        .stdout(predicate::str::contains("evaluated per second"))
        .stdout(predicate::str::contains("serving = aggregated"));
}

#[test]
fn an_unreachable_target_names_the_nearest_miss_and_what_would_meet_it() {
    let mut args = SMALL.to_vec();
    let i = args.iter().position(|a| *a == "--ttft").unwrap();
    args[i + 1] = "0.001";
    let i = args.iter().position(|a| *a == "--rate").unwrap();
    args[i + 1] = "1";
    let i = args.iter().position(|a| *a == "--gpus").unwrap();
    args[i + 1] = "8";
    sizeup()
        .args([&["plan", "serve"], &args[..]].concat())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nothing meets the targets"))
        .stderr(predicate::str::contains("nearest miss"))
        .stderr(predicate::str::contains("TTFT"))
        .stderr(predicate::str::contains("would accept it"));
}

#[test]
fn a_load_beyond_the_gpus_allowed_says_how_many_replicas_would_carry_it() {
    let mut args = SMALL.to_vec();
    let i = args.iter().position(|a| *a == "--gpus").unwrap();
    args[i + 1] = "1";
    let i = args.iter().position(|a| *a == "--rate").unwrap();
    args[i + 1] = "100";
    sizeup()
        .args([&["plan", "serve"], &args[..]].concat())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("over capacity"))
        .stderr(predicate::str::contains("replicas"))
        .stderr(predicate::str::contains("--gpus"));
}

#[test]
fn contradictory_and_bad_flags_are_refused_with_the_flag_named() {
    let base = [
        "plan",
        "serve",
        "llama-3.1-8b",
        "--prompt",
        "2000",
        "--output",
        "500",
    ];
    for (args, needle) in [
        (
            &[
                "--rate", "2", "--users", "8", "--ttft", "1", "--tpot", "0.05",
            ][..],
            "--users",
        ),
        (&["--ttft", "1", "--tpot", "0.05"][..], "--rate"),
        (&["--rate", "2", "--tpot", "0.05"][..], "--ttft"),
        (
            &[
                "--rate",
                "2",
                "--ttft",
                "1",
                "--tpot",
                "0.05",
                "--context",
                "100",
            ][..],
            "context",
        ),
        (
            &[
                "--rate",
                "2",
                "--ttft",
                "1",
                "--tpot",
                "0.05",
                "--percentile",
                "97",
            ][..],
            "percentile",
        ),
        (
            &["--rate", "0", "--ttft", "1", "--tpot", "0.05"][..],
            "--rate",
        ),
        (
            &["--rate", "2", "--ttft", "1", "--tpot", "0.05", "--tp", "3"][..],
            "no setup to search",
        ),
        (
            &[
                "--rate", "2", "--ttft", "1", "--tpot", "0.05", "--gpu", "M2-Ultra",
            ][..],
            "price",
        ),
        (
            &[
                "--rate", "2", "--ttft", "1", "--tpot", "0.05", "--gpu", "H100-SMX",
            ][..],
            "H100",
        ),
        (
            &["--rate", "2", "--ttft", "1", "--tpot", "0.05", "--top", "0"][..],
            "--top",
        ),
    ] {
        sizeup()
            .args([&base[..], args].concat())
            .assert()
            .code(2)
            .stderr(predicate::str::contains(needle));
    }
}

#[test]
fn a_space_too_large_for_a_minute_is_refused_before_the_search() {
    sizeup()
        .args([
            "plan",
            "serve",
            "llama-3.1-8b",
            "--rate",
            "2",
            "--prompt",
            "2000",
            "--output",
            "500",
            "--ttft",
            "1",
            "--tpot",
            "0.05",
            // 1,024 GPU counts (the most a plan takes) × 8 caps × 8 step budgets
            // on 17 accelerators, with their prefill/decode splits
            "--gpus",
            "1..1024:1",
            "--max-num-seqs",
            "8,16,32,64,128,256,512,1024",
            "--max-batched-tokens",
            "512,1024,2048,4096,8192,16384,32768,65536",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("setups"))
        .stderr(predicate::str::contains("--allow-long"));
}

#[test]
fn a_setup_only_the_simulation_refuses_is_named_with_its_percentile() {
    // one H100 carries 3 req/s with a 45 ms prefill at steady state; Poisson
    // arrivals queue prompts behind each other past a 60 ms p95
    sizeup()
        .args([
            "plan",
            "serve",
            "llama-3.1-8b",
            "--rate",
            "3",
            "--prompt",
            "2000",
            "--output",
            "500",
            "--ttft",
            "0.06",
            "--tpot",
            "0.05",
            "--gpu",
            "H100-SXM",
            "--gpus",
            "1",
            "--tp",
            "1",
            "--weights",
            "bf16",
            "--kv-dtype",
            "bf16",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("kept at steady state"))
        .stderr(predicate::str::contains(
            "in simulation at 3.00 req/s: p95 TTFT",
        ))
        .stderr(predicate::str::contains("would accept it"));
}

/// `plan serve` flags for Llama-3.1-8B with 8,000-token prompts and 50-token
/// outputs on H100s in fp8 (weights and KV), TTFT ≤ 3 s, the best row only, then `load`.
fn prompt_heavy(load: &[&'static str]) -> Vec<&'static str> {
    let base = [
        "llama-3.1-8b",
        "--prompt",
        "8000",
        "--output",
        "50",
        "--ttft",
        "3",
        "--gpu",
        "H100-SXM",
        "--weights",
        "fp8",
        "--kv-dtype",
        "fp8",
        "--top",
        "1",
    ];
    [&base[..], load].concat()
}

/// A disaggregated row: its decode replicas' flags give its estimate, its
/// prefill replicas' flags give its prefill, and the output says how its two
/// pools were simulated.
#[test]
fn issue_12_a_disaggregated_row_reproduces_its_pools_and_is_simulated() {
    // prompt-heavy: 8,000-token prompts, 50-token outputs, TPOT ≤ 10 ms at 8 req/s
    let args = prompt_heavy(&["--rate", "8", "--tpot", "0.01", "--gpus", "1..8:1"]);
    let v = plan(&args);
    let row = &v["rows"][0];
    assert_eq!(row["candidate"]["prefill"]["replicas"], 2);
    assert_eq!(row["candidate"]["prefill"]["tp"], 1);
    assert_eq!(row["candidate"]["replicas"], 1);
    // both pools simulated: the row meets its targets under the load
    assert_eq!(row["simulated"]["meets"], true);
    assert!(row["headroom"]["meets"].as_f64().unwrap() >= 8.0);
    let run = |key: &str| infer_row(row, key);
    let decode = run("infer_args");
    assert_eq!(decode["estimate"], row["estimate"]);
    // the row's TPOT is a decode step with no prefill chunk in it: infer's decode
    // pass at the decode replica's requests in flight
    assert_eq!(
        decode["estimate"]["decode"]["seconds"],
        row["steady"]["tpot_seconds"]
    );
    let split = &row["steady"]["split"];
    let prefill = run("prefill_infer_args");
    assert_eq!(
        prefill["estimate"]["prefill"]["seconds"],
        split["prefill_seconds"]
    );
    // the two runs are the row's simulation: TPOT the decode pool's, TTFT the
    // prefill pool's plus the KV transfer
    assert_eq!(decode["simulation"]["tpot"], row["simulated"]["tpot"]);
    assert_eq!(decode["simulation"]["itl"], row["simulated"]["itl"]);
    let p95 = |v: &serde_json::Value| v["p95"].as_f64().unwrap();
    assert_eq!(
        p95(&row["simulated"]["ttft"]),
        p95(&prefill["simulation"]["ttft"]) + split["transfer_seconds"].as_f64().unwrap()
    );
    // 3 GPUs in one node: the KV cache crosses NVLink
    assert_eq!(split["transfer_in_node"], true);
    sizeup()
        .args([&["plan", "serve"], &args[..]].concat())
        .assert()
        .success()
        .stdout(predicate::str::contains("2P(tp1)+1D(tp1)"))
        .stdout(predicate::str::contains(
            "the prefill pool's TTFT plus the transfer",
        ))
        .stdout(predicate::str::contains(
            "disaggregated simulation = the pools run apart",
        ))
        .stdout(predicate::str::contains("reproduce #1's prefill replicas"));
}

/// `--chart` draws the Pareto front the JSON reports, one marker per point, and
/// rings each row of the plan, the first choice labelled and in the legend.
#[test]
fn issue_12_plan_serve_chart_draws_the_front_and_rings_the_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.svg");
    let path_text = path.to_str().unwrap();
    let v = plan(&[SMALL, &["--top", "3", "--chart", path_text]].concat());
    let svg = std::fs::read_to_string(&path).unwrap();
    let pareto = v["pareto"].as_array().unwrap().len();
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    // a ring is a 9-pixel circle around a 5-pixel dot; a line's marker is a
    // 5-pixel dot; the legend draws one key per series (two rings, one line)
    let circles = |r: &str| svg.matches(&format!("r=\"{r}\"")).count();
    assert_eq!(circles("9"), rows.len() + 2);
    assert_eq!(circles("5"), pareto + rows.len() + 3);
    let texts = svg_texts(&svg);
    let first = &rows[0];
    let first_label = format!(
        "#1 {}×{}",
        first["steady"]["gpus"].as_u64().unwrap(),
        first["accelerator"].as_str().unwrap()
    );
    for expected in [
        first_label.as_str(),
        "first choice (#1)",
        "other rows of the plan",
        "Pareto front (steady state)",
        "Output throughput per GPU (tokens/s)",
        "llama-3.1-8b at 6.00 req/s: throughput per GPU against speed per user",
    ] {
        assert!(
            texts.iter().any(|t| t == expected),
            "{expected} not in {texts:?}"
        );
    }
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("Output speed per user (tokens/s")),
        "{texts:?}"
    );
    // every label drawn names a point: a row's rank or a front point's GPUs
    let point_labels = texts.iter().filter(|t| t.contains('×')).count();
    assert!(point_labels >= 2, "{texts:?}");
}

/// Under a user count, each client of a disaggregated setup waits through the
/// prefill side before its request reaches a decode replica: the decode pool's
/// run carries that lead (`--request-overhead-ms`), so its closed loop completes
/// about as many requests as the clients' full cycles allow, and both pools'
/// runs reproduce the row through `sizeup infer`.
#[test]
fn issue_12_a_disaggregated_row_under_users_waits_for_its_prefill_side() {
    let v = plan(&prompt_heavy(&[
        "--users",
        "8",
        "--tpot",
        "0.02",
        "--gpus",
        "1..16:1",
        "--disaggregated",
        "yes",
    ]));
    let row = &v["rows"][0];
    let run = |key: &str| infer_row(row, key);
    let decode = run("infer_args");
    let prefill = run("prefill_infer_args");
    assert_eq!(decode["simulation"]["tpot"], row["simulated"]["tpot"]);
    let split = &row["steady"]["split"];
    let lead = split["queue_seconds"].as_f64().unwrap()
        + split["prefill_seconds"].as_f64().unwrap()
        + split["transfer_seconds"].as_f64().unwrap();
    let flags = strings(&row["infer_args"]);
    let at = flags
        .iter()
        .position(|f| f == "--request-overhead-ms")
        .expect("the lead is a flag");
    assert_eq!(flags[at + 1].parse::<f64>().unwrap(), lead * 1e3);
    // 8 clients, each cycle at least the lead and 50 tokens of decode: fewer
    // requests per second than 8 / lead
    let rps = row["simulated"]["requests_per_sec"].as_f64().unwrap();
    assert!(rps < 8.0 / lead, "{rps} req/s against a {lead} s lead");
    let p95 = |v: &Value| v["p95"].as_f64().unwrap();
    assert_eq!(
        p95(&row["simulated"]["ttft"]),
        p95(&prefill["simulation"]["ttft"]) + split["transfer_seconds"].as_f64().unwrap()
    );
}

/// A pipelined row (`--pp`): its flags carry the stages, and `sizeup infer` with
/// them gives the row's estimate and simulation to the bit, under a rate and
/// under a user count (users rounded to the batches in flight).
#[test]
fn issue_12_a_pipelined_row_matches_infer_to_the_bit() {
    for load in [["--rate", "6"], ["--users", "9"]] {
        let mut args: Vec<&str> = SMALL.to_vec();
        let i = args.iter().position(|a| *a == "--rate").unwrap();
        args.splice(i..i + 2, load);
        let i = args.iter().position(|a| *a == "--gpus").unwrap();
        args.splice(i..i + 2, ["--gpus", "2,4", "--tp", "1", "--pp", "2"]);
        let v = plan(&[&args[..], &["--top", "1"]].concat());
        let row = &v["rows"][0];
        assert_eq!(row["candidate"]["pp"], 2, "{row}");
        let flags = strings(&row["infer_args"]);
        assert!(flags.windows(2).any(|w| w == ["--pp", "2"]), "{flags:?}");
        let infer = reproduced("llama-3.1-8b", row);
        assert_eq!(infer["simulation"]["batches_in_flight"], 2);
    }
}

/// Llama-3.1-405B in bf16 (810 GB of weights) does not fit one node of eight
/// H100s: the plan serves it over two, a pipeline of two tp-8 stages.
#[test]
fn issue_12_a_model_beyond_one_node_is_planned_across_stages() {
    let v = plan(&[
        "llama-3.1-405b",
        "--gpu",
        "H100-SXM",
        "--weights",
        "bf16",
        "--kv-dtype",
        "fp8",
        "--users",
        "8",
        "--prompt",
        "1000",
        "--output",
        "100",
        "--ttft",
        "5",
        "--tpot",
        "0.2",
        "--gpus",
        "8,16",
        "--tp",
        "8",
        "--pp",
        "1,2",
        "--max-num-seqs",
        "64",
        "--max-batched-tokens",
        "2048",
        "--requests-per-replica",
        "40",
        "--disaggregated",
        "no",
    ]);
    let row = &v["rows"][0];
    let c = &row["candidate"];
    assert_eq!(
        (c["tp"].as_u64(), c["pp"].as_u64()),
        (Some(8), Some(2)),
        "{row}"
    );
    assert_eq!(row["steady"]["gpus"], 16);
    // three setups: tp 8 on 8 GPUs and twice on 16 have no room for one request
    let t = &v["plan"]["tally"];
    assert_eq!(
        (
            t["evaluated"].as_u64(),
            t["no_room"].as_u64(),
            t["kept"].as_u64()
        ),
        (Some(3), Some(2), Some(1)),
        "{t}"
    );
}

/// `plan serve` of Mixtral-8x7B in bf16 on H100s at 4 req/s (2,000-token prompts,
/// 500-token outputs, p95 TTFT ≤ 1 s, TPOT ≤ 50 ms), experts held whole,
/// aggregated, 100 requests a replica, with `extra` flags.
fn mixtral_experts_held_whole(extra: &[&str]) -> Value {
    let base = [
        "mixtral-8x7b-v0.1",
        "--rate",
        "4",
        "--prompt",
        "2000",
        "--output",
        "500",
        "--ttft",
        "1",
        "--tpot",
        "0.05",
        "--gpu",
        "H100-SXM",
        "--weights",
        "bf16",
        "--expert-parallel",
        "yes",
        "--requests-per-replica",
        "100",
        "--disaggregated",
        "no",
    ];
    plan(&[&base[..], extra].concat())
}

/// An expert-parallel row (`--ep` = `--tp`): its flags carry the groups, and
/// `sizeup infer` with them gives the row's estimate and simulation to the bit.
#[test]
fn issue_12_an_expert_parallel_row_matches_infer_to_the_bit() {
    let v = mixtral_experts_held_whole(&["--gpus", "2,4", "--tp", "2,4", "--top", "1"]);
    let row = &v["rows"][0];
    let c = &row["candidate"];
    assert_eq!(c["ep"], c["tp"], "{row}");
    let flags = strings(&row["infer_args"]);
    let ep = format!("{}", c["ep"]);
    assert!(
        flags.windows(2).any(|w| w[0] == "--ep" && w[1] == ep),
        "{flags:?}"
    );
    reproduced("mixtral-8x7b-v0.1", row);
    assert!(v["request"]["space"]["expert_parallel"] == serde_json::json!([true]));
}

/// Under SGLang, whose `--ep-size` may be any divisor of the ranks, the plan
/// searches every expert group size: on 4 ranks of Mixtral's 8 experts, 2 and 4;
/// the ep 2 row (two groups of two ranks, each holding 4 whole experts split over
/// its 2 ranks) reproduces under `sizeup infer` to the bit.
#[test]
fn issue_12_expert_groups_of_several_ranks_are_searched_where_the_engine_allows() {
    let v = mixtral_experts_held_whole(&[
        "--gpus", "4", "--tp", "4", "--engine", "sglang", "--top", "4",
    ]);
    let rows = v["rows"].as_array().unwrap();
    let mut eps: Vec<u64> = rows
        .iter()
        .map(|r| r["candidate"]["ep"].as_u64().unwrap())
        .collect();
    eps.sort_unstable();
    eps.dedup();
    assert_eq!(eps, [2, 4]);
    // 2 group sizes × 2 KV formats make the 4 machines; × 2 sequence caps × 2 step budgets
    assert_eq!(v["plan"]["space"]["machines"], 4);
    assert_eq!(v["plan"]["space"]["setups"], 16);
    let row = rows.iter().find(|r| r["candidate"]["ep"] == 2).unwrap();
    let flags = strings(&row["infer_args"]);
    assert!(
        flags.windows(2).any(|w| w[0] == "--ep" && w[1] == "2"),
        "{flags:?}"
    );
    reproduced("mixtral-8x7b-v0.1", row);
}

/// A row of data-parallel attention groups (`--attention-dp`): its flags carry
/// the groups, and `sizeup infer` with them gives the row's estimate and
/// simulation to the bit, under a rate and under a user count, for vLLM's
/// groups and SGLang's (which share the LM head).
#[test]
fn issue_12_an_attention_group_row_matches_infer_to_the_bit() {
    for (engine, load) in [
        ("vllm", ["--rate", "3"]),
        ("vllm", ["--users", "24"]),
        ("sglang", ["--rate", "3"]),
    ] {
        let v = plan(
            &[
                &[
                    "mixtral-8x7b-v0.1",
                    "--prompt",
                    "2000",
                    "--output",
                    "500",
                    "--ttft",
                    "1",
                    "--tpot",
                    "0.05",
                    "--gpu",
                    "H100-SXM",
                    "--gpus",
                    "2",
                    "--tp",
                    "1",
                    "--attention-dp",
                    "2",
                    "--weights",
                    "fp8",
                    "--requests-per-replica",
                    "60",
                    "--disaggregated",
                    "no",
                    "--top",
                    "1",
                    "--engine",
                    engine,
                ][..],
                &load[..],
            ]
            .concat(),
        );
        let row = &v["rows"][0];
        assert_eq!(row["candidate"]["attention_dp"], 2, "{row}");
        let flags = strings(&row["infer_args"]);
        assert!(
            flags.windows(2).any(|w| w == ["--attention-dp", "2"]),
            "{flags:?}"
        );
        let infer = reproduced("mixtral-8x7b-v0.1", row);
        assert_eq!(infer["simulation"]["attention_dp"], 2);
    }
}

/// A llama.cpp row: its flags run instances of `--tp` GPUs (`--gpus` over `--tp`
/// of them), and `sizeup infer` with them gives the row's estimate and
/// simulation to the bit.
#[test]
fn a_llama_cpp_row_matches_infer_to_the_bit() {
    let v = plan(&[
        "llama-3.1-8b",
        "--engine",
        "llama.cpp",
        "--rate",
        "1",
        "--prompt",
        "500",
        "--output",
        "200",
        "--ttft",
        "3",
        "--tpot",
        "0.2",
        "--gpu",
        "RTX-4090",
        "--gpus",
        "2",
        "--tp",
        "1",
        "--weights",
        "Q4_K_M",
        "--requests-per-replica",
        "40",
        "--disaggregated",
        "no",
        "--top",
        "1",
    ]);
    let row = &v["rows"][0];
    assert_eq!(row["candidate"]["replicas"], 2, "{row}");
    reproduced("llama-3.1-8b", row);
}
