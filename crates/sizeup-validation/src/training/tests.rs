//! The training cases of `shared/validation/cases.json` against issue 5's bars.

use super::*;
use crate::{abs_quantile, shared_cases};

fn outcomes() -> Vec<CaseOutcome> {
    shared_cases().iter().filter_map(predict).collect()
}

/// The outcomes of the cases their sources do not mark uncertain (those are
/// summed apart, as `sizeup validate` does).
fn certain_outcomes() -> Vec<CaseOutcome> {
    shared_cases()
        .iter()
        .filter(|c| !c.uncertain)
        .filter_map(predict)
        .collect()
}

fn table(outcomes: &[CaseOutcome]) -> String {
    let mut out = String::new();
    for o in outcomes {
        let err = o
            .error()
            .map_or("      —".into(), |e| format!("{:+7.1}%", 100.0 * e));
        let base = o
            .baseline_error()
            .map_or("      —".into(), |e| format!("{:+7.1}%", 100.0 * e));
        out.push_str(&format!(
            "{:<42} {:<30} {:>12.4} {:>12.4} {err} {base}  {}\n",
            o.id,
            o.metric,
            o.reported,
            o.predicted.unwrap_or(f64::NAN),
            o.note.as_deref().unwrap_or("")
        ));
    }
    out
}

/// (sizeup median, sizeup p90, baseline median, baseline p90, cases) over predicted cases.
fn summary(outcomes: &[&CaseOutcome]) -> (f64, f64, f64, f64, usize) {
    let errs: Vec<f64> = outcomes.iter().filter_map(|o| o.error()).collect();
    let base: Vec<f64> = outcomes
        .iter()
        .filter(|o| o.predicted.is_some())
        .filter_map(|o| o.baseline_error())
        .collect();
    (
        abs_quantile(&errs, 0.5).unwrap_or(f64::NAN),
        abs_quantile(&errs, 0.9).unwrap_or(f64::NAN),
        abs_quantile(&base, 0.5).unwrap_or(f64::NAN),
        abs_quantile(&base, 0.9).unwrap_or(f64::NAN),
        errs.len(),
    )
}

#[test]
fn every_training_case_is_covered() {
    let cases = shared_cases();
    let training = cases
        .iter()
        .filter(|c| c.kind.starts_with("train_"))
        .count();
    let all = outcomes();
    assert_eq!(all.len(), training);
    for o in all.iter().filter(|o| o.predicted.is_none()) {
        assert!(
            o.note.is_some(),
            "{} is not predicted and says nothing",
            o.id
        );
    }
}

#[test]
#[allow(clippy::print_stdout)] // the per-case table, for `cargo test -- --nocapture`
fn throughput_meets_issue_5_bars() {
    let all = certain_outcomes();
    let speed: Vec<&CaseOutcome> = all
        .iter()
        .filter(|o| o.kind == "train_throughput" || o.kind == "train_time")
        .collect();
    let (median, p90, base_median, base_p90, n) = summary(&speed);
    let report = format!(
        "{}\nthroughput/time: {n} predicted, median {:.1}% p90 {:.1}% (baseline on the same cases: median {:.1}% p90 {:.1}%)",
        table(&all),
        100.0 * median,
        100.0 * p90,
        100.0 * base_median,
        100.0 * base_p90
    );
    println!("{report}");
    assert!(median <= THROUGHPUT_MEDIAN_BAR, "{report}");
    assert!(p90 <= THROUGHPUT_P90_BAR, "{report}");
    assert!(median < base_median, "{report}");
}

#[test]
#[allow(clippy::print_stdout)] // the per-case table, for `cargo test -- --nocapture`
fn memory_meets_issue_5_bar() {
    let all = outcomes();
    let mem: Vec<&CaseOutcome> = all.iter().filter(|o| o.kind == "train_memory").collect();
    let (median, _, _, _, n) = summary(&mem);
    let report = format!(
        "{}\nmemory: {n} predicted, median {:.1}%",
        table(&all),
        100.0 * median
    );
    println!("{report}");
    assert!(median <= MEMORY_MEDIAN_BAR, "{report}");
}

