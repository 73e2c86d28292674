//! Every command through its real argument parser with arbitrary flag values.
//!
//! The flags come from the clap tree itself (so a flag added later is fuzzed too);
//! values come from a pool of edge cases (zero, one, powers of two near the limits of
//! u32 and u64, negative, NaN, infinities, denormals, garbage) mixed with arbitrary
//! strings. Each generated command line must either be refused by the parser or
//! give `Ok`/`Err` from [`crate::run`]: never a panic, and an `Ok` report must carry
//! no NaN, infinite or negative figure (in its JSON, and NaN or `inf` in its table).
//!
//! `cargo test -p sizeup cli_fuzz` runs a fixed number of cases;
//! `SIZEUP_FUZZ_SECONDS=20 cargo test --release -p sizeup cli_fuzz_for_a_while -- --ignored`
//! keeps generating for that long (CI runs it).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use clap::{ArgAction, CommandFactory, Parser};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::Value;

use crate::cli::Cli;
use crate::commands::sweep::axes::{SERVE_AXES, TRAIN_AXES};

/// Models of every kind of layer the estimates walk: dense, GQA, MoE, MLA with MTP,
/// sliding windows, hybrid linear attention, per-layer head sizes, chunked attention.
const MODELS: &[&str] = &[
    "llama-3.1-8b",
    "qwen3-30b-a3b",
    "deepseek-v3",
    "gemma-2-9b-it",
    "gpt-oss-20b",
    "qwen3-next-80b-a3b",
    "gemma-4-31b",
    "llama-4-scout-17b-16e",
    "gpt2",
    "lesson-small",
];

/// Values that find the edges of a number: zero, one, the limits of u32 and u64,
/// signs, non-finite floats, denormals, suffixes, garbage.
const EDGES: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "7",
    "8",
    "64",
    "1024",
    "4096",
    "32k",
    "1m",
    "65536",
    "1048576",
    "16777216",
    "1073741824",
    "1000000",
    "0.001",
    "0.999",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "-1",
    "0.5",
    "1.5",
    "1e-320",
    "1e308",
    "NaN",
    "inf",
    "-inf",
    "15.6T",
    "1e30",
    "",
    "x",
];

/// Values for sweep axes: mostly in range, so that points are estimated.
const AXIS_VALUES: &[&str] = &[
    "1",
    "2",
    "8",
    "64",
    "1024",
    "32k",
    "1m",
    "0.5",
    "0.001",
    "1073741824",
    "1048576",
    "16777216",
    "0",
];

/// Flags left out: files and paths (the file tests cover them), and the consents to
/// long runs, `--max-work` for a sweep, `--max-steps` for a serving simulation and
/// `--allow-long` for a plan (each runs here under a small budget).
const SKIPPED_FLAGS: &[&str] = &[
    "gpu-file",
    "cases",
    "chart",
    "lengths",
    "max-work",
    "max-steps",
    "allow-long",
];

/// The flags `plan train` requires, at values whose search takes milliseconds.
const FUZZ_PLAN: &[&str] = &["--gpus=8", "--global-batch=64"];

/// The flags `plan serve` requires, on a space whose search and simulations take
/// milliseconds (the fuzzed flags come after and may widen it; the step budget
/// below bounds each simulation).
const FUZZ_PLAN_SERVE: &[&str] = &[
    "--rate=4",
    "--prompt=512",
    "--output=64",
    "--ttft=1",
    "--tpot=0.05",
    "--gpu=L4",
    "--gpus=1,2",
    "--tp=1",
    "--requests-per-replica=40",
];

/// The step budget of a fuzzed serving simulation: small, so each case is quick.
const FUZZ_SIM_STEPS: &str = "--max-steps=20000";

/// The work budget of a fuzzed sweep (layer-points): small, so each case is quick.
const FUZZ_SWEEP_WORK: &str = "--max-work=20000";

/// One command line: a subcommand, a model where it takes one, and some flags.
#[derive(Debug, Clone)]
struct Line(Vec<String>);

