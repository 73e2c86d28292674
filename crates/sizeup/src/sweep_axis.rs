//! `--vary NAME=SPEC`: which input a sweep changes, and through which values.
//!
//! # Forms
//! - a list: `batch=1,8,32` (the values in the order given);
//! - a range: `seq_len=4k..128k`, both ends given, with an optional step:
//!   - `:STEP` adds `STEP` each time (`seq_len=4k..32k:4k` → 4k, 8k, …, 32k);
//!   - `*FACTOR` multiplies (`batch=1..256*4` → 1, 4, 16, 64, 256);
//!   - no step: doubling when the end is at least 8× the start
//!     (`4k..128k` → 4k, 8k, …, 128k), otherwise 8 evenly spaced points,
//!     rounded to whole numbers when both ends are whole.
//!
//!   A range stops at the last value at or below its end: the end is in it
//!   only when a step lands on it.
//!
//! # Numbers
//! Digits with an optional fraction (`0.5`), and an optional suffix with ONE
//! rule for every axis: `k` = 1024, `m` = 1024², `g` = 1024³ (either case).
//! So `4k` is 4,096 tokens, as context lengths are quoted (Llama 3.1's 128k is
//! 131,072), and `batch=1k` is 1,024 requests. Write `1000` for a thousand.
//! Signs and exponents are not accepted: no model input is negative.
//!
//! # Names
//! The inputs in [`TEXT_AXES`] take a list of names instead
//! (`gpu=L4,A100-SXM-80GB,H100-SXM`, `weights=bf16,fp8,awq-int4-g128`); the
//! sweep checks each name against what its flag accepts.
//!
//! An axis has at most [`MAX_POINTS`] values.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// The most values one axis may have: a sweep evaluates every point, and a
/// chart or table of more is unreadable anyway.
pub const MAX_POINTS: usize = 10_000;

/// Inputs whose values are names, not numbers: a list only, no ranges.
pub const TEXT_AXES: &[&str] = &[
    "gpu",
    "weights",
    "kv_dtype",
    "engine",
    "precision",
    "optimizer",
    "recompute",
];

/// The largest value accepted: 2⁵³, the last integer that an `f64` (which
/// holds every value here) represents exactly.
const MAX_VALUE: f64 = 9_007_199_254_740_992.0;

/// Points a range without a step takes when it spans less than [`DOUBLING_SPAN`].
const AUTO_LINEAR_POINTS: u32 = 8;

/// A range without a step doubles when its end is at least this many times its start.
const DOUBLING_SPAN: f64 = 8.0;

/// The form the error message shows.
const EXPECTED: &str = "NAME=START..END[:STEP|*FACTOR] or NAME=V1,V2,… \
     (e.g. `seq_len=4k..128k`, `seq_len=4k..32k:4k`, `batch=1,8,32`; k = 1024)";

/// One swept input: its name and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepAxis {
    /// The input's name as typed (`seq_len`); the sweep command checks it.
    pub name: String,
    /// The values.
    pub spec: Spec,
}

/// How the values were given.
#[derive(Debug, Clone, PartialEq)]
pub enum Spec {
    /// Each value, in the order given.
    List(Vec<f64>),
    /// Names, in the order given (the inputs of [`TEXT_AXES`]).
    Names(Vec<String>),
    /// From `start` to at most `end`.
    Range {
        /// The first value.
        start: f64,
        /// The bound the last value does not exceed.
        end: f64,
        /// How to go from one value to the next.
        step: Step,
    },
}

/// How a range goes from one value to the next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    /// None given: doubling over a span of 8× or more, else 8 even points.
    Auto,
    /// Add this much (`:4k`).
    Add(f64),
    /// Multiply by this (`*2`).
    Multiply(f64),
}

/// A `--vary` value that could not be read.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("`{input}` is not a sweep axis: {problem}; expected {EXPECTED}")]
pub struct SweepAxisError {
    /// The text given.
    pub input: String,
    /// What is wrong with it.
    pub problem: Problem,
}

