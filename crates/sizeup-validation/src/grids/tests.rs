use super::*;

/// Layouts in data/layout_grids.json: 7 + 20 + 3 + 3 + 4 + 16 + 11, of which
/// 3 + 2 + 1 + 3 ran out of memory (the sources' OOM rows).
const LAYOUTS: usize = 64;
const OUT_OF_MEMORY: usize = 9;

#[test]
fn every_layout_of_every_grid_is_priced() {
    let grids = shipped();
    assert_eq!(grids.len(), 7);
    let outcomes = evaluate_shipped();
    let mut layouts = 0;
    let mut oom = 0;
    for (g, o) in grids.iter().zip(&outcomes) {
        assert_eq!(o.id, g.id);
        // no silent drops: one priced row per layout of the file, in its order
        assert_eq!(o.layouts.len(), g.layouts.len(), "{}", g.id);
        for (l, p) in g.layouts.iter().zip(&o.layouts) {
            assert_eq!(&p.layout, l);
            assert_eq!(p.note, None, "{} {}", g.id, p.label);
            assert!(p.predicted_tokens_per_sec_per_gpu.is_some_and(|t| t > 0.0));
            assert!(p.predicted_verdict.is_some());
            // a row is either measured or out of memory, never both or neither
            assert_eq!(
                l.step_seconds.is_some(),
                !l.out_of_memory,
                "{} {}",
                g.id,
                p.label
            );
            assert_eq!(l.tp * l.pp * l.dp, g.gpus, "{} {}", g.id, p.label);
            assert_eq!(p.error.is_some(), !l.out_of_memory);
            assert_eq!(p.measured_rank.is_some(), !l.out_of_memory);
        }
        assert_eq!(o.priced(), g.layouts.len());
        assert_eq!(o.measured() + o.out_of_memory(), g.layouts.len());
        assert!(
            o.measured() >= 2,
            "{}: a grid ranks at least two measured layouts",
            g.id
        );
        // ρ of two points is ±1 whatever the model says: not reported
        assert_eq!(o.spearman.is_some(), o.measured() >= MIN_RANKED, "{}", g.id);
        assert!(o.spearman.is_none_or(|r| (-1.0..=1.0).contains(&r)));
        layouts += o.layouts.len();
        oom += o.out_of_memory();
    }
    assert_eq!(layouts, LAYOUTS);
    assert_eq!(oom, OUT_OF_MEMORY);
}

#[test]
fn the_first_choice_is_the_fastest_predicted_layout_that_fits() {
    let grids = evaluate_shipped();
    // every shipped grid has a layout predicted to fit, so each is checked
    assert_eq!(grids.iter().filter(|o| o.first_choice.is_some()).count(), 7);
    for o in grids {
        let Some(c) = o.first_choice else { continue };
        let chosen = &o.layouts[c];
        let tier = chosen.predicted_verdict.unwrap();
        assert!(tier.within_capacity());
        // a tight layout is chosen only where none fits with the margin
        for l in o
            .layouts
            .iter()
            .filter(|l| l.predicted_verdict.is_some_and(|v| v.within_capacity()))
        {
            assert!(l.predicted_verdict.unwrap() >= tier, "{} {}", o.id, l.label);
            if l.predicted_verdict.unwrap() > tier {
                continue;
            }
            assert!(
                chosen.predicted_total_seconds <= l.predicted_total_seconds,
                "{}: {} beats the first choice {}",
                o.id,
                l.label,
                chosen.label
            );
        }
        let gap = o.first_choice_gap.unwrap();
        assert!((0.0..=1.0).contains(&gap));
        // the gap is 0 exactly when the choice is (or ties) the best measured layout
        let best = o
            .best_measured
            .map(|b| o.layouts[b].measured_tokens_per_sec_per_gpu);
        assert_eq!(
            gap == 0.0,
            best == Some(chosen.measured_tokens_per_sec_per_gpu),
            "{}",
            o.id
        );
    }
}

#[test]
fn measured_throughput_is_batch_times_length_over_step_time() {
    // bloom-181b-384xA100-2022-02-25, tp 4 · pp 12 · dp 8 · b 2: 110.48 s for 2048 × 2048 tokens on 384 GPUs
    let g = shipped()
        .iter()
        .find(|g| g.id == "bloom-181b-384xA100-2022-02-25")
        .unwrap();
    let l = &g.layouts[11];
    assert_eq!((l.tp, l.pp, l.dp, l.micro_batch), (4, 12, 8, 2));
    let t = l
        .measured_tokens_per_sec_per_gpu(g.seq_len, g.gpus)
        .unwrap();
    assert_eq!(t, 2048.0 * 2048.0 / (110.48 * 384.0));
    assert_eq!(evaluate(g).best_measured, Some(11));
}

#[test]
fn ranks_share_ties() {
    assert_eq!(
        average_ranks(&[10.0, 30.0, 30.0, 20.0]),
        [4.0, 1.5, 1.5, 3.0]
    );
    assert_eq!(average_ranks(&[]), Vec::<f64>::new());
}

