use super::steady::Ranked;
use super::*;
use crate::hardware;
use crate::inference;
use crate::inference::sim::DEFAULT_MAX_STEPS;

/// Llama-3.1-8B's shape (shared/fixtures/models/llama-3.1-8b/config.json).
fn llama_8b() -> Architecture {
    crate::testing::llama31_8b()
}

/// The example: 2,000-token prompts, 500-token outputs, p95 TTFT ≤ 1 s,
/// TPOT ≤ 50 ms, over the default space's aggregated setups (the simulation
/// confirms those; the `split_` tests below take the disaggregated ones).
fn request(load: ServeLoad) -> ServePlanRequest {
    ServePlanRequest {
        workload: ServeWorkload {
            prompt: 2000,
            output: 500,
            context: None,
            engine: Engine::Vllm,
            weight_options: WeightOptions::default(),
            price_per_gpu_hour: None,
        },
        space: ServeSpace {
            disaggregated: vec![false],
            ..ServeSpace::default()
        },
        load,
        targets: LatencyTargets {
            ttft_seconds: 1.0,
            tpot_seconds: 0.05,
            percentile: Percentile::P95,
        },
        by: ServeRankBy::Cost,
        top: 3,
        simulation: SimBounds {
            requests_per_replica: 200,
            seed: 0,
            max_steps: DEFAULT_MAX_STEPS,
        },
    }
}

/// A small space: two accelerators, up to 8 GPUs, two of each axis.
fn small(load: ServeLoad) -> (Vec<Accelerator>, ServePlanRequest) {
    let accs = vec![
        hardware::find("L40S").unwrap().clone(),
        hardware::find("A100-SXM-80GB").unwrap().clone(),
    ];
    let mut req = request(load);
    req.space.gpus = (1..=8).collect();
    req.space.tp = vec![1, 2];
    req.space.weights = vec![WeightFormat::Bf16, WeightFormat::Awq { group: 128 }];
    (accs, req)
}

/// Every setup of the space, decided one by one by `evaluate`.
fn brute_force(arch: &Architecture, accs: &[Accelerator], req: &ServePlanRequest) -> Vec<Ranked> {
    let prepared = Prepared::new(arch);
    let mut kept = Vec::new();
    for m in req.machines(arch, accs) {
        // (prefill tp, prefill replicas, decode replicas) of every layout: aggregated first
        let mut layouts: Vec<(u64, u64, u64)> = Vec::new();
        if req.space.aggregated() {
            layouts.extend(req.space.replicas(m.gpus_per_replica()).map(|n| (0, 0, n)));
        }
        if req.space.split() && m.tensor_parallel_only() {
            for tp_p in req.space.tps(arch, &accs[m.accelerator]) {
                let splits = req.space.splits(tp_p, m.tp);
                layouts.extend(splits.into_iter().map(|(p, d)| (tp_p, p, d)));
            }
        }
        for (ci, &chunk) in req.space.max_batched_tokens.iter().enumerate() {
            for (mi, &max_num_seqs) in req.space.max_num_seqs.iter().enumerate() {
                for &(tp_p, p, replicas) in &layouts {
                    let candidate = ServeCandidate {
                        accelerator: m.accelerator,
                        tp: m.tp,
                        pp: m.pp,
                        attention_dp: m.attention_dp,
                        ep: m.ep,
                        replicas,
                        prefill: (p > 0).then_some(PrefillPool {
                            tp: tp_p,
                            replicas: p,
                        }),
                        weights: req.space.weights[m.weights],
                        kv_dtype: req.space.kv_dtypes[m.kv],
                        max_num_seqs,
                        max_batched_tokens: chunk,
                    };
                    if let Ok(steady) = evaluate(&prepared, accs, req, &candidate).unwrap() {
                        let (score, tie) = steady::score(&steady, req.by);
                        kept.push(Ranked {
                            score,
                            tie,
                            order: [
                                candidate.gpus(),
                                m.accelerator as u64,
                                m.tp,
                                m.pp,
                                m.attention_dp,
                                m.ep,
                                m.weights as u64,
                                m.kv as u64,
                                tp_p,
                                p,
                                mi as u64,
                                ci as u64,
                            ],
                            candidate,
                            steady,
                        });
                    }
                }
            }
        }
    }
    kept.sort();
    kept
}

