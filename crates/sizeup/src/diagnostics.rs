//! The single renderer of errors: `error:`, the `Caused by:` chain, then hints.
//!
//! Library errors carry data (field, value, expected); the hints that mention
//! flags live here, because only the binary knows its flags.

use std::error::Error as _;
use std::fmt::Write as _;

use sizeup_core::CoreError;
use sizeup_formats::FormatError;

use crate::error::AppError;
use crate::render::printable;

/// An error taken apart: what the terminal shows line by line, and what the web
/// API returns as JSON, from the one renderer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The first line, a request field shown as its flag.
    pub error: String,
    /// The `Caused by:` chain, outermost first.
    pub causes: Vec<String>,
    /// What to do.
    pub hints: Vec<String>,
}

/// Take an error apart into its headline, causes and hints.
pub fn diagnose(err: &AppError) -> Diagnostic {
    // `transparent` variants forward `source()` to the inner error, so the chain
    // starts at the first real cause.
    let mut causes = Vec::new();
    let mut source = err.source();
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    Diagnostic {
        error: headline(err),
        causes,
        hints: hints(err),
    }
}

/// Render an error for stderr, without color.
pub fn render(err: &AppError) -> String {
    diagnose(err).render()
}

impl Diagnostic {
    /// The text the CLI prints on stderr, without color: `error:`, the
    /// `Caused by:` chain, then a blank line and the hints; control characters
    /// (from a file's tensor name or a path) escaped as [`printable`] does.
    pub fn render(&self) -> String {
        let mut out = format!("error: {}\n", self.error);
        for cause in &self.causes {
            let _ = writeln!(out, "  Caused by: {cause}");
        }
        if !self.hints.is_empty() {
            out.push('\n');
            for hint in &self.hints {
                let _ = writeln!(out, "hint: {hint}");
            }
        }
        printable(out)
    }
}

/// The core's request fields and the flags that set them, so that an error names
/// what the user typed (`--kv-block`, not `block_tokens`).
const FLAGS: &[(&str, &str)] = &[
    ("tp", "--tp"),
    ("gpus", "--gpus"),
    ("dp", "--dp"),
    ("pp", "--pp"),
    ("vpp", "--vpp"),
    ("cp", "--cp"),
    ("ep", "--ep"),
    ("attention_dp", "--attention-dp"),
    ("zero", "--zero"),
    ("mfu", "--mfu"),
    ("price", "--price"),
    ("batch", "--batch"),
    ("seq_len", "--seq-len"),
    ("global_batch", "--global-batch"),
    ("micro_batch", "--micro-batch"),
    ("lora_rank", "--lora-rank"),
    ("lora_targets", "--lora-targets"),
    ("precision", "--precision"),
    ("optimizer_impl", "--optimizer-impl"),
    ("workload", "--workload"),
    ("prompt + output", "--prompt + --output"),
    ("prefill_chunk_tokens", "--prefill-chunk"),
    ("kv_block_tokens", "--kv-block"),
    ("block_tokens", "--kv-block"),
];

/// The flag that sets a core request field (`block_tokens` → `--kv-block`).
pub fn flag_of(field: &str) -> Option<&'static str> {
    FLAGS
        .iter()
        .find(|(f, _)| *f == field)
        .map(|(_, flag)| *flag)
}

/// The flag the error is about, when a core check names its field.
pub fn flag_at_fault(err: &AppError) -> Option<&'static str> {
    match err {
        AppError::Usage { flag, .. } => Some(flag),
        AppError::Core(CoreError::Invalid { field, .. } | CoreError::Zero { field }) => {
            flag_of(field)
        }
        _ => None,
    }
}

/// The first line: the error itself, with a request field shown as its flag.
fn headline(err: &AppError) -> String {
    let flag = flag_of;
    match err {
        AppError::Core(CoreError::Invalid {
            field,
            value,
            expected,
        }) => match flag(field) {
            Some(flag) => format!("`{flag}` = {value} is invalid: {expected}"),
            None => err.to_string(),
        },
        AppError::Core(CoreError::Zero { field }) => match flag(field) {
            Some(flag) => format!("`{flag}` must be at least 1, got 0"),
            None => err.to_string(),
        },
        _ => err.to_string(),
    }
}

fn hints(err: &AppError) -> Vec<String> {
    match err {
        AppError::Core(e) => core_hints(e),
        AppError::Formats(e) => format_hints(e),
        AppError::Usage { hint, .. } => hint.iter().cloned().collect(),
        AppError::Render(_) | AppError::Chart { .. } | AppError::Write { .. } => Vec::new(),
    }
}

