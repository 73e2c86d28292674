//! Chart writers: the SVG holds the series, axis titles with units and the
//! legend; the PNG is a real PNG; bad data is refused with the culprit named.

use std::path::Path;

use super::*;

/// KV cache per request against context, Llama-3.1-8B shape: 32 layers, 8 KV
/// heads of 128 dims, bf16 → 2·32·8·128·2 = 131,072 bytes per token
/// (shared/fixtures/models/llama-3.1-8b/expected.json, kv_bytes_per_token_fp16).
fn kv_chart() -> LineChart {
    let per_token = 131_072.0;
    let contexts = [4096.0, 8192.0, 16_384.0, 32_768.0, 65_536.0, 131_072.0];
    LineChart {
        title: "KV cache per request, Llama-3.1-8B".into(),
        x: Axis::log("Context length", AxisUnit::Tokens),
        y: Axis::linear("KV cache", AxisUnit::Bytes(ByteUnits::Binary)),
        series: vec![
            Series {
                name: "bf16 KV cache".into(),
                points: contexts.iter().map(|&s| (s, s * per_token)).collect(),
                point_labels: None,
                mark: Mark::Line,
            },
            Series {
                name: "fp8 KV cache".into(),
                points: contexts.iter().map(|&s| (s, s * per_token / 2.0)).collect(),
                point_labels: None,
                mark: Mark::Line,
            },
        ],
        references: vec![Reference {
            label: "L4 memory 24 GiB".into(),
            value: 24.0 * 1024f64.powi(3),
        }],
    }
}

/// Decode latency against throughput as the batch grows (illustrative shape:
/// latency flat while memory-bound, then rising once compute-bound).
fn latency_chart() -> LineChart {
    let batches = [1u32, 2, 4, 8, 16, 32, 64, 128, 256];
    let points: Vec<(f64, f64)> = batches
        .iter()
        .map(|&b| {
            let step = 0.012_f64.max(f64::from(b) * 0.000_12);
            (f64::from(b) / step, step)
        })
        .collect();
    LineChart {
        title: "Decode: latency against throughput as the batch grows".into(),
        x: Axis::log("Throughput", AxisUnit::TokensPerSec),
        y: Axis::linear("Time per output token", AxisUnit::Seconds),
        series: vec![Series {
            name: "Llama-3.1-8B on H100".into(),
            point_labels: Some(batches.iter().map(|b| format!("B={b}")).collect()),
            mark: Mark::Line,
            points,
        }],
        references: Vec::new(),
    }
}

/// Serving memory line items for Llama-3.1-8B in bf16: weights 8,030,261,248
/// params × 2 B = 14.96 GiB (shared/fixtures/models/llama-3.1-8b/expected.json),
/// KV cache 131,072 B/token × context; the 1 GiB overhead is illustrative.
fn memory_bars() -> StackedBars {
    let gib = 1024f64.powi(3);
    StackedBars {
        title: "Serving memory per GPU".into(),
        x_label: "Context length (tokens)".into(),
        categories: ["4k", "8k", "16k", "32k"].map(String::from).to_vec(),
        stacks: vec![
            Stack {
                name: "weights".into(),
                values: vec![14.96 * gib; 4],
            },
            Stack {
                name: "KV cache".into(),
                values: vec![0.5 * gib, 1.0 * gib, 2.0 * gib, 4.0 * gib],
            },
            Stack {
                name: "runtime overhead".into(),
                values: vec![1.0 * gib; 4],
            },
        ],
        y: Axis::linear("Memory", AxisUnit::Bytes(ByteUnits::Binary)),
        limit: Some(Reference {
            label: "L4 memory 24 GiB".into(),
            value: 24.0 * gib,
        }),
    }
}

