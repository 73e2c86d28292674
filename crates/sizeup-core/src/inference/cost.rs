//! What a million tokens cost.

use serde::{Deserialize, Serialize};

/// Cost per million tokens at a price per device-hour.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Cost {
    /// Price per device-hour, US dollars.
    pub price_per_gpu_hour_usd: f64,
    /// Devices billed.
    pub gpus: u64,
    /// US dollars per million prompt tokens, if the devices only prefilled.
    pub usd_per_million_input_tokens: f64,
    /// US dollars per million generated tokens, prefill time included.
    pub usd_per_million_output_tokens: f64,
}

/// Cost per million tokens.
///
/// # Formula
/// ```text
/// $/M = price · gpus / (tokens_per_sec · 3600) · 10⁶
/// ```
///
/// # Source
/// DESIGN.md "Inference".
///
/// # Assumptions / limits
/// Input tokens are priced at the prefill rate with the devices doing nothing
/// else; output tokens at the end-to-end output rate, which already carries the
/// prefill time. Devices are billed whether busy or not.
pub fn cost(
    price_per_gpu_hour: f64,
    gpus: u64,
    prefill_tokens_per_sec: f64,
    output_tokens_per_sec: f64,
) -> Cost {
    Cost {
        price_per_gpu_hour_usd: price_per_gpu_hour,
        gpus,
        usd_per_million_input_tokens: per_million(price_per_gpu_hour, gpus, prefill_tokens_per_sec),
        usd_per_million_output_tokens: per_million(price_per_gpu_hour, gpus, output_tokens_per_sec),
    }
}

/// US dollars per million tokens made at `tokens_per_sec` on `gpus` devices
/// billed at `price_per_gpu_hour` (infinite at no tokens).
///
/// # Formula
/// ```text
/// $/M = price · gpus / (tokens_per_sec · 3600) · 10⁶
/// ```
///
/// # Source
/// DESIGN.md "Inference".
pub fn per_million(price_per_gpu_hour: f64, gpus: u64, tokens_per_sec: f64) -> f64 {
    if tokens_per_sec > 0.0 {
        price_per_gpu_hour * gpus as f64 / (tokens_per_sec * 3600.0) * 1e6
    } else {
        f64::INFINITY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dollar_an_hour_at_1000_tokens_per_second() {
        // $1/h for 3.6M tokens/h = $0.2778 per million
        let c = cost(1.0, 1, 1000.0, 1000.0);
        assert!((c.usd_per_million_output_tokens - 1e6 / 3.6e6).abs() < 1e-12);
        assert!(cost(2.0, 2, 0.0, 1.0)
            .usd_per_million_input_tokens
            .is_infinite());
    }
}
