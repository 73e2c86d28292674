//! The one door every input number passes: its syntax, its range and its finiteness,
//! checked once and named by the flag the user typed.
//!
//! Each numeric flag's `value_parser` is one of the doors below, and a sweep checks
//! every value of `--vary NAME=…` against the door of the flag `NAME` stands for
//! ([`crate::commands::sweep::axes`]), so a value a flag refuses is refused on an axis
//! too. The upper limits are far above any real run (a million devices, 16 million
//! sequences, a billion tokens) and low enough that the estimates' products of them
//! stay within 64-bit integers or are caught by the core's checked arithmetic.

use std::ffi::OsStr;

use clap::builder::TypedValueParser;
use clap::error::ErrorKind;

/// How a whole number may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// Digits only: `8`.
    Plain,
    /// A token count with binary multiples: `4096`, `32k` (= 32768), `1m` (= 1048576);
    /// context windows are powers of two, so "32k context" means 32768 tokens.
    Tokens,
    /// A count with decimal multiples as token budgets are quoted: `300B`, `15.6T`, `2e12`.
    Si,
}

/// A whole-number input with its inclusive range.
#[derive(Debug, Clone, Copy)]
pub struct Whole {
    /// What the number counts, for errors (`a device count`).
    pub what: &'static str,
    /// The smallest value accepted.
    pub min: u64,
    /// The largest value accepted.
    pub max: u64,
    /// How it may be written.
    pub syntax: Syntax,
}

/// A real-number input: finite, within `[min, max]`.
#[derive(Debug, Clone, Copy)]
pub struct Real {
    /// What the number measures, for errors (`a fraction`).
    pub what: &'static str,
    /// The smallest value accepted (also keeps denormals and zero out where it is > 0).
    pub min: f64,
    /// The largest value accepted.
    pub max: f64,
}

/// Devices and parallel degrees: `--gpus`, `--tp`, `--pp`, `--vpp`, `--cp`, `--ep`,
/// `--dp`, `--gpus-per-node` (the largest clusters hold about 10⁵ devices).
pub const DEVICES: Whole = Whole {
    what: "a device count",
    min: 1,
    max: 1 << 20,
    syntax: Syntax::Plain,
};

/// Sequences: `--batch`, `--concurrency`, `--micro-batch`, `--global-batch`.
pub const SEQUENCES: Whole = Whole {
    what: "a number of sequences",
    min: 1,
    max: 1 << 24,
    syntax: Syntax::Plain,
};

/// Token lengths: `--context`, `--prompt`, `--output`, `--seq-len`, `--prefill-chunk`,
/// `--kv-block` (the longest context windows are 10⁷ tokens).
pub const TOKENS: Whole = Whole {
    what: "a token count",
    min: 1,
    max: 1 << 30,
    syntax: Syntax::Tokens,
};

/// A training token budget: `--tokens` (today's largest runs are about 4·10¹³).
pub const TRAINING_TOKENS: Whole = Whole {
    what: "a training token budget",
    min: 1,
    max: 1_000_000_000_000_000_000,
    syntax: Syntax::Si,
};

/// Memory reserved in mebibytes: `--runtime-mib`, `--comm-buffer-mib` (up to a pebibyte).
pub const MIB: Whole = Whole {
    what: "a size in MiB",
    min: 0,
    max: 1 << 30,
    syntax: Syntax::Plain,
};

/// A LoRA rank: `--lora-rank`.
pub const RANK: Whole = Whole {
    what: "a LoRA rank",
    min: 1,
    max: 1 << 16,
    syntax: Syntax::Plain,
};

/// Chunks of a chunked loss: `--loss chunked:N` (more chunks than tokens buy nothing).
pub const LOSS_CHUNKS: Whole = Whole {
    what: "a number of loss chunks",
    min: 1,
    max: 1 << 20,
    syntax: Syntax::Plain,
};

/// A sweep's work budget in layer-points: `--max-work` (at most 10¹³, days of work).
pub const WORK: Whole = Whole {
    what: "a number of layer-points",
    min: 1,
    max: 10_000_000_000_000,
    syntax: Syntax::Si,
};

/// Rows of a ranking: `plan --top` (a table of more is unreadable).
pub const TOP: Whole = Whole {
    what: "a number of rows",
    min: 1,
    max: 1000,
    syntax: Syntax::Plain,
};

/// A position in a sweep's list of names (`--vary gpu=L4,H100-SXM`): the
/// values of a name axis, never typed by the user.
pub const LIST_POSITION: Whole = Whole {
    what: "a position in a list of names",
    min: 0,
    max: 1 << 20,
    syntax: Syntax::Plain,
};