fn lines() -> impl Strategy<Value = Line> {
    let cli = Cli::command();
    type Flag = (String, bool, Vec<String>);
    // every runnable command, nested ones (`plan train`) by their words
    let leaves: Vec<(String, &clap::Command)> = cli
        .get_subcommands()
        .flat_map(|sub| {
            let name = sub.get_name().to_string();
            if sub.has_subcommands() {
                sub.get_subcommands()
                    .filter(|s| s.get_name() != "help")
                    .map(|s| (format!("{name} {}", s.get_name()), s))
                    .collect::<Vec<_>>()
            } else {
                vec![(name, sub)]
            }
        })
        .collect();
    let subs: Vec<(String, bool, Vec<Flag>)> = leaves
        .into_iter()
        .map(|(name, sub)| {
            let takes_model = sub.get_positionals().any(|a| a.get_id() == "model");
            let flags = sub
                .get_arguments()
                .filter_map(|a| {
                    let long = a.get_long()?.to_string();
                    if SKIPPED_FLAGS.contains(&long.as_str()) || long == "help" {
                        return None;
                    }
                    let takes_value = !matches!(
                        a.get_action(),
                        ArgAction::SetTrue | ArgAction::SetFalse | ArgAction::Count
                    );
                    // a value the flag accepts: its choices, else its default
                    let mut choices: Vec<String> = a
                        .get_possible_values()
                        .iter()
                        .map(|v| v.get_name().to_string())
                        .collect();
                    if choices.is_empty() {
                        choices = a
                            .get_default_values()
                            .iter()
                            .map(|v| v.to_string_lossy().into_owned())
                            .collect();
                    }
                    Some((long, takes_value, choices))
                })
                .collect();
            (name, takes_model, flags)
        })
        // `serve` listens until stopped: it is tested by its own suite
        .filter(|(name, _, _)| !["help", "validate", "serve"].contains(&name.as_str()))
        .collect();
    (0..subs.len(), 0..MODELS.len())
        .prop_flat_map(move |(s, m)| {
            let (name, takes_model, flags) = subs[s].clone();
            let n = flags.len().max(1);
            let picks = prop::collection::vec((0..n, value(), prop::bool::weighted(0.6)), 0..5);
            (
                Just(name),
                Just(takes_model),
                Just(flags),
                Just(m),
                picks,
                axis(),
            )
        })
        .prop_map(|(name, takes_model, flags, m, picks, axis)| {
            let mut argv = vec!["sizeup".to_string()];
            argv.extend(name.split(' ').map(str::to_string));
            // the flags a plan requires, so that its other flags are reached
            if name == "plan train" {
                argv.extend(FUZZ_PLAN.iter().map(|f| f.to_string()));
            }
            if name == "plan serve" {
                argv.extend(FUZZ_PLAN_SERVE.iter().map(|f| f.to_string()));
            }
            if takes_model {
                argv.push(MODELS[m].to_string());
            }
            if argv[1] == "sweep" {
                argv.push(format!("--vary={axis}"));
                argv.push(FUZZ_SWEEP_WORK.to_string());
            }
            for (i, v, valid) in picks {
                let Some((long, takes_value, choices)) = flags.get(i) else {
                    continue;
                };
                if *takes_value {
                    // half the time a value the flag accepts, so that the other
                    // flags' edges reach the estimates
                    let v = if choices.is_empty() || !valid {
                        v
                    } else {
                        choices[v.len() % choices.len()].clone()
                    };
                    // `--flag=value`, so that `-1` reaches the flag's parser
                    argv.push(format!("--{long}={v}"));
                } else {
                    argv.push(format!("--{long}"));
                }
            }
            if argv
                .iter()
                .any(|a| a.starts_with("--rate") || a.starts_with("--closed-loop"))
            {
                argv.push(FUZZ_SIM_STEPS.to_string());
            }
            Line(argv)
        })
}

/// An edge value, a range or list for sweep axes, or an arbitrary short string.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(EDGES).prop_map(str::to_string),
        2 => (prop::sample::select(EDGES), prop::sample::select(EDGES))
            .prop_map(|(a, b)| format!("{a}..{b}")),
        2 => axis(),
        1 => "[ -~]{0,12}",
    ]
}

