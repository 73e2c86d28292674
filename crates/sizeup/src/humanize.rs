//! The one place where counts, bytes and seconds become text for people.
//!
//! Machine formats (JSON, CSV) never pass through here: they carry exact base
//! units. Human formats use binary prefixes by default (KiB = 1024 B) because
//! memory is sized in them, and SI prefixes (GB = 10⁹ B) behind `--si`.

/// Which prefixes human output uses for bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ByteUnits {
    /// KiB, MiB, GiB, TiB (powers of 1024).
    #[default]
    Binary,
    /// kB, MB, GB, TB (powers of 1000).
    Si,
}

/// `1.50 GiB` (binary) or `1.61 GB` (SI).
pub fn bytes(n: u64, units: ByteUnits) -> String {
    let (base, names): (f64, [&str; 6]) = match units {
        ByteUnits::Binary => (1024.0, ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]),
        ByteUnits::Si => (1000.0, ["B", "kB", "MB", "GB", "TB", "PB"]),
    };
    let mut value = n as f64;
    for (i, name) in names.iter().enumerate() {
        if value < base || i == names.len() - 1 {
            return if i == 0 {
                format!("{n} B")
            } else {
                format!("{value:.2} {name}")
            };
        }
        value /= base;
    }
    unreachable!("the loop returns at the last unit")
}

/// The lesson's `human_readable`: 1024-based values labelled `KB`/`MB`/`GB`/`TB`.
///
/// # Source
/// shared/reference/model-scale-lesson.txt (`human_readable`); kept byte for byte,
/// labels included, because `sizeup rough` must reproduce the lesson's output.
pub fn lesson_bytes(n: u64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"];
    let mut value = n as f64;
    for (i, unit) in units.iter().enumerate() {
        if value < 1024.0 || i == units.len() - 1 {
            return format!("{value:.2} {unit}");
        }
        value /= 1024.0;
    }
    unreachable!("the loop returns at the last unit")
}

/// `1.31B`: the lesson's parameter label (`params / 1e9` with two decimals).
pub fn lesson_params(n: u64) -> String {
    format!("{:.2}B", n as f64 / 1e9)
}

/// A count with a short scale: `8.03 B`, `525.3 M`, `4,096`.
pub fn count(n: u64) -> String {
    let x = n as f64;
    if x >= 1e12 {
        format!("{:.2} T", x / 1e12)
    } else if x >= 1e9 {
        format!("{:.2} B", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.1} M", x / 1e6)
    } else {
        grouped(n)
    }
}

/// An exact count with thousands separators: `8,030,261,248`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Seconds with a unit that keeps three significant figures: `12.3 ms`, `4.56 s`, `3.2 h`.
pub fn seconds(s: f64) -> String {
    if !s.is_finite() {
        return "∞".to_string();
    }
    let a = s.abs();
    // Julian years; beyond a thousand of them, powers of ten stay readable
    const YEAR: f64 = 365.25 * 86_400.0;
    if a >= YEAR * 1000.0 {
        format!("{:.2e} years", s / YEAR)
    } else if a >= YEAR * 2.0 {
        format!("{:.1} years", s / YEAR)
    } else if a >= 86_400.0 * 2.0 {
        format!("{:.1} days", s / 86_400.0)
    } else if a >= 7_200.0 {
        format!("{:.1} h", s / 3600.0)
    } else if a >= 120.0 {
        format!("{:.1} min", s / 60.0)
    } else if a >= 1.0 {
        format!("{s:.2} s")
    } else if a >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}

/// A ratio as a percentage: `42.0%`.
pub fn percent(r: f64) -> String {
    format!("{:.1}%", r * 100.0)
}

/// A rate with SI prefixes and a unit: `989 TFLOP/s`, `3.35 TB/s`.
pub fn rate(x: f64, unit: &str) -> String {
    let (v, p) = if x >= 1e15 {
        (x / 1e15, "P")
    } else if x >= 1e12 {
        (x / 1e12, "T")
    } else if x >= 1e9 {
        (x / 1e9, "G")
    } else if x >= 1e6 {
        (x / 1e6, "M")
    } else if x >= 1e3 {
        (x / 1e3, "k")
    } else {
        (x, "")
    };
    format!("{} {p}{unit}", sig3(v))
}

pub use sizeup_core::units::sig3;

/// The unit an axis of bytes is labelled in, from its largest value:
/// `(bytes per unit, unit name)`, e.g. `(2³⁰, "GiB")` for a maximum of 80 GiB.
pub fn byte_scale(max: f64, units: ByteUnits) -> (f64, &'static str) {
    let (base, names): (f64, [&str; 6]) = match units {
        ByteUnits::Binary => (1024.0, ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]),
        ByteUnits::Si => (1000.0, ["B", "kB", "MB", "GB", "TB", "PB"]),
    };
    let mut scale = 1.0;
    for (i, name) in names.iter().enumerate() {
        if max.abs() < scale * base || i == names.len() - 1 {
            return (scale, name);
        }
        scale *= base;
    }
    (1.0, "B")
}