/// A ZeRO stage: `--zero` (0 to 3).
pub const ZERO_STAGE: Whole = Whole {
    what: "a ZeRO stage",
    min: 0,
    max: 3,
    syntax: Syntax::Plain,
};

/// `--zero` as clap reads it: [`ZERO_STAGE`] as a `u8` (exact: the door keeps it ≤ 3).
pub fn zero_stage() -> impl TypedValueParser<Value = u8> {
    ZERO_STAGE.map(|v| v as u8)
}

/// Sizes of a model for `sizeup rough`: layers, hidden size, heads, vocabulary, bytes.
pub const SHAPE: Whole = Whole {
    what: "a model dimension",
    min: 1,
    max: 1 << 24,
    syntax: Syntax::Plain,
};

/// Bytes per cached element for `sizeup rough` (`--dtype-bytes`: 1 for 8-bit, 2 for fp16).
pub const ELEMENT_BYTES: Whole = Whole {
    what: "bytes per element",
    min: 1,
    max: 8,
    syntax: Syntax::Plain,
};

/// A latency target in seconds: `--ttft-target`.
pub const SECONDS: Real = Real {
    what: "a time in seconds",
    min: 1e-6,
    max: 1e6,
};

/// A latency target in milliseconds: `--tpot-target-ms`.
pub const MILLISECONDS: Real = Real {
    what: "a time in milliseconds",
    min: 1e-3,
    max: 1e9,
};

/// A share of a device's peak or of its memory: `--gpu-memory-utilization`,
/// `--matmul-efficiency`, `--memory-efficiency`, `--allreduce-efficiency`, `--mfu`.
/// Below 0.001 no real run goes; above 1 is more than the device has.
pub const FRACTION: Real = Real {
    what: "a fraction",
    min: 0.001,
    max: 1.0,
};

/// US dollars per device-hour: `--price`.
pub const PRICE: Real = Real {
    what: "a price in USD per device-hour",
    min: 0.0,
    max: 1e6,
};

/// Gigabits per second between nodes: `--inter-node-gbps`.
pub const GBPS: Real = Real {
    what: "a bandwidth in Gbit/s",
    min: 0.001,
    max: 1e6,
};

/// A fixed overhead in microseconds: `--layer-overhead-us`, `--allreduce-latency-us`.
pub const MICROSECONDS: Real = Real {
    what: "a time in microseconds",
    min: 0.0,
    max: 1e6,
};

/// A request rate: `--rate` (requests per second; a deployment above 10⁶ per
/// second is beyond any engine, below one per 10⁶ seconds the run is empty).
pub const RATE: Real = Real {
    what: "a rate in requests per second",
    min: 1e-6,
    max: 1e6,
};

/// Requests each simulation of `plan serve` sends to its replica:
/// `--requests-per-replica` (a plan runs about a hundred simulations).
pub const REPLICA_REQUESTS: Whole = Whole {
    what: "a number of requests",
    min: 1,
    max: 100_000,
    syntax: Syntax::Si,
};

/// Requests to simulate: `--requests` (10⁷ requests are minutes of simulation).
pub const REQUESTS: Whole = Whole {
    what: "a number of requests",
    min: 1,
    max: sizeup_core::inference::sim::MAX_REQUESTS,
    syntax: Syntax::Si,
};

/// Engine steps to simulate at most: `--max-steps` (10⁹ steps are about
/// half an hour of simulation).
pub const STEPS: Whole = Whole {
    what: "a number of engine steps",
    min: 1,
    max: 1_000_000_000,
    syntax: Syntax::Si,
};

/// A seed: `--seed` (any 64-bit number).
pub const SEED: Whole = Whole {
    what: "a seed",
    min: 0,
    max: u64::MAX,
    syntax: Syntax::Plain,
};

/// A share that may be zero and never all: `--prefix-hit-rate` (a prompt's last
/// token is always computed, so 1 is out of reach).
pub const HIT_RATE: Real = Real {
    what: "a hit rate",
    min: 0.0,
    max: 0.999,
};

/// An engine overhead in milliseconds: `--step-overhead-ms`, `--request-overhead-ms`.
pub const OVERHEAD_MS: Real = Real {
    what: "a time in milliseconds",
    min: 0.0,
    max: 1e6,
};

/// A length in tokens inside a distribution or a lengths file (mean or
/// deviation of `--prompt-dist`/`--output-dist`): at most [`TOKENS`]' limit.
pub const LENGTH: Real = Real {
    what: "a length in tokens",
    min: 0.0,
    max: TOKENS.max as f64,
};

