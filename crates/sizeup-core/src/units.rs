//! Checked integer arithmetic for counted quantities.
//!
//! Counts (parameters, bytes of weights and caches) are exact `u64`s; an overflow
//! is an error that names the quantity, never a wrap.

use crate::error::{CoreError, Result};

/// Multiply a list of factors, failing with [`CoreError::Overflow`] on overflow.
pub fn product(quantity: &'static str, factors: &[u64]) -> Result<u64> {
    // `match`, not `ok_or`: the error is built only when a product overflows,
    // which keeps this hot path (every count, every KV size) free of drops.
    factors
        .iter()
        .try_fold(1u64, |acc, &f| match acc.checked_mul(f) {
            Some(v) => Ok(v),
            None => Err(CoreError::Overflow { quantity }),
        })
}

/// Add a list of terms, failing with [`CoreError::Overflow`] on overflow.
pub fn sum(quantity: &'static str, terms: &[u64]) -> Result<u64> {
    terms
        .iter()
        .try_fold(0u64, |acc, &t| match acc.checked_add(t) {
            Some(v) => Ok(v),
            None => Err(CoreError::Overflow { quantity }),
        })
}

/// One gibibyte (2³⁰ bytes).
pub const GIB: f64 = 1_073_741_824.0;

/// A plain number with three significant figures: `11819`, `48.5`, `0.0361`.
pub fn sig3(v: f64) -> String {
    let a = v.abs();
    if !v.is_finite() {
        return v.to_string();
    }
    if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else {
        // digits after the point so that three significant figures show
        let decimals = (2 - a.log10().floor() as i32).max(0) as usize;
        format!("{v:.decimals$}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_and_sum_detect_overflow() {
        assert_eq!(product("x", &[3, 5, 7]), Ok(105));
        assert_eq!(sum("x", &[3, 5, 7]), Ok(15));
        assert_eq!(
            product("x", &[u64::MAX, 2]),
            Err(CoreError::Overflow { quantity: "x" })
        );
        assert_eq!(
            sum("x", &[u64::MAX, 1]),
            Err(CoreError::Overflow { quantity: "x" })
        );
    }
}