/// What is wrong with a `--vary` value.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum Problem {
    /// No `=` separates the name from the values.
    #[error("there is no `=` between the name and the values")]
    NoEquals,
    /// The name is empty or holds other characters.
    #[error("the name `{0}` must start with a letter and hold only letters, digits and `_`")]
    BadName(String),
    /// Nothing after `=`, or an empty list item.
    #[error("a value is missing")]
    MissingValue,
    /// A value is not a number of the accepted form.
    #[error("`{0}` is not a number (digits, an optional `.` fraction, an optional `k`, `m` or `g` suffix)")]
    BadNumber(String),
    /// A name holds other characters.
    #[error("`{0}` is not a name (letters, digits, `.`, `_`, `+` and `-`; a list, no range)")]
    BadText(String),
    /// A value is above 2⁵³.
    #[error("`{0}` is above the largest value accepted, 2^53")]
    TooLarge(String),
    /// The range's end is below its start.
    #[error("the range ends at `{end}`, below its start `{start}`")]
    EndBeforeStart {
        /// The start.
        start: f64,
        /// The end.
        end: f64,
    },
    /// A `:STEP` of zero.
    #[error("the step must be above 0")]
    ZeroStep,
    /// A `*FACTOR` of 1 or less.
    #[error("the factor `{0}` must be above 1")]
    FactorTooSmall(f64),
    /// A multiplying range that starts at 0.
    #[error("a range that multiplies must start above 0")]
    ZeroStart,
    /// More values than [`MAX_POINTS`].
    #[error("it has {count} values, more than the {limit} an axis may have")]
    TooManyPoints {
        /// How many values it would have.
        count: u64,
        /// [`MAX_POINTS`].
        limit: usize,
    },
    /// A fractional value on an axis that counts.
    #[error("`{value}` is not a whole number, and `{name}` counts")]
    NotWhole {
        /// The axis.
        name: String,
        /// The value.
        value: f64,
    },
}

impl SweepAxis {
    /// The values, in sweep order (ranges ascend).
    pub fn values(&self) -> Vec<f64> {
        match &self.spec {
            Spec::List(values) => values.clone(),
            // a name axis runs over the positions of its names
            Spec::Names(names) => (0..names.len()).map(|i| i as f64).collect(),
            Spec::Range { start, end, step } => range_values(*start, *end, *step),
        }
    }

    /// The values as whole numbers, for inputs that count (tokens, requests, GPUs).
    pub fn whole_values(&self) -> Result<Vec<u64>, SweepAxisError> {
        self.values()
            .into_iter()
            .map(|v| {
                if v.fract() == 0.0 {
                    Ok(v as u64)
                } else {
                    Err(SweepAxisError {
                        input: self.to_string(),
                        problem: Problem::NotWhole {
                            name: self.name.clone(),
                            value: v,
                        },
                    })
                }
            })
            .collect()
    }
}

impl FromStr for SweepAxis {
    type Err = SweepAxisError;

    fn from_str(input: &str) -> Result<SweepAxis, SweepAxisError> {
        parse(input).map_err(|problem| SweepAxisError {
            input: input.to_string(),
            problem,
        })
    }
}

fn parse(input: &str) -> Result<SweepAxis, Problem> {
    let (name, spec) = input.split_once('=').ok_or(Problem::NoEquals)?;
    let name = name.trim();
    let mut chars = name.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if !starts_with_letter || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(Problem::BadName(name.to_string()));
    }
    if TEXT_AXES.contains(&name) {
        let names = spec
            .split(',')
            .map(|n| {
                let n = n.trim();
                if n.is_empty() {
                    Err(Problem::MissingValue)
                } else if !n.contains("..")
                    && n.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'))
                {
                    Ok(n.to_string())
                } else {
                    Err(Problem::BadText(n.to_string()))
                }
            })
            .collect::<Result<Vec<String>, Problem>>()?;
        if names.len() > MAX_POINTS {
            return Err(Problem::TooManyPoints {
                count: names.len() as u64,
                limit: MAX_POINTS,
            });
        }
        return Ok(SweepAxis {
            name: name.to_string(),
            spec: Spec::Names(names),
        });
    }
    let spec = match spec.split_once("..") {
        Some((start, rest)) => parse_range(start, rest)?,
        None => Spec::List(
            spec.split(',')
                .map(number)
                .collect::<Result<Vec<f64>, Problem>>()?,
        ),
    };
    if let Spec::Range { start, end, step } = &spec {
        let count = range_count(*start, *end, *step);
        if count > MAX_POINTS as u64 {
            return Err(Problem::TooManyPoints {
                count,
                limit: MAX_POINTS,
            });
        }
    }
    if let Spec::List(values) = &spec {
        if values.len() > MAX_POINTS {
            return Err(Problem::TooManyPoints {
                count: values.len() as u64,
                limit: MAX_POINTS,
            });
        }
    }
    Ok(SweepAxis {
        name: name.to_string(),
        spec,
    })
}