/// A length distribution: `--prompt-dist`, `--output-dist`.
///
/// `N` (fixed), `uniform:A..B` (whole tokens, inclusive), `normal:MEAN,SD`,
/// `lognormal:MEAN,SD` (mean and deviation of the lengths themselves).
/// Whole numbers pass [`TOKENS`], means and deviations [`LENGTH`].
pub fn dist(s: &str) -> Result<sizeup_core::inference::sim::Dist, String> {
    use sizeup_core::inference::sim::Dist;
    let t = s.trim();
    let expected = "`N`, `uniform:A..B`, `normal:MEAN,SD` or `lognormal:MEAN,SD`";
    let pair = |rest: &str| -> Result<(f64, f64), String> {
        let (a, b) = rest
            .split_once(',')
            .ok_or_else(|| format!("`{s}` is not a length distribution ({expected})"))?;
        Ok((LENGTH.parse(a)?, LENGTH.parse(b)?))
    };
    let d = match t.split_once(':') {
        None => Dist::Fixed {
            tokens: TOKENS.parse(t)?,
        },
        Some((kind, rest)) => match kind.trim().to_ascii_lowercase().as_str() {
            "uniform" => {
                let (a, b) = rest
                    .split_once("..")
                    .ok_or_else(|| format!("`{s}` is not a uniform range (`uniform:A..B`)"))?;
                Dist::Uniform {
                    lo: TOKENS.parse(a)?,
                    hi: TOKENS.parse(b)?,
                }
            }
            "normal" => {
                let (mean, sd) = pair(rest)?;
                Dist::Normal { mean, sd }
            }
            "lognormal" => {
                let (mean, sd) = pair(rest)?;
                Dist::LogNormal { mean, sd }
            }
            _ => return Err(format!("`{s}` is not a length distribution ({expected})")),
        },
    };
    d.validate("distribution").map_err(|e| e.to_string())?;
    Ok(d)
}

impl Whole {
    /// Read `s` in this door's syntax and check its range.
    pub fn parse(&self, s: &str) -> Result<u64, String> {
        let n = match self.syntax {
            Syntax::Plain => s.trim().parse::<u64>().ok(),
            Syntax::Tokens => tokens(s),
            Syntax::Si => si(s),
        }
        .ok_or_else(|| format!("`{s}` is not {} ({})", self.what, self.example()))?;
        if n < self.min || n > self.max {
            return Err(self.out_of_range(&n.to_string()));
        }
        Ok(n)
    }

    fn out_of_range(&self, shown: &str) -> String {
        format!(
            "{shown} is out of range: {} from {} to {}",
            self.what, self.min, self.max
        )
    }

    /// Check a value (a swept one, or one already read) against the range.
    pub fn check(&self, v: f64) -> Result<(), String> {
        if v.fract() != 0.0 || !v.is_finite() {
            return Err(format!("{v} is not a whole number ({})", self.what));
        }
        if v < self.min as f64 || v > self.max as f64 {
            return Err(self.out_of_range(&fmt_whole(v)));
        }
        Ok(())
    }

    fn example(&self) -> &'static str {
        match self.syntax {
            Syntax::Plain => "a whole number such as `8`",
            Syntax::Tokens => "a whole number such as `4096`, `32k` or `1m`",
            Syntax::Si => "e.g. `300B`, `15.6T`, `2e12`",
        }
    }
}

impl Real {
    /// Read `s` and check it is finite and in range.
    pub fn parse(&self, s: &str) -> Result<f64, String> {
        let v: f64 = s
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not a number ({})", self.what))?;
        self.check(v)?;
        Ok(v)
    }

    /// Check a value against the range (NaN and infinities are out of every range).
    pub fn check(&self, v: f64) -> Result<(), String> {
        if !(v >= self.min && v <= self.max) {
            return Err(format!(
                "{} is out of range: {} from {} to {}",
                fmt_real(v),
                self.what,
                self.min,
                self.max
            ));
        }
        Ok(())
    }
}

/// Either door, for the tables that list both (sweep axes).
#[derive(Debug, Clone, Copy)]
pub enum Door {
    /// A whole number.
    Whole(Whole),
    /// A real number.
    Real(Real),
}

impl Door {
    /// Check a value against the door's range.
    pub fn check(&self, v: f64) -> Result<(), String> {
        match self {
            Door::Whole(w) => w.check(v),
            Door::Real(r) => r.check(v),
        }
    }

    /// Whether only whole numbers pass.
    pub fn whole(&self) -> bool {
        matches!(self, Door::Whole(_))
    }
}