#[test]
fn korthikanti_savings_are_reproduced() {
    // Korthikanti et al. 2022 §5: selective recomputation saves 70 % (GPT-3) and 65 % (MT-NLG)
    for o in outcomes()
        .iter()
        .filter(|o| o.metric == "selective_recompute_activation_saving_pct")
    {
        assert!(o.error().unwrap().abs() < 0.01, "{o:?}");
    }
}

#[test]
fn flops_are_six_n_d() {
    // GPT-3 Table D.1 and Chinchilla Table 3 use 6·N·D: within 3 % of the rounded figures
    for o in outcomes().iter().filter(|o| o.kind == "train_flops") {
        assert!(o.error().unwrap().abs() < 0.03, "{o:?}");
    }
}

/// The reader takes what a case states about how it ran: torchtitan's op-level
/// checkpointing, no torch.compile (eager kernels) and its 96 GB part. torchtitan
/// logs the allocator's reservation (82.4 GiB), which exceeds the allocated peak
/// the model gives: on sizeup's own H200 runs by 4.9% to 13.2%
/// (`peak_reserved_GiB` over `peak_memory_per_gpu_GiB`). The prediction must sit
/// in that band below the reading, and inside the 96 GiB the run had.
#[test]
fn torchtitan_without_compile_reads_as_it_ran() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/validation/practitioner.json"
    );
    let cases: Vec<Case> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let case = cases
        .iter()
        .find(|c| c.id == "torchtitan_8b_fsdp8_mem")
        .unwrap();
    let r = rebuild(case).unwrap();
    assert_eq!(r.req.recompute, Recompute::OpSelective);
    assert_eq!(r.req.kernels, Kernels::Eager);
    assert_eq!(r.acc.memory_bytes, 96 << 30);
    assert_eq!(r.acc.memory_bandwidth_bytes_per_sec, 2.4e12);
    let o = predict(case).unwrap();
    assert_eq!(o.reported, 82.4);
    let allocated = o.predicted.unwrap();
    // bounded by the largest reservation over allocation of sizeup's own runs
    // (peak_reserved_GiB / peak_memory_per_gpu_GiB in OWN_CASES)
    let own: Vec<serde_json::Value> = serde_json::from_str(crate::OWN_CASES).unwrap();
    let most_reserved = own
        .iter()
        .filter_map(|c| {
            let r = &c["reported"];
            Some(r["peak_reserved_GiB"].as_f64()? / r["peak_memory_per_gpu_GiB"].as_f64()?)
        })
        .fold(1.0f64, f64::max);
    assert!(most_reserved > 1.1, "{most_reserved}");
    assert!(
        allocated < 82.4 && allocated * most_reserved > 82.4,
        "{o:?}"
    );
    assert!(allocated < 96.0);
}

/// A layout the reader had to guess (the source gives only a rate) draws no fit verdict.
#[test]
fn a_guessed_layout_draws_no_fit_verdict() {
    let case = shared_cases()
        .into_iter()
        .find(|c| c.id == "megatron2021_gpt3_175b_34days")
        .unwrap();
    let o = predict(&case).unwrap();
    assert!(o.predicted.is_some());
    assert_eq!(o.fits, None);
}

/// The eager element-wise model is counted from transformers' code, not fitted:
/// it must land on sizeup's own H200 runs (plain PyTorch + transformers under
/// autocast, 1B and 3B, with and without recomputation) within 5% each.
#[test]
fn eager_autocast_runs_land_within_5_percent_of_the_h200_measurements() {
    each_own_case_within("train_throughput", 0.05);
}

/// Every one of sizeup's 7 H200 cases of `kind` predicted within `bar`, at the
/// reader's guesses (those cases state all they ran, so no range scores them).
fn each_own_case_within(kind: &str, bar: f64) {
    let cases: Vec<Case> = serde_json::from_str(crate::OWN_CASES).expect("own cases parse");
    let outcomes: Vec<CaseOutcome> = cases
        .iter()
        .filter(|c| c.kind == kind)
        .filter_map(predict)
        .collect();
    assert_eq!(outcomes.len(), 7);
    for o in &outcomes {
        assert_eq!(o.range, None, "{}", o.id);
        let e = o.guess_error().expect("predicted");
        assert!(e.abs() < bar, "{}: {:+.1}%", o.id, 100.0 * e);
    }
}