#[test]
fn the_steady_tier_keeps_what_deciding_each_setup_alone_keeps() {
    let arch = llama_8b();
    for load in [
        ServeLoad::Rate { per_sec: 6.0 },
        ServeLoad::Users { users: 40 },
    ] {
        for by in [ServeRankBy::Cost, ServeRankBy::Throughput] {
            let (accs, mut req) = small(load);
            req.by = by;
            let found = search_steady(&Prepared::new(&arch), &accs, &req, 10).unwrap();
            let all = brute_force(&arch, &accs, &req);
            let count = req.count(&arch, &accs);
            assert_eq!(found.tally.evaluated, count.setups);
            // 2 accelerators × 2 formats × 2 KV × 6 (tp, pp) of tp 1, 2 and pp 1, 2, 4;
            // 2 chunks × 2 caps × the replica counts of 1 to 8 GPUs: 8 of 1 GPU, 4 of
            // 2 (tp 1·pp 2, tp 2·pp 1), 2 of 4 (tp 1·pp 4, tp 2·pp 2), 1 of 8
            assert_eq!(count.machines, 48);
            assert_eq!(count.setups, 8 * 4 * (8 + 4 + 4 + 2 + 2 + 1));
            assert_eq!(found.tally.refused, 0);
            assert_eq!(found.tally.kept, all.len() as u64);
            assert_eq!(
                found.tally.kept
                    + found.tally.no_room
                    + found.tally.over_capacity
                    + found.tally.over_latency,
                found.tally.evaluated
            );
            assert_eq!(found.front, all[..10].to_vec());
        }
    }
}

#[test]
fn the_operating_point_is_the_estimate_at_the_fewest_requests_that_carry_the_load() {
    let arch = llama_8b();
    let (accs, req) = small(ServeLoad::Rate { per_sec: 6.0 });
    let found = search_steady(&Prepared::new(&arch), &accs, &req, 6).unwrap();
    for r in &found.front {
        let c = &r.candidate;
        let s = &r.steady;
        let e = inference::estimate(
            &arch,
            &c.request(&req.workload, &accs[c.accelerator], s.concurrency),
        )
        .unwrap();
        assert!(e.fits);
        let sched = e.schedule;
        assert_eq!(
            s.ttft_seconds.to_bits(),
            sched.time_to_first_token_seconds.to_bits()
        );
        assert_eq!(
            s.tpot_seconds.to_bits(),
            sched.time_per_output_token_seconds.to_bits()
        );
        assert_eq!(
            s.replica_output_tokens_per_sec.to_bits(),
            sched.output_tokens_per_sec.to_bits()
        );
        let need = 6.0 / c.replicas as f64 * 500.0;
        assert!(sched.output_tokens_per_sec >= need);
        if s.concurrency > 1 {
            let fewer = inference::estimate(
                &arch,
                &c.request(&req.workload, &accs[c.accelerator], s.concurrency - 1),
            )
            .unwrap();
            assert!(fewer.schedule.output_tokens_per_sec < need);
        }
        // the capacity: the most requests in flight whose TPOT meets 50 ms
        let at = |n: u64| {
            inference::estimate(&arch, &c.request(&req.workload, &accs[c.accelerator], n))
                .unwrap()
                .schedule
        };
        assert!(at(s.capacity_concurrency).time_per_output_token_seconds <= 0.05);
        if s.capacity_concurrency < c.max_num_seqs {
            let over = at(s.capacity_concurrency + 1);
            let fits = inference::estimate(
                &arch,
                &c.request(
                    &req.workload,
                    &accs[c.accelerator],
                    s.capacity_concurrency + 1,
                ),
            )
            .unwrap()
            .fits;
            assert!(over.time_per_output_token_seconds > 0.05 || !fits);
        }
        // $/h = GPUs × the catalog price
        let price = accs[c.accelerator].price_per_hour_usd.unwrap();
        assert_eq!(s.usd_per_hour, Some(price * c.gpus() as f64));
    }
}