/// `v` as typed for ordinary values, in powers of ten for tiny or huge ones.
fn fmt_real(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && a.is_finite() && !(1e-4..1e9).contains(&a) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

fn fmt_whole(v: f64) -> String {
    if v.abs() < 1e18 {
        format!("{}", v as i128)
    } else {
        format!("{v:e}")
    }
}

/// `4096`, `32k`, `1m`.
fn tokens(s: &str) -> Option<u64> {
    let t = s.trim().to_ascii_lowercase();
    let (digits, mult) = match t.strip_suffix('k') {
        Some(d) => (d, 1024),
        None => match t.strip_suffix('m') {
            Some(d) => (d, 1024 * 1024),
            None => (t.as_str(), 1),
        },
    };
    digits.parse::<u64>().ok()?.checked_mul(mult)
}

/// `300B`, `15.6T`, `2e12`, `1.5M`.
fn si(s: &str) -> Option<u64> {
    let t = s.trim();
    let (digits, mult) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 1e3),
        Some('M') => (&t[..t.len() - 1], 1e6),
        Some('B') | Some('G') => (&t[..t.len() - 1], 1e9),
        Some('T') => (&t[..t.len() - 1], 1e12),
        _ => (t, 1.0),
    };
    let n = digits.parse::<f64>().ok()? * mult;
    // `15.6T` is whole once multiplied (up to the float's last bits); `1.5` is not a count
    let whole = n.round();
    let exact = (n - whole).abs() <= 1e-9 * whole.max(1.0);
    (n.is_finite() && n >= 0.0 && exact && whole < u64::MAX as f64).then_some(whole as u64)
}

/// Read a flag's text through `parse`; an error names the flag as typed.
fn through_door<T>(
    cmd: &clap::Command,
    arg: Option<&clap::Arg>,
    value: &OsStr,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, clap::Error> {
    let why = match value.to_str() {
        Some(s) => match parse(s) {
            Ok(v) => return Ok(v),
            Err(why) => why,
        },
        None => "not UTF-8".to_string(),
    };
    let flag = arg
        .and_then(|a| a.get_long())
        .map_or_else(|| "the value".to_string(), |l| format!("--{l}"));
    Err(clap::Error::raw(
        ErrorKind::ValueValidation,
        format!(
            "invalid value '{}' for '{flag}': {why}\n",
            value.to_string_lossy()
        ),
    )
    .with_cmd(cmd))
}

impl TypedValueParser for Whole {
    type Value = u64;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<u64, clap::Error> {
        through_door(cmd, arg, value, |s| self.parse(s))
    }
}

impl TypedValueParser for Real {
    type Value = f64;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<f64, clap::Error> {
        through_door(cmd, arg, value, |s| self.parse(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_decimal_and_tokens_binary() {
        assert_eq!(TRAINING_TOKENS.parse("15T"), Ok(15_000_000_000_000));
        assert_eq!(TRAINING_TOKENS.parse("100M"), Ok(100_000_000));
        assert_eq!(TRAINING_TOKENS.parse("15.6T"), Ok(15_600_000_000_000));
        assert_eq!(TRAINING_TOKENS.parse("2.5e12"), Ok(2_500_000_000_000));
        assert!(TRAINING_TOKENS.parse("lots").is_err());
        assert!(TRAINING_TOKENS.parse("-5").is_err());
        assert!(TRAINING_TOKENS.parse("0").is_err());
        assert!(TRAINING_TOKENS.parse("1.5").is_err());
        assert_eq!(TOKENS.parse("32k"), Ok(32_768));
        assert_eq!(TOKENS.parse("1m"), Ok(1_048_576));
        assert!(TOKENS.parse("32kb").is_err());
    }

    #[test]
    fn ranges_name_the_limits() {
        assert_eq!(
            DEVICES.parse("4294967296"),
            Err("4294967296 is out of range: a device count from 1 to 1048576".into())
        );
        assert_eq!(
            TOKENS.parse("0"),
            Err("0 is out of range: a token count from 1 to 1073741824".into())
        );
        assert_eq!(
            FRACTION.parse("1.5"),
            Err("1.5 is out of range: a fraction from 0.001 to 1".into())
        );
        assert_eq!(
            PRICE.parse("NaN"),
            Err("NaN is out of range: a price in USD per device-hour from 0 to 1000000".into())
        );
        assert_eq!(
            FRACTION.parse("1e-320"),
            Err("1e-320 is out of range: a fraction from 0.001 to 1".into())
        );
        assert!(GBPS.parse("-5").is_err());
        assert_eq!(FRACTION.parse("0.9"), Ok(0.9));
        assert_eq!(MIB.parse("0"), Ok(0));
        assert!(SEQUENCES.check(2.5).is_err());
    }
}