/// The allocator's peak of the same runs, with nothing fitted: eager activations
/// counted operator by operator, fp32 states under autocast, gradients allocated
/// after the peak. Before they were counted (fused-kernel activations, gradients
/// at the peak) the errors ran from −14.7% to +16.2%.
#[test]
fn eager_autocast_memory_lands_within_4_percent_of_the_h200_measurements() {
    each_own_case_within("train_memory", 0.04);
}

#[test]
fn one_reading_of_the_stated_recomputation() {
    let setup = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
            .collect::<serde_json::Map<_, _>>()
    };
    let read = |pairs: &[(&str, &str)]| stated_recompute(&setup(pairs));
    assert_eq!(read(&[]), None);
    assert_eq!(read(&[("recompute", "not stated (assumed on)")]), None);
    assert_eq!(read(&[("recompute", "none")]), Some(Recompute::None));
    assert_eq!(
        read(&[("recompute", "Full (DeepSpeed)")]),
        Some(Recompute::Full)
    );
    assert_eq!(
        read(&[("recompute", "selective (torchtitan op-level SAC policy)")]),
        Some(Recompute::OpSelective)
    );
    assert_eq!(
        read(&[
            ("recompute", "full"),
            ("recompute_present", "selective + sequence parallel")
        ]),
        Some(Recompute::Selective)
    );
}

#[test]
fn a_zero_stage_past_a_byte_is_refused_not_wrapped() {
    let mut case = shared_cases()
        .into_iter()
        .find(|c| c.setup.get("zero_stage") == Some(&serde_json::json!(3)))
        .expect("a shared case at ZeRO-3");
    assert!(predict(&case).unwrap().predicted.is_some());
    // 259 = 256 + 3: `as u8` read it as ZeRO-3
    case.setup
        .insert("zero_stage".into(), serde_json::json!(259));
    let o = predict(&case).unwrap();
    assert_eq!(o.predicted, None);
    assert!(o
        .note
        .unwrap()
        .starts_with("`setup.zero_stage` = 259: expected 0, 1, 2 or 3"));
}

/// Megatron-LM's 2024 table states neither micro-batch nor recomputation for its
/// 16B run: at the reader's guesses (micro-batch 1, none) the prediction is
/// 7.3% slow, and the plausible values (micro-batches 2 to 8 that divide the
/// batch, selective recomputation) span the measured 489 TFLOP/s, so the case
/// scores 0 by its distance to that range; its guess is kept and reported apart.
#[test]
fn unstated_inputs_give_a_range_the_case_is_scored_against() {
    let case = shared_cases()
        .into_iter()
        .find(|c| c.id == "megatron2024_h100_16B")
        .unwrap();
    let o = predict(&case).unwrap();
    let r = o.range.expect("a range over the unstated inputs");
    assert!(r.low < o.reported && o.reported < r.high, "{r:?}");
    assert_eq!(o.predicted, Some(o.reported));
    assert_eq!(o.error(), Some(0.0));
    let guess = o.guess_error().unwrap();
    assert!((-0.074..-0.073).contains(&guess), "{guess}");
    assert_eq!(r.guess, r.low);
    // a case stating all it ran has no range
    let stated = shared_cases()
        .into_iter()
        .find(|c| c.id == "korthikanti_t5_530B")
        .unwrap();
    assert_eq!(predict(&stated).unwrap().range, None);
}

/// The case as the reader sees it: what its source states filled in.
fn completed(id: &str) -> Case {
    let case = shared_cases().into_iter().find(|c| c.id == id).unwrap();
    sources::complete(&case).0.into_owned()
}