#[test]
fn users_are_shared_evenly_among_replicas() {
    let arch = llama_8b();
    let (accs, req) = small(ServeLoad::Users { users: 40 });
    let found = search_steady(&Prepared::new(&arch), &accs, &req, 8).unwrap();
    for r in &found.front {
        assert_eq!(r.steady.concurrency, 40u64.div_ceil(r.candidate.replicas));
    }
}

#[test]
fn rows_are_the_estimate_and_the_simulation_of_their_request_to_the_bit() {
    let arch = llama_8b();
    let (accs, mut req) = small(ServeLoad::Rate { per_sec: 6.0 });
    req.top = 2;
    let plan = search(&arch, &accs, &req).unwrap();
    assert_eq!(plan.top.len(), 2);
    assert!(plan.confirmed.simulated >= 2);
    for e in &plan.top {
        assert_eq!(e.request.load, Load::Concurrency(e.steady.concurrency));
        assert_eq!(inference::estimate(&arch, &e.request).unwrap(), e.estimate);
        let sim = e
            .candidate
            .simulation(&req.workload, req.load, &req.simulation);
        let report = inference::sim::simulate(&arch, &e.request, &sim).unwrap();
        let sim = e.simulated;
        assert_eq!(Simulated::of(&report, &req.targets), sim);
        assert!(sim.meets);
        let headroom = e.headroom;
        assert!(headroom.meets >= 6.0);
        assert!(headroom.breaks.is_none_or(|b| b > headroom.meets));
    }
    // ranked by cost
    assert!(plan.top[0].steady.usd_per_hour <= plan.top[1].steady.usd_per_hour);
}

#[test]
fn llama_8b_at_20_requests_per_second_on_the_catalog() {
    // the example over the catalog's priced data-centre GPUs
    let arch = llama_8b();
    let accs = default_accelerators();
    assert_eq!(accs.len(), 17);
    let plan = search(&arch, &accs, &request(ServeLoad::Rate { per_sec: 20.0 })).unwrap();
    // 17 accelerators' formats and KV precisions × tp 1, 2, 4, 8 × pp 1, 2, 4 (every
    // accelerator here has a GPU link)
    assert_eq!(plan.space.machines, 336 * 3);
    assert_eq!(plan.tally.evaluated, plan.space.setups);
    let w = &plan.top[0];
    // two GH200 ($1.49/h each, Lambda) with fp8 weights and KV: $2.98/h
    assert_eq!(w.accelerator, "GH200");
    assert_eq!(w.candidate.gpus(), 2);
    assert_eq!(w.candidate.weights, WeightFormat::Fp8E4m3);
    assert_eq!(w.steady.usd_per_hour, Some(2.98));
    assert!(w.simulated.meets);
    // the Pareto front: fewer GPUs serve more per GPU, more GPUs serve each user faster
    assert!(plan
        .pareto
        .windows(2)
        .all(|p| p[0].gpus < p[1].gpus
            && p[0].tokens_per_sec_per_user < p[1].tokens_per_sec_per_user));
    assert_eq!(plan.pareto[0].output_tokens_per_sec_per_gpu, 20.0 * 500.0);
}

#[test]
fn an_unreachable_target_names_the_nearest_miss() {
    let arch = llama_8b();
    let (accs, mut req) = small(ServeLoad::Rate { per_sec: 1.0 });
    // every setup carries 1 request/s on 8 GPUs, but no prefill of 2,000 tokens
    // takes a millisecond
    req.space.gpus = vec![8];
    req.targets.ttft_seconds = 0.001;
    let plan = search(&arch, &accs, &req).unwrap();
    assert!(plan.top.is_empty());
    assert_eq!(plan.tally.kept, 0);
    let miss = plan.nearest_miss.unwrap();
    let Some(MissReason::Latency { ttft_seconds, .. }) = miss.reason else {
        panic!("{:?}", miss.reason)
    };
    assert!(ttft_seconds > 0.001);
    assert_eq!(miss.ratio, ttft_seconds / 0.001);
    assert_eq!(
        miss.estimate.unwrap().schedule.time_to_first_token_seconds,
        ttft_seconds
    );
}