/// A sweep axis of either mode over edge values (the door refuses what is out of range).
fn axis() -> impl Strategy<Value = String> {
    let names: Vec<&'static str> = SERVE_AXES
        .iter()
        .chain(TRAIN_AXES)
        .map(|d| d.name)
        .collect();
    (
        prop::sample::select(names),
        prop::sample::select(AXIS_VALUES),
        prop::sample::select(AXIS_VALUES),
    )
        .prop_map(|(axis, a, b)| format!("{axis}={a}..{b}"))
}

/// Run one line; `Err` with the reason if it panicked or printed an absurd figure.
fn check(line: &Line) -> Result<(), TestCaseError> {
    let mut argv = line.0.clone();
    argv.extend(["--format".to_string(), "json".to_string()]);
    let Ok(cli) = Cli::try_parse_from(&argv) else {
        return Ok(());
    };
    let out = catch_unwind(AssertUnwindSafe(|| crate::run(cli)))
        .map_err(|_| TestCaseError::fail(format!("panicked: {}", argv.join(" "))))?;
    let Ok(text) = out else {
        return Ok(());
    };
    let json: Value = serde_json::from_str(&text)
        .map_err(|e| TestCaseError::fail(format!("not JSON ({e}): {}", argv.join(" "))))?;
    if let Some(path) = absurd(&json, "") {
        return Err(TestCaseError::fail(format!(
            "absurd figure at {path}: {}",
            argv.join(" ")
        )));
    }
    // JSON writes NaN and infinities as null: the table shows them
    let mut argv = line.0.clone();
    argv.extend(["--format".to_string(), "table".to_string()]);
    let table = Cli::try_parse_from(&argv)
        .ok()
        .and_then(|cli| crate::run(cli).ok())
        .unwrap_or_default();
    if table
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| w == "NaN" || w == "inf")
    {
        return Err(TestCaseError::fail(format!(
            "NaN or inf printed: {}",
            argv.join(" ")
        )));
    }
    Ok(())
}

/// Keys whose values are signed by nature (a shortfall is a negative headroom).
const SIGNED: &[&str] = &["headroom", "margin", "delta", "change", "error"];

/// The path of the first NaN, infinite or (outside signed fields) negative number.
fn absurd(v: &Value, path: &str) -> Option<String> {
    match v {
        Value::Number(n) => {
            let f = n.as_f64()?;
            let signed = SIGNED.iter().any(|s| path.contains(s));
            (!f.is_finite() || (f < 0.0 && !signed)).then(|| path.to_string())
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| absurd(x, &format!("{path}[{i}]"))),
        Value::Object(map) => map
            .iter()
            .find_map(|(k, x)| absurd(x, &format!("{path}.{k}"))),
        _ => None,
    }
}

#[test]
fn the_check_finds_absurd_figures() {
    let v = serde_json::json!({"a": {"b": [1.0, -2.0]}, "headroom_bytes": -5});
    assert_eq!(absurd(&v, ""), Some(".a.b[1]".to_string()));
    let v = serde_json::json!({"headroom_bytes": -5, "ok": 3});
    assert_eq!(absurd(&v, ""), None);
}

#[test]
fn cli_fuzz() {
    let mut runner = TestRunner::new(Config {
        cases: 2000,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&lines(), |line| check(&line))
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Keep generating command lines for `SIZEUP_FUZZ_SECONDS` (default 10) seconds.
#[test]
#[ignore = "fixed-time fuzz: run by CI in release mode"]
// The count is the test's report to CI's log (the library's print lints are for commands).
#[allow(clippy::print_stderr)]
fn cli_fuzz_for_a_while() {
    let seconds = std::env::var("SIZEUP_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut runs = 0u64;
    while Instant::now() < deadline {
        let mut runner = TestRunner::new(Config {
            cases: 256,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&lines(), |line| check(&line))
            .unwrap_or_else(|e| panic!("{e}"));
        runs += 256;
    }
    eprintln!("{runs} command lines in {seconds} s");
}
