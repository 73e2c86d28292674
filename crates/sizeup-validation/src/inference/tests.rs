use super::*;
use crate::{abs_quantile, shared_cases};

fn outcomes(kind: &str) -> Vec<CaseOutcome> {
    shared_cases()
        .iter()
        .filter_map(predict)
        .filter(|o| o.kind == kind)
        .collect()
}

fn medians(kind: &str) -> (usize, f64, f64) {
    let os = outcomes(kind);
    let e: Vec<f64> = os.iter().filter_map(CaseOutcome::error).collect();
    let b: Vec<f64> = os.iter().filter_map(CaseOutcome::baseline_error).collect();
    (
        e.len(),
        abs_quantile(&e, 0.5).unwrap(),
        abs_quantile(&b, 0.5).unwrap(),
    )
}

#[test]
fn decode_median_error_is_under_the_bar_and_the_baseline() {
    let (n, model, baseline) = medians("infer_decode");
    // 12 decode cases in shared/validation/cases.json; the vLLM one states no lengths
    assert_eq!(n, 11);
    assert!(model <= MEDIAN_SPEED_ERROR_BAR, "median {model}");
    assert!(model < baseline, "model {model} vs baseline {baseline}");
}

#[test]
fn prefill_median_error_is_under_the_bar_and_the_baseline() {
    let (n, model, baseline) = medians("infer_prefill");
    assert_eq!(n, 13);
    assert!(model <= MEDIAN_SPEED_ERROR_BAR, "median {model}");
    assert!(model < baseline, "model {model} vs baseline {baseline}");
}

#[test]
fn weight_sizes_are_within_the_bar() {
    let os = outcomes("weights_memory");
    assert_eq!(os.len(), 3);
    for o in os {
        let e = o.error().unwrap();
        assert!(e.abs() <= WEIGHTS_ERROR_BAR, "{}: {e}", o.id);
    }
}

#[test]
fn unpredictable_cases_say_why_and_other_kinds_are_left_alone() {
    for c in shared_cases() {
        match predict(&c) {
            Some(o) if o.predicted.is_none() => assert!(o.note.is_some(), "{}", o.id),
            Some(_) => {}
            None => assert!(
                !c.kind.starts_with("infer") && c.kind != "weights_memory" && c.kind != "kv_cache"
            ),
        }
    }
    let vllm = shared_cases()
        .into_iter()
        .find(|c| c.id == "tinyllama_vllm_a40_throughput")
        .unwrap();
    let o = predict(&vllm).unwrap();
    assert!(o.predicted.is_none() && o.note.unwrap().contains("not stated"));
}

/// This project's H200 measurements (crates/sizeup-validation/cases/h200-2026-11-28.json in the repository).
fn h200_cases() -> Vec<Case> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/cases/h200-2026-11-28.json");
    let text = std::fs::read_to_string(path)
        .expect("crates/sizeup-validation/cases/h200-2026-11-28.json in the repo");
    serde_json::from_str(&text).expect("the H200 cases parse")
}

#[test]
fn h200_measurements_of_llama_3_1_8b() {
    for o in h200_cases().iter().filter_map(predict) {
        let e = o.error().unwrap();
        match o.kind.as_str() {
            // parameter bytes and static-cache bytes are exact (the allocator adds ≤ 16 KiB)
            "weights_memory" | "kv_cache" => assert!(e.abs() < 1e-5, "{}: {e}", o.id),
            // transformers with CUDA graphs, and its prefill: within the speed bar
            _ if !o.id.ends_with("eager") || o.kind == "infer_prefill" => {
                assert!(e.abs() <= MEDIAN_SPEED_ERROR_BAR, "{}: {e}", o.id)
            }
            // eager per-token decode is bound by host dispatch, priced at the GPT,
            // Fast blog's A100 host (25.5 tokens/s for Llama-7B); this H200's host
            // dispatches faster, so the model under-estimates
            _ => assert!(e < 0.0 && e > -0.4, "{}: {e}", o.id),
        }
    }
}

/// The practitioners' measurements (shared/validation/practitioner.json, read in place).
fn practitioner_cases() -> Vec<Case> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/validation/practitioner.json"
    );
    let text = std::fs::read_to_string(path).expect("shared/validation/practitioner.json");
    serde_json::from_str(&text).expect("practitioner.json parses")
}

/// vLLM's KV pool on an RTX 3090 (issue #10517): the utilization of CUDA's
/// 23.58 GiB less the weights, a profiling pass of the whole 20,000- or
/// 29,000-token batch and the memory torch does not hold. Counting CUDA graphs
/// (captured after the pool) and the nominal 24 GiB instead made both pools
/// 15–18% too small.
#[test]
fn vllm_pool_on_an_rtx_3090_is_what_the_engine_printed() {
    let os: Vec<CaseOutcome> = practitioner_cases()
        .iter()
        .filter(|c| c.kind == "serving_memory_fit")
        .filter_map(predict)
        .collect();
    // the engine printed 1952 and 1478 blocks of 16 tokens: each within 5%
    assert_eq!(os.len(), 2);
    let reported: Vec<f64> = os.iter().map(|o| o.reported).collect();
    assert_eq!(reported, [31232.0, 23648.0]);
    for o in &os {
        let e = o.error().unwrap();
        assert!(e.abs() <= 0.05, "{}: {e}", o.id);
    }
    // the 29,000-token context does not fit its pool, as the engine said
    assert!(os[1]
        .note
        .as_deref()
        .unwrap()
        .ends_with("predicted: does not fit"));
}