#[test]
fn bad_requests_name_the_field() {
    let arch = llama_8b();
    let (accs, req) = small(ServeLoad::Rate { per_sec: 6.0 });
    let field = |r: &ServePlanRequest| match search(&arch, &accs, r) {
        Err(CoreError::Zero { field }) | Err(CoreError::Invalid { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    let mut r = req.clone();
    r.top = 0;
    assert_eq!(field(&r), "top");
    let mut r = req.clone();
    r.workload.context = Some(100);
    assert_eq!(field(&r), "context");
    let mut r = req.clone();
    r.load = ServeLoad::Rate { per_sec: f64::NAN };
    assert_eq!(field(&r), "rate");
    let mut r = req.clone();
    r.space.max_num_seqs = vec![MAX_NUM_SEQS + 1];
    assert_eq!(field(&r), "max_num_seqs");
    let mut r = req.clone();
    r.space.gpus = vec![8, MAX_SERVE_GPUS + 1];
    assert_eq!(field(&r), "gpus");
    let mut r = req.clone();
    r.targets.tpot_seconds = 0.0;
    assert_eq!(field(&r), "tpot");
    let mut r = req;
    r.space.gpus.clear();
    assert_eq!(field(&r), "gpus");
}

#[test]
fn a_request_round_trips_through_json() {
    let (_, req) = small(ServeLoad::Users { users: 40 });
    let text = serde_json::to_string(&req).unwrap();
    let back: ServePlanRequest = serde_json::from_str(&text).unwrap();
    assert_eq!(back, req);
}

#[test]
fn a_setup_the_simulation_refuses_is_named_with_its_simulated_figures() {
    // one H100 at 3 req/s: the steady state's TTFT is one 2,000-token prefill
    // (about 45 ms), within a 60 ms target; under Poisson arrivals the p95 TTFT
    // queues behind other prompts and misses it, and no more replicas are allowed
    let arch = llama_8b();
    let accs = vec![hardware::find("H100-SXM").unwrap().clone()];
    let mut req = request(ServeLoad::Rate { per_sec: 3.0 });
    req.space = ServeSpace {
        gpus: vec![1],
        tp: vec![1],
        pp: vec![1],
        expert_parallel: vec![false],
        attention_dp: vec![1],
        weights: vec![WeightFormat::Bf16],
        kv_dtypes: vec![KvDtype::Bf16],
        max_num_seqs: vec![256],
        max_batched_tokens: vec![8192],
        disaggregated: vec![false],
    };
    req.targets.ttft_seconds = 0.06;
    let plan = search(&arch, &accs, &req).unwrap();
    assert_eq!(plan.tally.kept, 1);
    assert!(plan.top.is_empty());
    assert_eq!(plan.confirmed.simulated, 1);
    assert_eq!(plan.confirmed.refused, 1);
    let miss = plan.nearest_miss.unwrap();
    assert!(miss.reason.is_none());
    let sim = miss.simulated.unwrap();
    assert!(sim.ttft.p95 > 0.06);
    assert_eq!(miss.ratio, sim.margin());
    assert!(sim.ttft_ratio > 1.0 && !sim.meets);
}

/// One accelerator, the default axes, disaggregated setups searched too.
fn one_gpu_both(load: ServeLoad, name: &str) -> (Vec<Accelerator>, ServePlanRequest) {
    let mut req = request(load);
    req.space.disaggregated = vec![false, true];
    req.space.gpus = (1..=8).collect();
    (vec![hardware::find(name).unwrap().clone()], req)
}

#[test]
fn the_steady_tier_keeps_what_deciding_each_disaggregated_setup_alone_keeps() {
    let arch = llama_8b();
    for load in [
        ServeLoad::Rate { per_sec: 6.0 },
        ServeLoad::Users { users: 40 },
    ] {
        let (accs, mut req) = small(load);
        req.space.disaggregated = vec![true];
        let found = search_steady(&Prepared::new(&arch), &accs, &req, 10).unwrap();
        let all = brute_force(&arch, &accs, &req);
        let count = req.count(&arch, &accs);
        // (P, D) with P·t_p + D·t_d ≤ 8: t_d 1 beside t_p 1 (28) and 2 (12),
        // t_d 2 beside t_p 1 (12) and 2 (6); 8 (accelerator, weights, KV) × 4 caps
        assert_eq!(count.setups, 8 * 4 * (28 + 12 + 12 + 6));
        assert_eq!(count.disaggregated_setups, count.setups);
        assert_eq!(found.tally.evaluated, count.setups);
        assert_eq!(found.tally.refused, 0);
        assert_eq!(found.tally.kept, all.len() as u64);
        assert!(found.tally.kept > 0);
        assert_eq!(found.front, all[..10].to_vec());
    }
}

#[test]
fn a_disaggregated_ttft_is_the_prefill_queue_the_prefill_and_the_kv_transfer() {
    // H100-SXM, bf16 weights and KV, 1 prefill + 1 decode replica of tp 1, 2 req/s
    let arch = llama_8b();
    let (accs, mut req) = one_gpu_both(ServeLoad::Rate { per_sec: 2.0 }, "H100-SXM");
    req.space.weights = vec![WeightFormat::Bf16];
    req.space.kv_dtypes = vec![KvDtype::Bf16];
    let c = ServeCandidate {
        accelerator: 0,
        tp: 1,
        pp: 1,
        attention_dp: 1,
        ep: 1,
        replicas: 1,
        prefill: Some(PrefillPool { tp: 1, replicas: 1 }),
        weights: WeightFormat::Bf16,
        kv_dtype: KvDtype::Bf16,
        max_num_seqs: 256,
        max_batched_tokens: 8192,
    };
    let prepared = Prepared::new(&arch);
    let s = evaluate(&prepared, &accs, &req, &c).unwrap().unwrap();
    let split = s.split.unwrap();
    // the prefill is `sizeup infer --concurrency 1`'s on the prefill replica
    let prefill = inference::estimate(&arch, &c.request(&req.workload, &accs[0], 1))
        .unwrap()
        .prefill
        .seconds;
    assert_eq!(split.prefill_seconds, prefill);
    // 2,000 tokens × 2·8 heads·128·32 layers·2 bytes = 262,144,000 bytes (125 blocks of 16)
    assert_eq!(split.transfer_bytes, 262_144_000);
    // 2 GPUs fit one DGX H100 node: NVLink 450 GB/s × 0.8, 1.9 µs per hop, 8.4 µs per call
    assert!(split.transfer_in_node);
    let transfer = 8.4e-6 + 1.9e-6 + 262_144_000.0 / (450e9 * 0.8);
    assert!((split.transfer_seconds - transfer).abs() < 1e-15);
    // M/D/1: ρ = 2 req/s · S, W = ρ·S / (2(1 − ρ))
    let rho = 2.0 * prefill;
    let wait = rho * prefill / (2.0 * (1.0 - rho));
    assert!((split.prefill_utilization - rho).abs() < 1e-15);
    assert!((s.ttft_seconds - (wait + prefill + transfer)).abs() < 1e-12);
    // the decode replica's TPOT is one decode step, no prefill in it
    let decode = inference::estimate(&arch, &c.request(&req.workload, &accs[0], s.concurrency))
        .unwrap()
        .decode
        .seconds;
    assert_eq!(s.tpot_seconds, decode);
    assert_eq!(s.gpus, 2);
}

#[test]
fn prompt_heavy_traffic_is_served_cheaper_disaggregated() {
    // 8,000-token prompts, 50-token outputs, TPOT ≤ 10 ms at 8 req/s on H100s:
    // aggregated, each replica's steps carry other requests' prompt chunks
    // (TPOT = step + C·S/o) and it takes 6 GPUs; split, 2 prefill replicas feed
    // one decode replica whose steps hold decodes only: 3 GPUs
    let arch = llama_8b();
    let (accs, mut req) = one_gpu_both(ServeLoad::Rate { per_sec: 8.0 }, "H100-SXM");
    req.workload.prompt = 8000;
    req.workload.output = 50;
    req.targets.ttft_seconds = 3.0;
    req.targets.tpot_seconds = 0.01;
    let plan = search(&arch, &accs, &req).unwrap();
    let first = &plan.top[0];
    assert_eq!(first.candidate.gpus(), 3);
    assert_eq!(first.candidate.replicas, 1);
    assert_eq!(
        first.candidate.prefill,
        Some(PrefillPool { tp: 1, replicas: 2 })
    );
    // both pools simulated apart (the CLI test reproduces each to the bit): the
    // row meets its targets, and its first token waits for a whole prompt's
    // prefill and the KV transfer, which the decode pool alone would not: it
    // computes only each prompt's last block
    let split = first.steady.split.unwrap();
    assert!(first.simulated.meets);
    assert_eq!(first.simulated.runs, 2);
    assert!(first.simulated.ttft.p50 > split.prefill_seconds + split.transfer_seconds);
    let mut decode_sim = first
        .candidate
        .simulation(&req.workload, req.load, &req.simulation);
    decode_sim.scheduler.prompt_arrives_cached = true;
    let decode = inference::sim::simulate(&arch, &first.request, &decode_sim).unwrap();
    assert!(decode.ttft.p50 < split.prefill_seconds / 10.0);
    req.space.disaggregated = vec![false];
    let aggregated = search(&arch, &accs, &req).unwrap();
    assert_eq!(aggregated.top[0].candidate.gpus(), 6);
}

#[test]
fn decode_heavy_traffic_is_served_cheaper_aggregated() {
    // 100-token prompts, 1,000-token outputs at 4 req/s: one aggregated H100
    // carries it; a split needs a second GPU for its prefill pool
    let arch = llama_8b();
    let (accs, req) = one_gpu_both(ServeLoad::Rate { per_sec: 4.0 }, "H100-SXM");
    let mut req = req;
    req.workload.prompt = 100;
    req.workload.output = 1000;
    let found = search_steady(&Prepared::new(&arch), &accs, &req, 400).unwrap();
    assert_eq!(found.front[0].candidate.gpus(), 1);
    assert!(found.front[0].candidate.prefill.is_none());
    let split = found
        .front
        .iter()
        .find(|r| r.candidate.prefill.is_some())
        .unwrap();
    assert_eq!(split.candidate.gpus(), 2);
    assert!(split.score > found.front[0].score);
}

/// A space axis with a value twice, or longer than its limit, is refused before
/// anything is enumerated (an HTTP body of five million `tp` entries would
/// otherwise list every machine first).
#[test]
fn repeated_or_overlong_axes_are_refused_by_name() {
    let (accs, mut req) = small(ServeLoad::Rate { per_sec: 1.0 });
    req.space.tp = vec![1, 2, 1];
    match validate(&accs, &req) {
        Err(CoreError::Invalid { field, value, .. }) => {
            assert_eq!((field, value.as_str()), ("tp", "1"))
        }
        other => panic!("{other:?}"),
    }
    let (accs, mut req) = small(ServeLoad::Rate { per_sec: 1.0 });
    req.space.max_batched_tokens = (1..=(MAX_AXIS_VALUES as u64 + 1)).collect();
    match validate(&accs, &req) {
        Err(CoreError::Invalid { field, .. }) => assert_eq!(field, "max_batched_tokens"),
        other => panic!("{other:?}"),
    }
    let (mut accs, req) = small(ServeLoad::Rate { per_sec: 1.0 });
    accs.push(accs[0].clone());
    match validate(&accs, &req) {
        Err(CoreError::Invalid { field, value, .. }) => {
            assert_eq!((field, value.as_str()), ("gpu", "L40S"))
        }
        other => panic!("{other:?}"),
    }
}

/// M/D/1 by hand: half busy with a 1 s service, a prompt waits ρ·s/(2(1−ρ)) =
/// 0.5 s on average; the utilization that keeps the wait within 0.5 s is
/// 2·0.5/(1 + 2·0.5) = 0.5; a 3 s wait on a 2 s service allows 0.75.
#[test]
fn md1_wait_and_its_inverse_by_hand() {
    use super::split::{md1_utilization_within, md1_wait};
    assert_eq!(md1_wait(0.5, 1.0), 0.5);
    assert_eq!(md1_utilization_within(0.5, 1.0), 0.5);
    assert_eq!(md1_utilization_within(3.0, 2.0), 0.75);
    assert_eq!(md1_wait(0.75, 2.0), 3.0);
    assert_eq!(md1_utilization_within(0.0, 1.0), 0.0);
}

/// A disaggregated setup whose one prefill replica cannot keep up is missed as a
/// prefill overload (not as a decode cap of 1): 20 prompts/s of 8,000 tokens
/// against one L40S replica that prefills a few per second, while the decode
/// replica carries the 20 requests/s of 10 tokens.
#[test]
fn an_overloaded_prefill_pool_is_its_own_miss() {
    let arch = llama_8b();
    let (mut accs, mut req) = small(ServeLoad::Rate { per_sec: 20.0 });
    accs.truncate(1);
    req.space.disaggregated = vec![true];
    req.space.gpus = vec![2];
    req.space.tp = vec![1];
    req.space.weights = vec![WeightFormat::Bf16];
    req.workload.prompt = 8000;
    req.workload.output = 10;
    req.targets.ttft_seconds = 1000.0;
    let plan = search(&arch, &accs, &req).unwrap();
    assert!(plan.top.is_empty());
    let miss = plan.nearest_miss.unwrap();
    let Some(MissReason::PrefillOverCapacity {
        offered_per_replica,
        carried_per_replica,
        prefill_replicas,
    }) = miss.reason
    else {
        panic!("{:?}", miss.reason)
    };
    // 1 prefill + 1 decode replica on 2 GPUs: the one prefill replica takes all 20/s;
    // 8,000 tokens are 2·8e9·8000 ≈ 1.3e14 FLOP, a third of a second or more on an
    // L40S (362 TFLOP/s bf16 peak): fewer than 3 prompts/s
    assert_eq!(prefill_replicas, 1);
    assert_eq!(offered_per_replica, 20.0);
    assert!(carried_per_replica < 3.0, "{carried_per_replica}");
    assert_eq!(miss.ratio, 20.0 / carried_per_replica);
}

#[test]
fn only_an_engine_that_pipelines_its_stages_is_planned_with_them() {
    let arch = llama_8b();
    let (accs, mut req) = small(ServeLoad::Rate { per_sec: 6.0 });
    req.workload.engine = Engine::LlamaCpp;
    req.space.pp = vec![1, 2];
    let err = search(&arch, &accs, &req).unwrap_err();
    assert!(
        matches!(&err, CoreError::Invalid { field: "pp", value, .. } if value == "2"),
        "{err:?}"
    );
    req.space.pp = vec![1];
    // nor one without data-parallel attention with attention groups
    let err = search(&arch, &accs, &req).unwrap_err();
    assert!(
        matches!(&err, CoreError::Invalid { field: "attention_dp", value, .. } if value == "2"),
        "{err:?}"
    );
    req.space.attention_dp = vec![1];
    // nor one without expert parallelism with whole experts
    let err = search(&arch, &accs, &req).unwrap_err();
    assert!(
        matches!(&err, CoreError::Invalid { field: "expert_parallel", value, .. } if value == "true"),
        "{err:?}"
    );
    req.space.expert_parallel = vec![false];
    assert!(search(&arch, &accs, &req).is_ok());
}

/// Mixtral-8x7B's shape (shared/fixtures/models/mixtral-8x7b-v0.1/config.json).
fn mixtral() -> Architecture {
    let mut a = crate::Shape::llama(32, 4096, 32, 8, 14336, 32000)
        .build()
        .unwrap();
    a.max_context = 32768;
    a.map_blocks(|b| {
        let expert = *b.dense().unwrap();
        b.ffn = crate::arch::BlockFfn::Moe(crate::arch::Moe {
            num_experts: 8,
            experts_per_token: 2,
            expert,
            shared: None,
            router_bias: false,
        });
    });
    a
}

#[test]
fn expert_parallel_machines_are_walked_as_deciding_each_setup_alone() {
    let arch = mixtral();
    let accs = vec![
        hardware::find("A100-SXM-80GB").unwrap().clone(),
        hardware::find("H100-SXM").unwrap().clone(),
    ];
    let mut req = request(ServeLoad::Rate { per_sec: 4.0 });
    req.space.gpus = (1..=8).collect();
    req.space.tp = vec![1, 2, 4];
    req.space.pp = vec![1];
    req.space.weights = vec![WeightFormat::Bf16];
    let count = req.count(&arch, &accs);
    // per accelerator and KV precision, (tp, attention groups) with tp · groups ≤ 8:
    // experts split, and held whole where they spread over 2 to 8 ranks
    // tp 1: groups 1 (split only), 2, 4, 8; tp 2: 1, 2, 4; tp 4: 1, 2
    assert_eq!(
        count.machines,
        2 * 2 * ((1 + 2 + 2 + 2) + (2 + 2 + 2) + (2 + 2))
    );
    let found = search_steady(&Prepared::new(&arch), &accs, &req, 10).unwrap();
    let all = brute_force(&arch, &accs, &req);
    assert_eq!(found.tally.evaluated, count.setups);
    assert_eq!(found.tally.kept, all.len() as u64);
    assert_eq!(found.front, all[..10].to_vec());
    // whole experts and attention groups are kept where they meet the targets,
    // and priced as `infer --ep --attention-dp`
    for kept in [
        all.iter()
            .find(|r| r.candidate.ep > 1 && r.candidate.attention_dp == 1),
        all.iter().find(|r| r.candidate.attention_dp > 1),
    ] {
        let kept = kept.expect("such a setup meets the targets");
        let c = &kept.candidate;
        assert!(c.ep == 1 || c.ep == c.tp * c.attention_dp, "{c:?}");
        let e = inference::estimate(
            &arch,
            &c.request(&req.workload, &accs[c.accelerator], kept.steady.concurrency),
        )
        .unwrap();
        assert_eq!((e.ep, e.attention_dp), (c.ep, c.attention_dp));
        assert_eq!(
            kept.steady.tpot_seconds.to_bits(),
            e.schedule.time_per_output_token_seconds.to_bits()
        );
    }
}

#[test]
fn expert_group_sizes_follow_the_engine() {
    let arch = mixtral();
    let space = request(ServeLoad::Rate { per_sec: 4.0 }).space;
    // vLLM: all ranks or none; SGLang and TensorRT-LLM: every divisor, up to the 8 experts
    let all = Engine::Vllm.expert_groups();
    let divisors = Engine::Sglang.expert_groups();
    assert_eq!(space.eps(&arch, 4, all), [1, 4]);
    assert_eq!(space.eps(&arch, 4, divisors), [1, 2, 4]);
    assert_eq!(space.eps(&arch, 12, divisors), [1, 2, 3, 4, 6]);
    // the divisors are sought only up to the expert count, however many the ranks
    assert_eq!(space.eps(&arch, 1 << 40, divisors), [1, 2, 4, 8]);
    assert_eq!(space.eps(&arch, 16, all), [1]);
    assert_eq!(space.eps(&arch, 4, Engine::LlamaCpp.expert_groups()), [1]);
    let mut whole = space.clone();
    whole.expert_parallel = vec![true];
    assert_eq!(whole.eps(&arch, 6, divisors), [2, 3, 6]);
}