/// `64 MiB`, `1.5 GiB`: bytes with the unit that suits this one value, for axis ticks.
pub fn bytes_short(n: f64, units: ByteUnits) -> String {
    let (scale, name) = byte_scale(n, units);
    format!("{} {name}", compact(n / scale))
}

/// The unit an axis of seconds is labelled in, from its largest value:
/// `(seconds per unit, unit name)`; the thresholds of [`seconds`] up to days.
pub fn seconds_scale(max: f64) -> (f64, &'static str) {
    let a = max.abs();
    if a >= 86_400.0 * 2.0 {
        (86_400.0, "days")
    } else if a >= 7_200.0 {
        (3600.0, "h")
    } else if a >= 120.0 {
        (60.0, "min")
    } else if a >= 1.0 {
        (1.0, "s")
    } else if a >= 1e-3 {
        (1e-3, "ms")
    } else {
        (1e-6, "µs")
    }
}

/// `10 ms`, `2 s`: seconds with the unit that suits this one value, for axis ticks.
pub fn seconds_short(s: f64) -> String {
    let (scale, name) = seconds_scale(s);
    format!("{} {name}", compact(s / scale))
}

/// A number for an axis tick: at most three significant figures below 1,000,
/// no trailing zeros, separators above: `0`, `0.125`, `2.5`, `40`, `1,200`.
pub fn compact(v: f64) -> String {
    if !v.is_finite() {
        return "∞".to_string();
    }
    let a = v.abs();
    if a < 1e-12 {
        return "0".to_string();
    }
    if a >= 1000.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        return format!("{sign}{}", grouped(a.round() as u64));
    }
    let decimals = (2 - a.log10().floor() as i32).clamp(0, 9) as usize;
    let text = format!("{v:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// A token count with `k` = 1024 and `M` = 1024², as `--vary` reads them:
/// `4k` (4,096), `128k`, `1M`; counts that are no such multiple stay exact (`1,000`).
pub fn tokens_short(n: f64) -> String {
    const K: f64 = 1024.0;
    if n >= K * K && (n / (K * K)).fract() == 0.0 {
        format!("{}M", compact(n / (K * K)))
    } else if n >= K && (n / K).fract() == 0.0 {
        format!("{}k", compact(n / K))
    } else {
        compact(n)
    }
}

/// A count or rate for an axis tick: exact with separators below a million
/// (`12,000`), then SI prefixes (`1.5M`, `2B`).
pub fn count_short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{}B", compact(v / 1e9))
    } else if a >= 1e6 {
        format!("{}M", compact(v / 1e6))
    } else {
        compact(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lesson_labels_are_1024_based() {
        // shared/reference/model-scale-lesson.txt: "kv cache : 768.00 MB" and "1.50 GB"
        assert_eq!(lesson_bytes(805_306_368), "768.00 MB");
        assert_eq!(lesson_bytes(1_610_612_736), "1.50 GB");
        assert_eq!(lesson_params(1_310_556_160), "1.31B");
    }

    #[test]
    fn binary_and_si_prefixes_differ() {
        assert_eq!(bytes(1_610_612_736, ByteUnits::Binary), "1.50 GiB");
        assert_eq!(bytes(1_610_612_736, ByteUnits::Si), "1.61 GB");
        assert_eq!(bytes(512, ByteUnits::Binary), "512 B");
        assert_eq!(grouped(8_030_261_248), "8,030,261,248");
        assert_eq!(seconds(0.0123), "12.30 ms");
        assert_eq!(seconds(3.0 * 86_400.0), "3.0 days");
        assert_eq!(seconds(3.0 * 365.25 * 86_400.0), "3.0 years");
        assert_eq!(seconds(9.5e17), "3.01e10 years");
        assert_eq!(sig3(0.0361), "0.0361");
        assert_eq!(sig3(48.52), "48.5");
        assert_eq!(sig3(11819.0), "11819");
    }

    #[test]
    fn axis_ticks_are_short() {
        assert_eq!(compact(0.0), "0");
        assert_eq!(compact(0.125), "0.125");
        assert_eq!(compact(0.30000000000000004), "0.3");
        assert_eq!(compact(2.5), "2.5");
        assert_eq!(compact(40.0), "40");
        assert_eq!(compact(1200.0), "1,200");
        // k = 1024 for tokens, as in `--vary seq_len=4k..128k`
        assert_eq!(tokens_short(4096.0), "4k");
        assert_eq!(tokens_short(131_072.0), "128k");
        assert_eq!(tokens_short(1_048_576.0), "1M");
        assert_eq!(tokens_short(1000.0), "1,000");
        assert_eq!(
            bytes_short(64.0 * 1024.0 * 1024.0, ByteUnits::Binary),
            "64 MiB"
        );
        assert_eq!(
            bytes_short(1.5 * 1024f64.powi(3), ByteUnits::Binary),
            "1.5 GiB"
        );
        assert_eq!(byte_scale(80e9, ByteUnits::Si), (1e9, "GB"));
        assert_eq!(seconds_short(0.01), "10 ms");
        assert_eq!(seconds_scale(90.0), (1.0, "s"));
        assert_eq!(count_short(12_000.0), "12,000");
        assert_eq!(count_short(1_500_000.0), "1.5M");
    }
}
