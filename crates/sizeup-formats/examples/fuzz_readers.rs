//! A fixed-time mutation fuzzer for the GGUF and safetensors readers, for
//! machines without a nightly toolchain (cargo-fuzz needs one).
//!
//! ```text
//! cargo run --release -p sizeup-formats --example fuzz_readers -- --seconds 20 [--seed N] [--corpus DIR]
//! ```
//!
//! Each execution takes a valid sample file, applies 1–8 random corruptions
//! (byte writes, 64-bit writes of interesting values, truncation, insertion,
//! removal) and reads it with both readers, checking that whatever is accepted
//! is consistent. A panic is saved to `fuzz-crash-<n>.bin` and fails the run.
//! `--corpus DIR` writes the samples as a seed corpus for `cargo fuzz`.
#![allow(clippy::print_stdout, clippy::print_stderr)] // a command-line tool

#[path = "../tests/support/mod.rs"]
mod support;

use std::panic;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use support::{apply, check_gguf, check_safetensors, sample_gguf, sample_safetensors, Mutation};

/// xorshift64* (Vigna 2016): fast, reproducible from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn mutation(rng: &mut Rng) -> Mutation {
    let at = rng.next() as usize;
    match rng.below(5) {
        0 => Mutation::Set(at, rng.next() as u8),
        1 => {
            let interesting = [
                0,
                1,
                u64::MAX,
                1 << 63,
                1 << 32,
                rng.next(),
                rng.below(4096),
            ];
            Mutation::SetU64(
                at,
                interesting[rng.below(interesting.len() as u64) as usize],
            )
        }
        2 => Mutation::Truncate(at),
        3 => Mutation::Insert(
            at,
            (0..1 + rng.below(16)).map(|_| rng.next() as u8).collect(),
        ),
        _ => Mutation::Remove(at, 1 + rng.below(63) as usize),
    }
}

struct Args {
    seconds: u64,
    seed: u64,
    corpus: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        seconds: 20,
        seed: 0x5EED_5EED,
        corpus: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--seconds" => {
                args.seconds = value
                    .parse()
                    .map_err(|_| format!("bad --seconds {value}"))?
            }
            "--seed" => args.seed = value.parse().map_err(|_| format!("bad --seed {value}"))?,
            "--corpus" => args.corpus = Some(value),
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let samples = [
        ("gguf", sample_gguf()),
        ("safetensors", sample_safetensors()),
    ];
    if let Some(dir) = &args.corpus {
        for (name, bytes) in &samples {
            let d = std::path::Path::new(dir).join(format!("fuzz_{name}"));
            if let Err(e) =
                std::fs::create_dir_all(&d).and_then(|_| std::fs::write(d.join("sample"), bytes))
            {
                eprintln!("error: cannot write the corpus in {}: {e}", d.display());
                return ExitCode::from(2);
            }
        }
    }
    // a panic is reported by us, with the input saved; keep the default hook quiet
    panic::set_hook(Box::new(|_| {}));
    let mut rng = Rng(args.seed | 1);
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let start = Instant::now();
    let (mut runs, mut accepted_gguf, mut accepted_st) = (0u64, 0u64, 0u64);
    while Instant::now() < deadline {
        for (_, sample) in &samples {
            let mutations: Vec<Mutation> =
                (0..1 + rng.below(8)).map(|_| mutation(&mut rng)).collect();
            let input = apply(sample.clone(), &mutations);
            let outcome =
                panic::catch_unwind(|| (check_gguf(&input), check_safetensors(&input).is_ok()));
            runs += 1;
            match outcome {
                Ok((gguf, st)) => {
                    accepted_gguf += u64::from(gguf);
                    accepted_st += u64::from(st);
                }
                Err(_) => {
                    let path = format!("fuzz-crash-{runs}.bin");
                    let saved = std::fs::write(&path, &input).is_ok();
                    eprintln!(
                        "panic on execution {runs} (seed {}); input {}",
                        args.seed,
                        if saved { path } else { "not saved".into() }
                    );
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "fuzz_readers: {runs} executions in {secs:.1} s ({:.0}/s), no panic; still valid after corruption: {accepted_gguf} GGUF, {accepted_st} safetensors",
        runs as f64 / secs
    );
    ExitCode::SUCCESS
}