fn parse_range(start: &str, rest: &str) -> Result<Spec, Problem> {
    let start = number(start)?;
    let (end, step) = if let Some((end, step)) = rest.split_once(':') {
        let step = number(step)?;
        if step == 0.0 {
            return Err(Problem::ZeroStep);
        }
        (end, Step::Add(step))
    } else if let Some((end, factor)) = rest.split_once('*') {
        let factor = number(factor)?;
        if factor <= 1.0 {
            return Err(Problem::FactorTooSmall(factor));
        }
        if start == 0.0 {
            return Err(Problem::ZeroStart);
        }
        (end, Step::Multiply(factor))
    } else {
        (rest, Step::Auto)
    };
    let end = number(end)?;
    if end < start {
        return Err(Problem::EndBeforeStart { start, end });
    }
    Ok(Spec::Range { start, end, step })
}

/// `4k` → 4096, `0.5` → 0.5, `1.5m` → 1,572,864.
fn number(text: &str) -> Result<f64, Problem> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Problem::MissingValue);
    }
    let bad = || Problem::BadNumber(text.to_string());
    let (digits, multiplier) = match text.char_indices().last() {
        Some((i, 'k' | 'K')) => (&text[..i], 1024.0),
        Some((i, 'm' | 'M')) => (&text[..i], 1024.0 * 1024.0),
        Some((i, 'g' | 'G')) => (&text[..i], 1024.0 * 1024.0 * 1024.0),
        _ => (text, 1.0),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || !all_digits(fraction) {
        return Err(bad());
    }
    let value = digits.parse::<f64>().map_err(|_| bad())? * multiplier;
    if value > MAX_VALUE {
        return Err(Problem::TooLarge(text.to_string()));
    }
    Ok(value)
}

/// How many values a range has, without making them.
fn range_count(start: f64, end: f64, step: Step) -> u64 {
    match step {
        Step::Add(s) => ((end - start) / s + 1e-9).floor() as u64 + 1,
        Step::Multiply(f) => ((end / start).ln() / f.ln() + 1e-9).floor() as u64 + 1,
        Step::Auto if doubles(start, end) => range_count(start, end, Step::Multiply(2.0)),
        Step::Auto => u64::from(AUTO_LINEAR_POINTS),
    }
}

fn doubles(start: f64, end: f64) -> bool {
    start > 0.0 && end >= DOUBLING_SPAN * start
}

fn range_values(start: f64, end: f64, step: Step) -> Vec<f64> {
    let count = range_count(start, end, step).min(MAX_POINTS as u64);
    match step {
        Step::Add(s) => {
            // Count in units of the finest decimal given, so 0.1 + 0.2 is 0.3.
            let places = decimals(start).max(decimals(s));
            let scale = if places <= 9 {
                10f64.powi(places as i32)
            } else {
                1.0
            };
            let (a, d) = if places <= 9 {
                ((start * scale).round(), (s * scale).round())
            } else {
                (start, s)
            };
            (0..count)
                .map(|i| (a + i as f64 * d) / scale)
                .filter(|v| *v <= end * (1.0 + 1e-12))
                .collect()
        }
        Step::Multiply(f) => {
            let mut values = Vec::with_capacity(count as usize);
            let mut v = start;
            while values.len() < count as usize && v <= end * (1.0 + 1e-12) {
                values.push(v);
                v *= f;
            }
            values
        }
        Step::Auto if doubles(start, end) => range_values(start, end, Step::Multiply(2.0)),
        Step::Auto => {
            let whole = start.fract() == 0.0 && end.fract() == 0.0;
            let intervals = f64::from(AUTO_LINEAR_POINTS - 1);
            let mut values: Vec<f64> = (0..AUTO_LINEAR_POINTS)
                .map(|i| start + (end - start) * f64::from(i) / intervals)
                .map(|v| if whole { v.round() } else { v })
                .collect();
            values.dedup();
            values
        }
    }
}

/// Digits after the point in the shortest text of `v`.
fn decimals(v: f64) -> usize {
    let text = v.to_string();
    text.split_once('.').map_or(0, |(_, f)| f.len())
}

/// The shortest text that reads back as `v`: `4k` for 4096, `1536`, `0.5`.
fn number_text(v: f64) -> String {
    const SUFFIXES: [(f64, &str); 3] = [
        (1024.0 * 1024.0 * 1024.0, "g"),
        (1024.0 * 1024.0, "m"),
        (1024.0, "k"),
    ];
    for (unit, suffix) in SUFFIXES {
        if v >= unit && (v / unit).fract() == 0.0 {
            return format!("{}{suffix}", v / unit);
        }
    }
    v.to_string()
}