#[test]
fn spearman_matches_hand_computed_examples() {
    // no ties: ranks (4,3,2,1) and (4,2,3,1), Σd² = 2, ρ = 1 − 6·2 / (4·(16 − 1)) = 0.8
    let rho = spearman(&[10.0, 20.0, 30.0, 40.0], &[1.0, 3.0, 2.0, 4.0]).unwrap();
    assert!((rho - 0.8).abs() < 1e-15, "{rho}");
    // ties: y ranks (4, 5, 2.5, 2.5, 1) against x ranks (5, 4, 3, 2, 1), both of mean 3:
    // Σ dx·dy = 2·1 + 1·2 + 0 + (−1)(−0.5) + (−2)(−2) = 8.5, Σ dx² = 10, Σ dy² = 9.5
    let rho = spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &[2.0, 1.0, 4.0, 4.0, 5.0]).unwrap();
    assert!((rho - 8.5 / 95f64.sqrt()).abs() < 1e-15, "{rho}");
    // a reversed order is −1, and the rank of a value, not its size, is what counts
    assert_eq!(spearman(&[1.0, 2.0, 3.0], &[300.0, 20.0, 1.0]), Some(-1.0));
    assert_eq!(spearman(&[1.0, 2.0, 3.0], &[1.0, 1.0, 1.0]), None);
    assert_eq!(spearman(&[1.0], &[1.0]), None);
    assert_eq!(spearman(&[1.0, 2.0], &[1.0]), None);
    assert_eq!(spearman(&[1.0, f64::NAN], &[1.0, 2.0]), None);
}

#[test]
fn a_first_choice_that_ran_out_of_memory_counts_as_nothing_delivered() {
    // the V100 16 GB grid with every row marked out of memory but the slowest one
    let mut g = shipped()
        .iter()
        .find(|g| g.id == "gpt-1b3-8xV100-16GB-2021")
        .unwrap()
        .clone();
    let slowest = g
        .layouts
        .iter()
        .enumerate()
        .filter_map(|(i, l)| l.step_seconds.map(|t| (t, i)))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .unwrap()
        .1;
    for (i, l) in g.layouts.iter_mut().enumerate() {
        if i != slowest {
            l.step_seconds = None;
            l.out_of_memory = true;
        }
    }
    let o = evaluate(&g);
    assert_eq!(o.best_measured, Some(slowest));
    let c = o.first_choice.unwrap();
    assert_eq!(
        o.first_choice_gap,
        Some(if c == slowest { 0.0 } else { 1.0 })
    );
    // left to the runs that ran, the plan has one layout to choose
    assert_eq!(o.first_choice_among_ran, Some(slowest));
    assert_eq!(o.first_choice_gap_among_ran, Some(0.0));
    assert_eq!(o.spearman, None);
}

#[test]
fn grids_refuse_unknown_keys() {
    let text = r#"{"grids": [{"id": "x", "typo": 1}]}"#;
    assert!(parse(text)
        .unwrap_err()
        .to_string()
        .contains("unknown field `typo`"));
}

/// The 02-28 BLOOM grids ran bf16 under DeepSpeed's BF16_Optimizer, which the
/// grids state: each layout then holds two gradient bytes per parameter of its
/// busiest stage more than the standard convention (exactly, as no line item but
/// the gradients moves), and the 184B grid's tp 4 · pp 6 · dp 16 · b 2, which ran
/// out of memory, is predicted not to fit (that every layout that ran still fits
/// is `every_fit_verdict_is_right_or_tight`'s).
#[test]
fn the_bf16_grids_hold_the_bf16_optimizers_gradients() {
    let bf16: Vec<&Grid> = shipped()
        .iter()
        .filter(|g| g.optimizer_impl == OptimizerImpl::DeepspeedBf16)
        .collect();
    assert_eq!(bf16.len(), 3);
    for g in &bf16 {
        assert_eq!(g.precision, Precision::Bf16, "{}", g.id);
        assert_eq!(g.zero, ZeroStage::Zero1, "{}", g.id);
        let arch = g.model.build().unwrap();
        let acc = hardware::find(&g.gpu).unwrap();
        let o = evaluate(g);
        for (l, p) in g.layouts.iter().zip(&o.layouts) {
            let ds = sizeup_core::training::estimate(&arch, acc, &request(g, l)).unwrap();
            let mut standard = request(g, l);
            standard.optimizer_impl = OptimizerImpl::Standard;
            let st = sizeup_core::training::estimate(&arch, acc, &standard).unwrap();
            assert_eq!(ds.memory.stage, st.memory.stage, "{} {}", g.id, p.label);
            assert_eq!(
                ds.memory.gradients_bytes / 6 * 4,
                st.memory.gradients_bytes,
                "{} {}",
                g.id,
                p.label
            );
            assert_eq!(
                ds.memory.total_bytes - st.memory.total_bytes,
                ds.memory.gradients_bytes - st.memory.gradients_bytes
            );
            assert_eq!(p.predicted_memory_bytes, Some(ds.memory.total_bytes));
        }
    }
    let g = bf16
        .iter()
        .find(|g| g.id == "bloom-184b-384xA100-2022-02-28")
        .unwrap();
    let o = evaluate(g);
    let b2 = o
        .layouts
        .iter()
        .find(|p| {
            let l = &p.layout;
            (l.tp, l.pp, l.dp, l.micro_batch) == (4, 6, 16, 2)
        })
        .unwrap();
    assert!(b2.layout.out_of_memory);
    assert_eq!(b2.predicted_verdict, Some(FitVerdict::DoesNotFit));
    // the fp16 grids keep the standard convention
    assert!(shipped()
        .iter()
        .filter(|g| g.precision == Precision::Fp16)
        .all(|g| g.optimizer_impl == OptimizerImpl::Standard));
}