/// The Llama 3 stack's conventions (Llama Team 2024 §3.3.2), applied to every case
/// whose framework it is: the interleaved schedule with one layer per model chunk
/// (126 layers on 16 stages: ⌈126/16⌉ = 8 chunks a stage) and, for the 8K
/// pre-training sequences, no activation checkpointing; both are the source's,
/// so neither is varied as unstated, and the 405B run fits as it ran.
#[test]
fn the_llama3_stack_interleaves_one_layer_per_chunk_and_keeps_8k_activations() {
    let r = rebuild(&completed("llama3_405b_t4_8k_gpus")).unwrap();
    assert_eq!(r.req.layout.vpp, 8);
    assert_eq!(r.req.recompute, Recompute::None);
    assert!(r.notes.iter().any(|n| n.starts_with(
        "pipeline schedule from the source: interleaved, one layer per model chunk, 8 chunks per stage (Llama Team 2024 §3.3.2"
    )));
    assert!(r
        .notes
        .iter()
        .any(|n| n.starts_with("recomputation from the source: none (Llama Team 2024 §3.3.2")));
    assert!(!r
        .notes
        .iter()
        .any(|n| n.contains("not stated: none") || n.starts_with("pipeline schedule not stated")));
    // only the micro-batch, which the paper does not give, is varied
    assert!(!r.alternatives.is_empty());
    assert!(r
        .alternatives
        .iter()
        .all(|(what, _)| what.starts_with("micro-batch")));
    let o = predict(&completed("llama3_405b_t4_8k_gpus")).unwrap();
    assert_eq!(o.fits, Some(true));
    assert!(o.error().unwrap().abs() < THROUGHPUT_MEDIAN_BAR, "{o:?}");

    // the 131K-token long-context run: the same schedule, its recomputation unstated
    let r = rebuild(&completed("llama3_405b_t4_16k_gpus_131k_ctx")).unwrap();
    assert_eq!(r.req.layout.vpp, 8);
    assert!(r
        .notes
        .iter()
        .any(|n| n == "recomputation not stated: none"));
    assert!(r
        .alternatives
        .iter()
        .any(|(what, _)| what == "selective recomputation"));
}

/// Megatron-DeepSpeed's bf16 runs hold their states as DeepSpeed's BF16_Optimizer
/// does (2 + 6 + 12/d bytes per parameter, at ZeRO-1); its fp16 runs, and a
/// stated ZeRO stage of 2 or more, keep the standard convention.
#[test]
fn megatron_deepspeed_bf16_holds_states_as_the_bf16_optimizer() {
    let case = completed("bloom_176b_iteration");
    let r = rebuild(&case).unwrap();
    assert_eq!(r.req.optimizer_impl, OptimizerImpl::DeepspeedBf16);
    assert_eq!(r.req.layout.zero, ZeroStage::Zero1);
    assert!(r
        .notes
        .iter()
        .any(|n| n.starts_with("gradients and optimizer states: DeepSpeed's BF16_Optimizer")));
    let ds = estimate(&r.arch, &r.acc, &r.req).unwrap().memory;
    let mut standard = r.req.clone();
    standard.optimizer_impl = OptimizerImpl::Standard;
    let st = estimate(&r.arch, &r.acc, &standard).unwrap().memory;
    // 6 gradient bytes per parameter of the stage against 4, neither sharded
    assert_eq!(ds.gradients_bytes % 6, 0);
    assert_eq!(ds.gradients_bytes / 6 * 4, st.gradients_bytes);
    assert_eq!(ds.weights_bytes, st.weights_bytes);
    assert_eq!(ds.optimizer_states_bytes, st.optimizer_states_bytes);

    let mut fp16 = case.clone();
    fp16.setup.insert("precision".into(), "fp16".into());
    assert_eq!(
        rebuild(&fp16).unwrap().req.optimizer_impl,
        OptimizerImpl::Standard
    );
    let mut zero2 = case;
    zero2.setup.insert("zero_stage".into(), 2.into());
    let r = rebuild(&zero2).unwrap();
    assert_eq!(r.req.optimizer_impl, OptimizerImpl::Standard);
    assert_eq!(r.req.layout.zero, ZeroStage::Zero2);
}

/// Megatron-DeepSpeed runs Megatron's default dropout (0.1 on attention and
/// residuals, which BigScience's tr11 README says BLOOM inherited) and, through
/// DeepSpeed's pipeline engine, keeps the last stage's fp32 logits: the loss a
/// case does not name is `deepspeed-pipeline`.
#[test]
fn megatron_deepspeed_keeps_dropout_and_the_pipeline_engines_logits() {
    let r = rebuild(&completed("bloom_176b_iteration")).unwrap();
    assert!(r.req.dropout);
    assert_eq!(r.req.loss, Some(Loss::DeepspeedPipeline));
    assert!(r
        .notes
        .iter()
        .any(|n| n.starts_with("loss: deepspeed-pipeline (the stated framework's)")));
}
