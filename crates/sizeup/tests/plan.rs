//! End-to-end tests of `sizeup plan train`: agreement with `sizeup train`, the
//! search's accounting, and each class of bad input.

use predicates::prelude::*;
use serde_json::Value;

mod common;
use common::sizeup;

fn plan(args: &[&str]) -> Value {
    common::json(&[&["plan", "train"], args, &["--format", "json"]].concat())
}

/// The plan's winner, run through `sizeup train` with the flags the plan
/// reports, gives the same estimate to the last bit (JSON floats are written
/// in shortest round-trip form, so equal text is equal bits).
#[test]
fn issue_plan_agreement_winner_matches_train_to_the_bit() {
    for extra in [
        &[][..],
        &["--by", "cost", "--gpu", "A100-SXM-80GB,H100-SXM"][..],
    ] {
        let v = plan(
            &[
                &[
                    "llama-3.1-8b",
                    "--gpus",
                    "8,16",
                    "--seq-len",
                    "4k",
                    "--global-batch",
                    "64",
                    "--tokens",
                    "1T",
                ][..],
                extra,
            ]
            .concat(),
        );
        let rows = v["rows"].as_array().unwrap();
        assert!(!rows.is_empty());
        for row in rows.iter().take(2) {
            let args: Vec<String> = row["train_args"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let train = common::json(
                &[&["train", "llama-3.1-8b"], &args[..], &["--format", "json"]].concat(),
            );
            assert_eq!(
                train["estimate"],
                row["estimate"],
                "train {}",
                args.join(" ")
            );
        }
    }
}

#[test]
fn the_search_says_what_it_evaluated_kept_and_how_fast() {
    let v = plan(&[
        "llama-3.1-8b",
        "--gpus",
        "8",
        "--global-batch",
        "32",
        "--top",
        "3",
    ]);
    let t = &v["plan"]["tally"];
    assert_eq!(t["evaluated"], v["plan"]["space"]["candidates"]);
    assert!(t["kept"].as_u64().unwrap() >= 3);
    assert_eq!(v["rows"].as_array().unwrap().len(), 3);
    let times: Vec<f64> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["estimate"]["time"]["total_seconds"].as_f64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn the_table_names_the_winner_the_reason_and_the_space() {
    sizeup()
        .args([
            "plan",
            "train",
            "llama-3.1-8b",
            "--gpus",
            "8",
            "--global-batch",
            "32",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("why #1:"))
        .stdout(predicate::str::contains("reproduce #1: sizeup train"))
        .stdout(predicate::str::contains("evaluated per second"))
        .stdout(predicate::str::contains("not searched"));
}

#[test]
fn nothing_fits_names_the_nearest_miss_and_a_fix() {
    sizeup()
        .args([
            "plan",
            "train",
            "llama-3.1-70b",
            "--gpus",
            "1",
            "--global-batch",
            "8",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nothing fits"))
        .stderr(predicate::str::contains("nearest miss"))
        .stderr(predicate::str::contains("hint:"));
}

#[test]
fn no_layout_divides_says_why() {
    // tp = pp = cp = 1 on 8 GPUs leaves dp = 8, which does not divide B = 7
    sizeup()
        .args([
            "plan",
            "train",
            "llama-3.1-8b",
            "--gpus",
            "8",
            "--global-batch",
            "7",
            "--tp",
            "1",
            "--pp",
            "1",
            "--cp",
            "1",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("does not divide the global batch"));
}

#[test]
fn bad_flags_are_refused_with_the_flag_named() {
    for (args, needle) in [
        (&["--gpus", "0"][..], "--gpus"),
        (&["--gpus", "8", "--top", "0"][..], "--top"),
        (&["--gpus", "8..4"][..], "--gpus"),
        (&["--gpus", "8", "--gpu", "H100-SMX"][..], "H100"),
        (&["--gpus", "8", "--recompute", "most"][..], "recompute"),
        (&["--gpus", "8", "--zero", "4"][..], "--zero"),
    ] {
        sizeup()
            .args(
                [
                    &["plan", "train", "llama-3.1-8b", "--global-batch", "32"][..],
                    args,
                ]
                .concat(),
            )
            .assert()
            .code(2)
            .stderr(predicate::str::contains(needle));
    }
}