/// Training memory per GPU against micro-batch for three recomputation
/// choices (illustrative: 16 B/param states for 8B params plus activations
/// growing linearly with the micro-batch).
fn training_chart() -> LineChart {
    let gib = 1024f64.powi(3);
    let states = 16.0 * 8.03e9 / 8.0; // ZeRO-3 over 8 GPUs
    let per_sample = [
        ("no recomputation", 9.5 * gib),
        ("selective recomputation", 3.1 * gib),
        ("full recomputation", 0.25 * gib),
    ];
    LineChart {
        title: "Training memory per GPU against micro-batch (ZeRO-3, 8 GPUs)".into(),
        x: Axis::linear("Micro-batch size (sequences of 8k tokens)", AxisUnit::Count),
        y: Axis::linear("Memory per GPU", AxisUnit::Bytes(ByteUnits::Binary)),
        series: per_sample
            .iter()
            .map(|(name, act)| Series {
                name: (*name).into(),
                points: (1..=16)
                    .map(|b| (f64::from(b), states + f64::from(b) * act))
                    .collect(),
                point_labels: None,
                mark: Mark::Line,
            })
            .collect(),
        references: vec![Reference {
            label: "H100 memory 80 GiB".into(),
            value: 80.0 * gib,
        }],
    }
}

/// The text content of every `<text>` element, unescaped.
fn svg_texts(svg: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find("<text") {
        rest = &rest[start..];
        let Some(open_end) = rest.find('>') else {
            break;
        };
        let Some(close) = rest.find("</text>") else {
            break;
        };
        let body = rest[open_end + 1..close].trim();
        out.push(
            body.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&"),
        );
        rest = &rest[close + "</text>".len()..];
    }
    out
}

fn assert_has(texts: &[String], wanted: &str) {
    assert!(
        texts.iter().any(|t| t == wanted),
        "no <text> reads `{wanted}`; found {texts:?}"
    );
}

#[test]
fn kv_svg_has_title_axes_ticks_legend_and_limit() {
    let svg = to_svg(&Chart::Line(kv_chart())).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
    let texts = svg_texts(&svg);
    assert_has(&texts, "KV cache per request, Llama-3.1-8B");
    assert_has(&texts, "Context length (tokens, log scale)");
    // 131,072 B/token × 128k = 16 GiB; the 24 GiB limit sets the top at 25
    assert_has(&texts, "KV cache (GiB)");
    for tick in ["4k", "8k", "16k", "32k", "64k", "128k", "0", "5", "25"] {
        assert_has(&texts, tick);
    }
    assert_has(&texts, "bf16 KV cache");
    assert_has(&texts, "fp8 KV cache");
    assert_has(&texts, "L4 memory 24 GiB");
}

#[test]
fn latency_svg_labels_points_by_batch() {
    let svg = to_svg(&Chart::Line(latency_chart())).unwrap();
    let texts = svg_texts(&svg);
    assert_has(&texts, "Throughput (tokens/s, log scale)");
    assert_has(&texts, "Time per output token (ms)");
    assert_has(&texts, "Llama-3.1-8B on H100");
    // the ends are always clear of each other
    assert_has(&texts, "B=1");
    assert_has(&texts, "B=256");
    let labelled = texts.iter().filter(|t| t.starts_with("B=")).count();
    assert!(
        labelled >= 5,
        "only {labelled} batch labels placed: {texts:?}"
    );
}

