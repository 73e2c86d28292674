//! What arrives: request lengths (fixed, drawn from a distribution, or replayed
//! from a list) and when (Poisson or a closed loop), all from one seeded generator.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};

/// A distribution of token lengths; every draw is rounded to the nearest whole
/// token and kept at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Dist {
    /// Always `tokens`.
    Fixed {
        /// The length.
        tokens: u64,
    },
    /// Uniform over the whole numbers `lo..=hi`.
    Uniform {
        /// Smallest length.
        lo: u64,
        /// Largest length.
        hi: u64,
    },
    /// Normal with this mean and standard deviation (in tokens), cut at 1.
    Normal {
        /// Mean, tokens.
        mean: f64,
        /// Standard deviation, tokens.
        sd: f64,
    },
    /// Log-normal whose lengths have this mean and standard deviation (in tokens).
    LogNormal {
        /// Mean of the lengths, tokens.
        mean: f64,
        /// Standard deviation of the lengths, tokens.
        sd: f64,
    },
}

impl Dist {
    /// Check the parameters: lengths ≥ 1, `lo ≤ hi`, finite means and deviations.
    ///
    /// # Errors
    /// [`CoreError::Invalid`] naming `field`.
    pub fn validate(&self, field: &'static str) -> Result<()> {
        let bad = |expected: &str| {
            Err(CoreError::Invalid {
                field,
                value: self.to_string(),
                expected: expected.into(),
            })
        };
        match *self {
            Dist::Fixed { tokens: 0 } => bad("a length of at least 1 token"),
            Dist::Uniform { lo, hi } if lo == 0 || lo > hi => bad("a range `A..B` with 1 ≤ A ≤ B"),
            Dist::Normal { mean, sd } | Dist::LogNormal { mean, sd }
                if !(mean.is_finite() && mean >= 1.0 && sd.is_finite() && sd >= 0.0) =>
            {
                bad("a mean of at least 1 token and a finite, non-negative deviation")
            }
            _ => Ok(()),
        }
    }

    /// The mean length, tokens (before rounding and the cut at 1).
    pub fn mean(&self) -> f64 {
        match *self {
            Dist::Fixed { tokens } => tokens as f64,
            Dist::Uniform { lo, hi } => (lo as f64 + hi as f64) / 2.0,
            Dist::Normal { mean, .. } | Dist::LogNormal { mean, .. } => mean,
        }
    }

    /// One length.
    ///
    /// # Formula
    /// ```text
    /// uniform:    lo + ⌊U·(hi − lo + 1)⌋
    /// normal:     mean + sd·Z,  Z = √(−2 ln U₁)·cos(2π U₂)   (Box–Muller)
    /// log-normal: exp(μ + σ·Z), σ² = ln(1 + sd²/mean²), μ = ln(mean) − σ²/2
    /// ```
    fn draw(&self, rng: &mut Rng) -> u64 {
        let round = |x: f64| {
            if x.is_finite() {
                x.round().clamp(1.0, u32::MAX as f64) as u64
            } else {
                1
            }
        };
        match *self {
            Dist::Fixed { tokens } => tokens,
            Dist::Uniform { lo, hi } => lo + rng.below(hi - lo + 1),
            Dist::Normal { mean, sd } => round(mean + sd * rng.normal()),
            Dist::LogNormal { mean, sd } => {
                let s2 = (1.0 + (sd / mean).powi(2)).ln();
                round((mean.ln() - s2 / 2.0 + s2.sqrt() * rng.normal()).exp())
            }
        }
    }
}

impl fmt::Display for Dist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dist::Fixed { tokens } => write!(f, "{tokens}"),
            Dist::Uniform { lo, hi } => write!(f, "uniform:{lo}..{hi}"),
            Dist::Normal { mean, sd } => write!(f, "normal:{mean},{sd}"),
            Dist::LogNormal { mean, sd } => write!(f, "lognormal:{mean},{sd}"),
        }
    }
}

/// The lengths of the requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Lengths {
    /// Prompt and output drawn independently.
    Drawn {
        /// Prompt tokens.
        prompt: Dist,
        /// Output tokens.
        output: Dist,
    },
    /// `(prompt, output)` pairs replayed in order, from the start again when used up.
    Replay {
        /// The pairs.
        pairs: Vec<(u64, u64)>,
    },
}

