//! End-to-end tests of the `sizeup` binary: outputs, formats and exit codes.

use predicates::prelude::*;

mod common;
use common::{shared, sizeup};

/// The lesson's expected output, as its script prints it.
const LESSON_OUTPUT: &str = "\
------------------------------------------------------------
model : small
rough params: 1.31B
kv cache : 768.00 MB
------------------------------------------------------------
model : large
rough params: 9.87B
kv cache : 1.50 GB
";

#[test]
fn rough_reproduces_the_lesson_byte_for_byte() {
    sizeup()
        .arg("rough")
        .assert()
        .success()
        .stdout(LESSON_OUTPUT);
}

#[test]
fn lesson_text_holds_the_same_output() {
    // The lesson page lost its line breaks when it was saved; compare without them.
    let lesson = std::fs::read_to_string(shared("reference/model-scale-lesson.txt")).unwrap();
    assert!(lesson.contains(&LESSON_OUTPUT.replace('\n', "")));
}

#[test]
fn rough_exercise_4096_to_16384_quadruples_the_cache() {
    // the lesson's first exercise: small model, 4096 → 16384 tokens: 768 MiB → 3 GiB
    sizeup()
        .args([
            "rough",
            "--only",
            "small",
            "--seq-len",
            "4096,16384",
            "--format",
            "csv",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "small,24,2048,4,50000,16,128,4096,1,2,1310556160,805306368",
        ))
        .stdout(predicate::str::contains(
            "small,24,2048,4,50000,16,128,16384,1,2,1310556160,3221225472",
        ));
}

#[test]
fn rough_json_has_exact_values() {
    let out = sizeup()
        .args(["rough", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["rows"][0]["estimate"]["params"], 1_310_556_160u64);
    assert_eq!(v["rows"][1]["estimate"]["kv_cache_bytes"], 1_610_612_736u64);
}

#[test]
fn rough_zero_is_a_usage_error() {
    sizeup()
        .args(["rough", "--hidden", "0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid value '0' for '--hidden': 0 is out of range: a model dimension from 1 to 16777216"))
        .stderr(predicate::str::contains("panicked").not());
}

/// `--si` reaches the byte counts written inside notes and text cells, not only
/// the typed byte columns (issue 13: it was dropped in ten places).
#[test]
fn issue_13_si_reaches_every_byte_count() {
    let json = |args: &[&str]| -> serde_json::Value {
        let out = sizeup()
            .args(args)
            .args(["--format", "json"])
            .output()
            .expect("runs");
        serde_json::from_slice(&out.stdout).expect("JSON")
    };
    let text = |args: &[&str]| -> String {
        let out = sizeup().args(args).output().expect("runs");
        String::from_utf8(out.stdout).expect("UTF-8")
    };
    let si = |b: u64| format!("{:.2} GB", b as f64 / 1e9);
    let binary = |b: u64| format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64);

    let infer = ["infer", "llama-3.1-70b", "--gpu", "L4"];
    let short = json(&infer)["estimate"]["memory"]["shortfall_bytes"]
        .as_u64()
        .expect("a shortfall");
    let note = |units: String| format!("does not fit: {units} short per GPU");
    assert!(text(&[&infer[..], &["--si"]].concat()).contains(&note(si(short))));
    assert!(text(&infer).contains(&note(binary(short))));

    let train = ["train", "llama-3.1-8b"];
    let m = json(&train)["estimate"]["memory"].clone();
    let (total, capacity) = (
        m["total_bytes"].as_u64().expect("total"),
        m["capacity_bytes"].as_u64().expect("capacity"),
    );
    let note = |t: String, c: String| format!("does not fit: {t} per GPU against {c}");
    assert!(text(&[&train[..], &["--si"]].concat()).contains(&note(si(total), si(capacity))));
    assert!(text(&train).contains(&note(binary(total), binary(capacity))));

    let card = ["card", "llama-3.1-8b", "--workload", "train"];
    let t = json(&card)["card"]["training"].clone();
    let weights = t["weights_bytes_per_gpu"].as_u64().expect("weights");
    assert!(text(&[&card[..], &["--si"]].concat()).contains(&format!("weights {} +", si(weights))));
    assert!(text(&card).contains(&format!("weights {} +", binary(weights))));
}