#[test]
fn bars_svg_has_categories_stacks_totals_and_limit() {
    let svg = to_svg(&Chart::Bars(memory_bars())).unwrap();
    let texts = svg_texts(&svg);
    assert_has(&texts, "Serving memory per GPU");
    assert_has(&texts, "Context length (tokens)");
    assert_has(&texts, "Memory (GiB)");
    for name in [
        "4k",
        "8k",
        "16k",
        "32k",
        "weights",
        "KV cache",
        "runtime overhead",
    ] {
        assert_has(&texts, name);
    }
    // 14.96 + 4 + 1 GiB
    assert_has(&texts, "20 GiB");
    assert_has(&texts, "L4 memory 24 GiB");
    // legend top to bottom in the bars' order: the top stack first
    let order: Vec<usize> = ["runtime overhead", "KV cache", "weights"]
        .iter()
        .map(|n| texts.iter().position(|t| t == n).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
}

#[test]
fn png_is_a_png_of_some_substance() {
    let png = to_png(&Chart::Line(kv_chart())).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // a blank 1200×720 image compresses to a few KiB; text and lines do not
    assert!(png.len() > 20_000, "{} bytes", png.len());
    let bars = to_png(&Chart::Bars(memory_bars())).unwrap();
    assert_eq!(&bars[..8], b"\x89PNG\r\n\x1a\n");
}

#[test]
fn the_extension_picks_the_format() {
    let chart = Chart::Line(kv_chart());
    let svg = write_chart(Path::new("out/kv.svg"), &chart).unwrap();
    assert!(svg.starts_with(b"<svg"));
    let png = write_chart(Path::new("KV.PNG"), &chart).unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    let err = write_chart(Path::new("kv.jpg"), &chart).unwrap_err();
    assert!(matches!(err, ChartError::UnknownExtension { .. }));
    assert_eq!(
        err.to_string(),
        "cannot tell the chart format of `kv.jpg`: expected a name ending in `.svg` or `.png`"
    );
}

#[test]
fn bad_data_is_refused_naming_the_culprit() {
    let mut c = kv_chart();
    c.series[1].points[2].1 = f64::NAN;
    let err = to_svg(&Chart::Line(c)).unwrap_err();
    assert!(
        err.to_string().starts_with("series `fp8 KV cache` point 2"),
        "{err}"
    );

    let mut c = kv_chart();
    c.series[0].points[0].0 = 0.0;
    let err = to_svg(&Chart::Line(c)).unwrap_err();
    assert!(matches!(err, ChartError::NotPositiveOnLog { .. }), "{err}");

    let mut c = latency_chart();
    c.series[0].point_labels = Some(vec!["B=1".into()]);
    let err = to_png(&Chart::Line(c)).unwrap_err();
    assert!(matches!(
        err,
        ChartError::LabelCount {
            labels: 1,
            points: 9,
            ..
        }
    ));

    let mut b = memory_bars();
    b.stacks[1].values.pop();
    let err = to_svg(&Chart::Bars(b)).unwrap_err();
    assert!(matches!(
        err,
        ChartError::StackLength {
            values: 3,
            categories: 4,
            ..
        }
    ));

    let mut b = memory_bars();
    b.stacks[0].values[3] = -1.0;
    assert!(matches!(
        to_svg(&Chart::Bars(b)),
        Err(ChartError::StackValue { index: 3, .. })
    ));

    let mut b = memory_bars();
    b.y.log_scale = true;
    assert!(matches!(
        to_svg(&Chart::Bars(b)),
        Err(ChartError::LogStackedBars { .. })
    ));

    let empty = LineChart {
        series: Vec::new(),
        ..kv_chart()
    };
    assert!(matches!(
        to_svg(&Chart::Line(empty)),
        Err(ChartError::Empty { .. })
    ));
}

#[test]
fn the_embedded_font_has_every_glyph_the_labels_use() {
    use ab_glyph::{Font, FontRef};
    let font = FontRef::try_from_slice(ttf_noto_sans::REGULAR).unwrap();
    // µ (µs ticks), … (shortened legend names), − and × (formulas in titles), ≥
    for c in "µ…−×≥·–0123456789kMGiBs/%$()=,.".chars() {
        assert_ne!(font.glyph_id(c).0, 0, "no glyph for `{c}`");
    }
}

/// Render the example charts to /tmp for a person to look at:
/// `cargo test -p sizeup chart::tests::render_examples -- --ignored`.
#[test]
#[ignore = "writes files to /tmp for a visual check"]
fn render_examples() {
    for (name, chart) in [
        ("chart-example", Chart::Line(kv_chart())),
        ("chart-latency", Chart::Line(latency_chart())),
        ("chart-bars", Chart::Bars(memory_bars())),
        ("chart-training", Chart::Line(training_chart())),
    ] {
        for ext in ["png", "svg"] {
            let path = std::env::temp_dir().join(format!("{name}.{ext}"));
            std::fs::write(&path, write_chart(&path, &chart).unwrap()).unwrap();
        }
    }
}