fn core_hints(err: &CoreError) -> Vec<String> {
    match err {
        CoreError::Overflow { quantity } if quantity.contains("tokens") => {
            vec!["check `--prompt`, `--output` and `--context` for a typo".into()]
        }
        CoreError::Overflow { quantity }
            if quantity.contains("KV") || quantity.contains("activation") =>
        {
            vec!["the sequence length or batch given is too large to count exactly; check `--seq-len`, `--context`, `--batch` and `--micro-batch` for a typo".into()]
        }
        CoreError::Overflow { .. } => {
            vec!["the sizes given are too large to count exactly; check for a typo in the layer count, hidden size or vocabulary".into()]
        }
        CoreError::Zero { field } => vec![format!("give `{field}` a value of 1 or more")],
        CoreError::Unknown {
            what: "accelerator",
            suggestions,
            ..
        } => vec![
            format!("did you mean {}?", quote_list(suggestions)),
            "`sizeup gpus` lists the catalog; `--gpu-file FILE` reads your own".into(),
        ],
        CoreError::Unknown { suggestions, .. } if !suggestions.is_empty() => {
            vec![format!("did you mean {}?", quote_list(suggestions))]
        }
        CoreError::Invalid { field: "tp", .. } => {
            vec!["pass `--tp` with a divisor of the model's attention heads (`sizeup params MODEL` shows them)".into()]
        }
        CoreError::Invalid { field: "gpus", .. } => {
            vec!["pass `--gpus` as a multiple of the model-parallel size: `--tp` for `infer`, `--tp`·`--pp`·`--cp` for `train`".into()]
        }
        CoreError::Invalid { field: "dp", .. } => {
            vec![
                "`--tp`·`--pp`·`--cp`·`--dp` must equal `--gpus`; leave `--dp` out to derive it"
                    .into(),
            ]
        }
        CoreError::Invalid { field: "pp", .. } => {
            vec![
                "pass `--pp` no larger than the layer count (stages may hold unequal layers)"
                    .into(),
            ]
        }
        CoreError::Invalid { field: "vpp", .. } => {
            vec!["pass `--vpp` as a divisor of the layers on one pipeline stage, with `--pp` above 1".into()]
        }
        CoreError::Invalid { field: "ep", .. } => {
            vec![
                "pass `--ep` (training) as a divisor of both the expert count and the data-parallel size, (serving) as a group count the engine allows over the `--tp` · `--attention-dp` ranks (the error says which), or leave it at 1"
                    .into(),
            ]
        }
        CoreError::Invalid { field: "cp", .. } => {
            vec!["pass `--cp` as a divisor of `--seq-len`".into()]
        }
        CoreError::Invalid {
            field: "global_batch",
            ..
        } => vec![
            "pass `--global-batch` as a multiple of `--micro-batch` × the data-parallel size"
                .into(),
        ],
        CoreError::Invalid { field: "zero", .. } => {
            vec!["`--fsdp` is ZeRO-3 sharding: drop `--zero` or pass `--zero 3`".into()]
        }
        CoreError::Invalid {
            field: "optimizer_impl",
            ..
        } => vec![
            "`--optimizer-impl deepspeed-bf16` is full bf16 training with fp32 master weights and `--zero 1` (or `--distributed-optimizer`); pass those, or `--optimizer-impl standard`"
                .into(),
        ],
        CoreError::Invalid { field: "mfu", .. } => {
            vec!["pass `--mfu` as a fraction, e.g. `0.4`".into()]
        }
        CoreError::Invalid {
            field: "precision", ..
        } => vec![
            "pass `--precision bf16`, or pick an accelerator with that precision (`sizeup gpus`)"
                .into(),
        ],
        _ => Vec::new(),
    }
}

fn format_hints(err: &FormatError) -> Vec<String> {
    match err {
        FormatError::UnknownModel { suggestions, .. } => {
            let mut h = Vec::new();
            if !suggestions.is_empty() {
                h.push(format!("did you mean {}?", quote_list(suggestions)));
            }
            h.push("`sizeup models` lists the catalog; a path to a `config.json` or a folder holding one works too".into());
            h
        }
        FormatError::UnsupportedModelType {
            nearest, supported, ..
        } => {
            let mut h = Vec::new();
            if !nearest.is_empty() {
                h.push(format!(
                    "nearest supported: {}; if the architecture is one of these, pass `--as {}` (the count is then unverified)",
                    quote_list(nearest),
                    nearest[0]
                ));
            }
            h.push(format!("supported model_types: {}", supported.join(", ")));
            h
        }
        FormatError::MissingField { field, .. } => {
            vec![format!("add `{field}` to the config.json (its value is in the model's paper or model card)")]
        }
        FormatError::Json { .. } => vec!["the file is not valid JSON: check that it is complete (not truncated) and is the model's `config.json`".into()],
        FormatError::Core(e) => core_hints(e),
        _ => Vec::new(),
    }
}

/// `` `a`, `b` or `c` ``.
pub fn quote_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("`{s}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}