impl Lengths {
    /// Check the distributions or the list.
    ///
    /// # Errors
    /// [`CoreError::Invalid`] for a bad distribution, [`CoreError::Zero`] for an
    /// empty list or a zero length in it.
    pub fn validate(&self) -> Result<()> {
        match self {
            Lengths::Drawn { prompt, output } => {
                prompt.validate("prompt")?;
                output.validate("output")
            }
            Lengths::Replay { pairs } => {
                if pairs.is_empty() {
                    return Err(CoreError::Zero {
                        field: "length pairs",
                    });
                }
                if pairs.iter().any(|&(p, o)| p == 0 || o == 0) {
                    return Err(CoreError::Zero {
                        field: "prompt or output length in the list",
                    });
                }
                Ok(())
            }
        }
    }

    /// Mean prompt and output lengths, tokens.
    pub fn means(&self) -> (f64, f64) {
        match self {
            Lengths::Drawn { prompt, output } => (prompt.mean(), output.mean()),
            Lengths::Replay { pairs } => {
                let n = pairs.len().max(1) as f64;
                let (p, o) = pairs
                    .iter()
                    .fold((0.0, 0.0), |(p, o), &(a, b)| (p + a as f64, o + b as f64));
                (p / n, o / n)
            }
        }
    }

    /// The `i`-th request's `(prompt, output)`.
    pub(super) fn next(&self, i: u64, rng: &mut Rng) -> (u64, u64) {
        match self {
            Lengths::Drawn { prompt, output } => (prompt.draw(rng), output.draw(rng)),
            Lengths::Replay { pairs } => pairs[(i % pairs.len() as u64) as usize],
        }
    }
}

/// How requests arrive.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Arrivals {
    /// Open loop: a Poisson process of this many requests per second.
    Poisson {
        /// Requests per second offered to the whole deployment.
        rate_per_sec: f64,
    },
    /// Closed loop: this many clients, each sending its next request the moment
    /// its last one finishes (no think time).
    ClosedLoop {
        /// Clients across the whole deployment.
        clients: u64,
    },
}

/// A seeded generator (WyRand, via `fastrand`): the same seed gives the same run
/// on every platform.
pub(super) struct Rng(fastrand::Rng);

impl Rng {
    pub(super) fn new(seed: u64) -> Rng {
        Rng(fastrand::Rng::with_seed(seed))
    }

    /// Uniform in (0, 1]: never 0, so a logarithm of it is finite.
    fn open(&mut self) -> f64 {
        1.0 - self.0.f64()
    }

    /// Uniform over `0..n` (`n ≥ 1`).
    fn below(&mut self, n: u64) -> u64 {
        self.0.u64(0..n.max(1))
    }

    /// A standard normal draw (Box–Muller, one of the pair).
    fn normal(&mut self) -> f64 {
        let r = (-2.0 * self.open().ln()).sqrt();
        r * (std::f64::consts::TAU * self.0.f64()).cos()
    }

    /// Seconds to the next Poisson arrival at `rate` per second: −ln(U)/rate.
    pub(super) fn exponential(&mut self, rate: f64) -> f64 {
        -self.open().ln() / rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_have_the_stated_means() {
        let mut rng = Rng::new(7);
        let n = 200_000;
        for d in [
            Dist::Uniform { lo: 100, hi: 300 },
            Dist::Normal {
                mean: 500.0,
                sd: 50.0,
            },
            Dist::LogNormal {
                mean: 400.0,
                sd: 300.0,
            },
        ] {
            let mean = (0..n).map(|_| d.draw(&mut rng) as f64).sum::<f64>() / n as f64;
            // 200k draws: the standard error is below 1 token for each
            assert!((mean / d.mean() - 1.0).abs() < 0.01, "{d}: {mean}");
        }
        let gaps = (0..n).map(|_| rng.exponential(4.0)).sum::<f64>() / n as f64;
        assert!((gaps - 0.25).abs() < 0.01 * 0.25 * 4.0, "{gaps}");
    }

    #[test]
    fn bad_distributions_are_refused() {
        assert!(Dist::Uniform { lo: 5, hi: 4 }.validate("prompt").is_err());
        assert!(Dist::Fixed { tokens: 0 }.validate("output").is_err());
        assert!(Dist::Normal {
            mean: f64::NAN,
            sd: 1.0
        }
        .validate("prompt")
        .is_err());
        assert!(Lengths::Replay { pairs: vec![] }.validate().is_err());
    }
}