impl fmt::Display for SweepAxis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}=", self.name)?;
        match &self.spec {
            Spec::List(values) => {
                let texts: Vec<String> = values.iter().map(|v| number_text(*v)).collect();
                f.write_str(&texts.join(","))
            }
            Spec::Names(names) => f.write_str(&names.join(",")),
            Spec::Range { start, end, step } => {
                write!(f, "{}..{}", number_text(*start), number_text(*end))?;
                match step {
                    Step::Auto => Ok(()),
                    Step::Add(s) => write!(f, ":{}", number_text(*s)),
                    Step::Multiply(m) => write!(f, "*{}", number_text(*m)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn values(input: &str) -> Vec<f64> {
        input.parse::<SweepAxis>().unwrap().values()
    }

    fn problem(input: &str) -> Problem {
        input.parse::<SweepAxis>().unwrap_err().problem
    }

    #[test]
    fn context_ranges_double_with_k_as_1024() {
        // the example: seq_len=4k..128k → 4,096 … 131,072 (Llama 3.1's 128k context)
        let axis: SweepAxis = "seq_len=4k..128k".parse().unwrap();
        assert_eq!(axis.name, "seq_len");
        assert_eq!(
            axis.whole_values().unwrap(),
            [4096, 8192, 16_384, 32_768, 65_536, 131_072]
        );
        assert_eq!(axis.to_string(), "seq_len=4k..128k");
    }

    #[test]
    fn steps_add_or_multiply() {
        assert_eq!(
            values("seq_len=4k..16k:4k"),
            [4096.0, 8192.0, 12_288.0, 16_384.0]
        );
        assert_eq!(values("batch=1..256*4"), [1.0, 4.0, 16.0, 64.0, 256.0]);
        // the end is in only when a step lands on it
        assert_eq!(values("batch=1..100*2").last(), Some(&64.0));
        // decimal steps do not drift: 0.1 + 0.2 is 0.3 here
        assert_eq!(values("mfu=0.1..0.5:0.1"), [0.1, 0.2, 0.3, 0.4, 0.5]);
    }

    #[test]
    fn narrow_ranges_take_eight_even_points() {
        // 4k..16k spans 4×, under the 8× that doubles
        let v = values("seq_len=4k..16k");
        assert_eq!(v.len(), 8);
        assert_eq!((v[0], v[7]), (4096.0, 16_384.0));
        assert!(v.iter().all(|x| x.fract() == 0.0), "{v:?}");
        // few whole numbers between the ends: rounded, then repeats dropped
        assert_eq!(values("tp=1..4"), [1.0, 2.0, 3.0, 4.0]);
        assert_eq!(values("layers=0..3"), [0.0, 1.0, 2.0, 3.0]);
    }

    #[test]
    fn lists_keep_their_order() {
        assert_eq!(values("batch=32,1,8"), [32.0, 1.0, 8.0]);
        assert_eq!(values("seq_len=2k"), [2048.0]);
        assert_eq!(values("hidden=1.5k, 4K ,1m"), [1536.0, 4096.0, 1_048_576.0]);
        let axis: SweepAxis = "hidden=1.5k,4K,1m".parse().unwrap();
        assert_eq!(axis.to_string(), "hidden=1536,4k,1m");
    }

    #[test]
    fn text_inputs_take_names() {
        let axis: SweepAxis = "gpu=L4,A100-SXM-80GB,H100-SXM".parse().unwrap();
        assert_eq!(
            axis.spec,
            Spec::Names(vec!["L4".into(), "A100-SXM-80GB".into(), "H100-SXM".into()])
        );
        assert_eq!(axis.values(), vec![0.0, 1.0, 2.0]);
        assert_eq!(axis.to_string(), "gpu=L4,A100-SXM-80GB,H100-SXM");
        assert_eq!(problem("weights=bf16,"), Problem::MissingValue);
        assert_eq!(problem("engine=v llm"), Problem::BadText("v llm".into()));
    }

    #[test]
    fn errors_name_the_input_and_the_form() {
        let err = "seq_len=4k-128k".parse::<SweepAxis>().unwrap_err();
        assert_eq!(err.problem, Problem::BadNumber("4k-128k".into()));
        let text = err.to_string();
        assert!(
            text.starts_with("`seq_len=4k-128k` is not a sweep axis: `4k-128k` is not a number"),
            "{text}"
        );
        assert!(text.contains("NAME=START..END[:STEP|*FACTOR]"), "{text}");

        assert_eq!(problem("seq_len"), Problem::NoEquals);
        assert_eq!(problem("=1,2"), Problem::BadName(String::new()));
        assert_eq!(problem("2x=1,2"), Problem::BadName("2x".into()));
        assert_eq!(problem("batch="), Problem::MissingValue);
        assert_eq!(problem("batch=1,,2"), Problem::MissingValue);
        assert_eq!(problem("batch=-1"), Problem::BadNumber("-1".into()));
        assert_eq!(problem("batch=1e3"), Problem::BadNumber("1e3".into()));
        assert_eq!(problem("batch=inf"), Problem::BadNumber("inf".into()));
        assert_eq!(problem("batch=.5"), Problem::BadNumber(".5".into()));
        assert_eq!(
            problem("batch=9999999999g"),
            Problem::TooLarge("9999999999g".into())
        );
        assert_eq!(
            problem("seq_len=128k..4k"),
            Problem::EndBeforeStart {
                start: 131_072.0,
                end: 4096.0
            }
        );
        assert_eq!(problem("batch=1..8:0"), Problem::ZeroStep);
        assert_eq!(problem("batch=1..8*1"), Problem::FactorTooSmall(1.0));
        assert_eq!(problem("batch=0..8*2"), Problem::ZeroStart);
    }

    #[test]
    fn axes_are_capped() {
        assert_eq!(values("batch=1..10000:1").len(), MAX_POINTS);
        assert_eq!(
            problem("seq_len=1..1m:1"),
            Problem::TooManyPoints {
                count: 1_048_576,
                limit: MAX_POINTS
            }
        );
        let long_list = vec!["1"; MAX_POINTS + 1].join(",");
        assert!(matches!(
            problem(&format!("batch={long_list}")),
            Problem::TooManyPoints { count: 10_001, .. }
        ));
    }

    #[test]
    fn counting_axes_refuse_fractions() {
        let axis: SweepAxis = "batch=1..2:0.5".parse().unwrap();
        let err = axis.whole_values().unwrap_err();
        assert_eq!(
            err.problem,
            Problem::NotWhole {
                name: "batch".into(),
                value: 1.5
            }
        );
    }

    /// Text built from the grammar's pieces, valid or not.
    fn spec_text() -> impl Strategy<Value = String> {
        let num = prop_oneof![
            (0u64..5000).prop_map(|n| n.to_string()),
            (1u64..300, prop::sample::select(vec!["k", "K", "m", "g"]))
                .prop_map(|(n, s)| format!("{n}{s}")),
            (0u64..1000, 1u32..4).prop_map(|(n, d)| format!(
                "{}.{n:0>width$}",
                n % 7,
                width = d as usize
            )),
        ];
        let list = prop::collection::vec(num.clone(), 1..6).prop_map(|v| v.join(","));
        let range = (
            num.clone(),
            num.clone(),
            prop::option::of((prop::sample::select(vec![":", "*"]), num)),
        )
            .prop_map(|(a, b, step)| match step {
                Some((sep, s)) => format!("{a}..{b}{sep}{s}"),
                None => format!("{a}..{b}"),
            });
        (
            prop::sample::select(vec!["seq_len", "batch", "hidden", "mfu"]),
            prop_oneof![list, range],
        )
            .prop_map(|(name, spec)| format!("{name}={spec}"))
    }

    proptest! {
        #[test]
        fn display_reads_back_as_the_same_axis(text in spec_text()) {
            if let Ok(axis) = text.parse::<SweepAxis>() {
                let shown = axis.to_string();
                prop_assert_eq!(shown.parse::<SweepAxis>(), Ok(axis.clone()), "{} shown as {}", text, shown);
            }
        }

        #[test]
        fn values_are_capped_finite_and_ascend_in_ranges(text in spec_text()) {
            if let Ok(axis) = text.parse::<SweepAxis>() {
                let v = axis.values();
                prop_assert!(!v.is_empty() && v.len() <= MAX_POINTS);
                prop_assert!(v.iter().all(|x| x.is_finite() && *x >= 0.0));
                if let Spec::Range { start, end, .. } = axis.spec {
                    prop_assert_eq!(v[0], start);
                    prop_assert!(v.windows(2).all(|w| w[0] < w[1]), "{:?}", v);
                    prop_assert!(*v.last().unwrap() <= end * (1.0 + 1e-12));
                }
            }
        }

        #[test]
        fn never_panics(text in ".{0,40}") {
            let _ = text.parse::<SweepAxis>().map(|a| a.values());
        }

        #[test]
        fn never_panics_on_near_misses(text in "[a-z_=0-9.,:*kmgKMG -]{0,30}") {
            let _ = text.parse::<SweepAxis>().map(|a| a.values());
        }
    }
}