/// Every grid ran Megatron-DeepSpeed's `GPTModelPipe` on DeepSpeed's pipeline
/// engine, which the grids state: on the stage that computes the loss the engine
/// keeps the fp32 logits of the last `min(2, m)` micro-batches, `4·min(2, m)`
/// bytes per logit on top of what the fused loss holds (exactly, where that stage
/// is the fullest either way). The 16 GB grid's three layouts at micro-batch 8,
/// which ran out of memory, are then predicted not to fit.
#[test]
fn the_pipeline_engine_keeps_the_last_stages_logits() {
    use sizeup_core::training::states::Stage;
    for g in shipped() {
        assert_eq!(g.loss, Some(Loss::DeepspeedPipeline), "{}", g.id);
        let arch = g.model.build().unwrap();
        let acc = hardware::find(&g.gpu).unwrap();
        let o = evaluate(g);
        for (l, p) in g.layouts.iter().zip(&o.layouts) {
            let ds = sizeup_core::training::estimate_point(&arch, acc, &request(g, l)).unwrap();
            let mut fused = request(g, l);
            fused.loss = Some(Loss::Fused);
            let fu = sizeup_core::training::estimate_point(&arch, acc, &fused).unwrap();
            let (a, b) = (ds.memory.stage, fu.memory.stage);
            if a == b && matches!(a, Some(Stage::Last | Stage::Only)) {
                let m = ds.layout.micro_batches.min(2);
                let logits = g.seq_len * l.micro_batch * arch.vocab_size.div_ceil(l.tp);
                assert_eq!(
                    ds.memory.total_bytes - fu.memory.total_bytes,
                    4 * m * logits,
                    "{} {}",
                    g.id,
                    p.label
                );
            }
            assert!(ds.memory.total_bytes >= fu.memory.total_bytes);
            assert_eq!(ds.time, fu.time, "{} {}: the same kernels", g.id, p.label);
        }
    }
    let g = shipped()
        .iter()
        .find(|g| g.id == "gpt-1b3-8xV100-16GB-2021")
        .unwrap();
    for p in &evaluate(g).layouts {
        let want = if p.layout.out_of_memory {
            FitVerdict::DoesNotFit
        } else {
            FitVerdict::Fits
        };
        assert_eq!(p.predicted_verdict, Some(want), "{}", p.label);
    }
}

/// The grids' runs kept Megatron's default dropout (0.1): tr3m-1B3 sets none
/// (tr3o-1B3-pile-no-dropout is the run that turns it off), and tr11's README says
/// "The default Megatron-LM dropout settings are inherited".
#[test]
fn every_grid_runs_megatrons_default_dropout() {
    for g in shipped() {
        assert!(g.dropout, "{}", g.id);
        assert!(g.layouts.iter().all(|l| request(g, l).dropout), "{}", g.id);
    }
}

/// No verdict is wrong with full confidence: every run that ran is called a fit,
/// and every run that ran out of memory is called tight (BLOOM's tp 2 · pp 6 ·
/// b 1 at 75.9 of 80 GiB, the 184B model's tp 4 · pp 6 · b 1 at 75.8, the 1B3's
/// pp 2 · b 16 at 29.3 of 32) or not to fit.
#[test]
fn every_fit_verdict_is_right_or_tight() {
    let (mut tight, mut over) = (0, 0);
    for o in evaluate_shipped() {
        assert_eq!(o.oom_but_predicted_fit, 0, "{}", o.id);
        assert_eq!(o.measured_but_predicted_oom, 0, "{}", o.id);
        assert_eq!(o.measured_but_tight, 0, "{}", o.id);
        tight += o.oom_and_tight;
        over += o
            .layouts
            .iter()
            .filter(|l| {
                l.layout.out_of_memory && l.predicted_verdict == Some(FitVerdict::DoesNotFit)
            })
            .count();
    }
    assert_eq!((tight, over), (3, 6));
}
