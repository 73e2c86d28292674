//! The one departure from strict JSON that real configs need: Python's non-finite
//! number tokens.
//!
//! `json.dump` in Python writes `float("inf")` as `Infinity` (and `NaN`, `-Infinity`)
//! unless told not to, so some published `config.json` files (Nemotron-H's
//! `time_step_limit: [0.0, Infinity]`) are not strict JSON. [`non_finite_as_strings`]
//! quotes those tokens where a value stands, and nowhere else, so the strict parser
//! reads them as strings: a field sizeup reads as a number is then refused by name.

/// The bare tokens Python writes for non-finite floats.
const TOKENS: [&str; 3] = ["-Infinity", "Infinity", "NaN"];

/// `text` with every bare `Infinity`, `-Infinity` or `NaN` in value position (after
/// `:`, `[` or `,`, outside strings) wrapped in quotes; `None` when there is none.
pub(crate) fn non_finite_as_strings(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 8);
    let mut copied = 0;
    let mut in_string = false;
    let mut escaped = false;
    // the last byte outside strings that was not whitespace
    let mut last = b' ';
    let mut found = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
                last = b'"';
            }
            i += 1;
            continue;
        }
        if b == b'"' {
            in_string = true;
            i += 1;
            continue;
        }
        if matches!(last, b':' | b'[' | b',') {
            let token = TOKENS.iter().find(|t| {
                bytes[i..].starts_with(t.as_bytes())
                    && !bytes
                        .get(i + t.len())
                        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
            });
            if let Some(t) = token {
                // tokens are ASCII, so these are character boundaries
                out.push_str(&text[copied..i]);
                out.push('"');
                out.push_str(t);
                out.push('"');
                i += t.len();
                copied = i;
                last = b'"';
                found = true;
                continue;
            }
        }
        if !b.is_ascii_whitespace() {
            last = b;
        }
        i += 1;
    }
    if !found {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::non_finite_as_strings;

    #[test]
    fn quotes_bare_non_finite_values_only() {
        let text =
            r#"{"a": [0.0, Infinity], "b": -Infinity, "c":NaN, "d": "Infinity NaN", "NaN": 1}"#;
        assert_eq!(
            non_finite_as_strings(text).unwrap(),
            r#"{"a": [0.0, "Infinity"], "b": "-Infinity", "c":"NaN", "d": "Infinity NaN", "NaN": 1}"#
        );
    }

    #[test]
    fn leaves_strict_json_and_other_words_alone() {
        assert_eq!(
            non_finite_as_strings(r#"{"a": 1, "b": "x\"Infinity"}"#),
            None
        );
        // not a value position, or a longer word: left for the strict parser to refuse
        assert_eq!(non_finite_as_strings(r#"{"a": Infinityx}"#), None);
        assert_eq!(non_finite_as_strings("Infinity"), None);
    }
}
