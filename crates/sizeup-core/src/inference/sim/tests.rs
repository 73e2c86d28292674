use super::*;
use crate::dtype::WeightOptions;
use crate::hardware::find;
use crate::inference::{pass_time, Engine, Pass};

/// Llama-3.1-8B: shared/fixtures/models/llama-3.1-8b/config.json
fn llama_8b() -> Architecture {
    let mut s = crate::testing::llama31_8b_shape();
    s.max_context = 131_072;
    s.build().unwrap()
}

fn h100(prompt: u64, output: u64) -> InferRequest {
    let mut req = InferRequest::new(find("H100-SXM").unwrap(), Engine::Vllm);
    req.prompt = prompt;
    req.output = output;
    req
}

/// The pass model's time for one pass of `req`'s machine.
fn pass_seconds(arch: &Architecture, req: &InferRequest, pass: Pass) -> f64 {
    let stored = stored_tensors(arch, req.weights, &WeightOptions::default()).unwrap();
    pass_time(
        arch,
        &stored,
        &pass,
        crate::inference::prepared::machine(req),
    )
    .seconds
}

#[test]
fn one_request_costs_infers_prefill_and_decode_plus_the_stated_overheads() {
    let arch = llama_8b();
    // a prompt of whole 16-token blocks: the decode grid prices it exactly
    let req = h100(1024, 2);
    let mut sim = SimRequest::poisson(0.001, 1024, 2);
    sim.requests = 1;
    sim.scheduler.step_overhead_seconds = 0.001;
    sim.scheduler.request_overhead_seconds = 0.005;
    let r = simulate(&arch, &req, &sim).unwrap();
    let est = estimate(&arch, &req).unwrap();
    let prefill = pass_seconds(
        &arch,
        &req,
        Pass {
            sequences: 1,
            new_tokens: 1024,
            cached_tokens: 0,
        },
    );
    assert_eq!(prefill, est.prefill.seconds);
    // TTFT = request overhead + prefill + one step overhead, exactly
    assert_eq!(r.ttft.samples, 1);
    // (exact up to the rounding of the clock: the request is sent at a random time)
    let expected = 0.005 + prefill + 0.001;
    assert!(
        (r.ttft.p50 - expected).abs() < 1e-12,
        "{} vs {expected}",
        r.ttft.p50
    );
    // the one decode step feeds the first token with the 1024 prompt tokens cached
    let decode = pass_seconds(
        &arch,
        &req,
        Pass {
            sequences: 1,
            new_tokens: 1,
            cached_tokens: 1024,
        },
    );
    let tpot = r.tpot.p50;
    assert!(
        (tpot - (decode + 0.001)).abs() < 1e-12,
        "{tpot} vs {decode}"
    );
    assert_eq!(r.itl.p50, tpot);
    assert_eq!(r.steps, 2);
    assert_eq!(r.state, RunState::TooShortToJudge);
}

#[test]
fn a_long_answer_decodes_at_infers_average_speed() {
    let arch = llama_8b();
    let req = h100(1000, 512);
    let mut sim = SimRequest::poisson(0.001, 1000, 512);
    sim.requests = 1;
    let r = simulate(&arch, &req, &sim).unwrap();
    let est = estimate(&arch, &req).unwrap();
    // infer prices every step at the mean context prompt + output/2; the
    // simulation at each step's own context: the mean of a linear cost is the
    // cost at the mean, up to the memory curve's steps between grid points
    let rel = r.tpot.p50 / est.decode.seconds - 1.0;
    assert!(rel.abs() < 1e-3, "{} vs {}", r.tpot.p50, est.decode.seconds);
    // a 1000-token prompt lies between the grid's 992 and 1008: interpolated
    let rel = r.ttft.p50 / est.prefill.seconds - 1.0;
    assert!(
        rel.abs() < 1e-4,
        "{} vs {}",
        r.ttft.p50,
        est.prefill.seconds
    );
}

#[test]
fn littles_law_holds_over_the_run() {
    let arch = llama_8b();
    let req = h100(512, 128);
    let mut sim = SimRequest::poisson(20.0, 512, 128);
    sim.lengths = Lengths::Drawn {
        prompt: Dist::LogNormal {
            mean: 512.0,
            sd: 300.0,
        },
        output: Dist::Uniform { lo: 16, hi: 256 },
    };
    sim.requests = 2000;
    let r = simulate(&arch, &req, &sim).unwrap();
    assert_eq!(r.requests_completed, 2000);
    assert_eq!(r.state, RunState::Steady);
    // a run from empty to empty: ∫ N dt = Σ W, so L = λ·W with λ = completed / T
    let lambda = r.requests_completed as f64 / r.simulated_seconds;
    let little = lambda * r.engine_latency_mean_seconds;
    assert!(
        (r.in_system.mean / little - 1.0).abs() < 1e-9,
        "{} vs {little}",
        r.in_system.mean
    );
    assert!(r.running.mean > 1.0);
}

#[test]
fn an_offered_rate_beyond_capacity_is_called_overloaded() {
    let arch = llama_8b();
    let req = h100(2048, 512);
    let mut sim = SimRequest::poisson(200.0, 2048, 512);
    sim.requests = 2000;
    let r = simulate(&arch, &req, &sim).unwrap();
    let RunState::Overloaded {
        offered_per_sec,
        capacity_per_sec,
        ..
    } = r.state
    else {
        panic!("{:?}", r.state);
    };
    assert_eq!(offered_per_sec, 200.0);
    assert!(
        capacity_per_sec > 0.0 && capacity_per_sec < 100.0,
        "{capacity_per_sec}"
    );
    // the same engine at a tenth of its capacity is steady
    sim.arrivals = Arrivals::Poisson {
        rate_per_sec: capacity_per_sec / 10.0,
    };
    let r = simulate(&arch, &req, &sim).unwrap();
    assert_eq!(r.state, RunState::Steady);
}

#[test]
fn a_seed_fixes_the_run() {
    let arch = llama_8b();
    let req = h100(512, 128);
    let mut sim = SimRequest::poisson(10.0, 512, 128);
    sim.requests = 300;
    sim.lengths = Lengths::Drawn {
        prompt: Dist::Normal {
            mean: 512.0,
            sd: 100.0,
        },
        output: Dist::Normal {
            mean: 128.0,
            sd: 30.0,
        },
    };
    let a = simulate(&arch, &req, &sim).unwrap();
    let b = simulate(&arch, &req, &sim).unwrap();
    assert_eq!(a, b);
    sim.seed = 1;
    let c = simulate(&arch, &req, &sim).unwrap();
    assert_ne!(a.e2e, c.e2e);
}

#[test]
fn a_small_pool_preempts_and_still_finishes_every_request() {
    let arch = llama_8b();
    // an L4 (24 GB) holds the 16 GB of weights and a few GB of cache
    let mut req = InferRequest::new(find("L4").unwrap(), Engine::Vllm);
    req.prompt = 1000;
    req.output = 1000;
    let mut sim = SimRequest::poisson(1000.0, 1000, 1000);
    sim.arrivals = Arrivals::ClosedLoop { clients: 64 };
    sim.requests = 128;
    let r = simulate(&arch, &req, &sim).unwrap();
    assert!(r.kv_pool_blocks * 16 < 64 * 2000, "{}", r.kv_pool_blocks);
    assert!(r.preemptions > 0);
    assert_eq!(r.requests_completed, 128);
    assert!(r.kv_pool_use.max <= 1.0 && r.kv_pool_use.max > 0.9);
    assert_eq!(r.state, RunState::Steady);
}

#[test]
fn prefix_hits_shorten_the_first_token() {
    let arch = llama_8b();
    let req = h100(4096, 64);
    let mut sim = SimRequest::poisson(1.0, 4096, 64);
    sim.requests = 50;
    let cold = simulate(&arch, &req, &sim).unwrap();
    sim.scheduler.prefix_hit_rate = 0.75;
    let warm = simulate(&arch, &req, &sim).unwrap();
    assert!(warm.ttft.p50 < 0.5 * cold.ttft.p50);
}

/// A prompt whose KV cache arrives with it (a disaggregated decode pool)
/// computes only the block holding its last token: for 4,096 tokens in 16-token
/// blocks, the last 16, exactly as a prefix hit of 4,080 tokens would.
#[test]
fn a_prompt_arriving_cached_computes_only_its_last_block() {
    let arch = llama_8b();
    let req = h100(4096, 64);
    let mut sim = SimRequest::poisson(1.0, 4096, 64);
    sim.requests = 50;
    let cold = simulate(&arch, &req, &sim).unwrap();
    sim.scheduler.prefix_hit_rate = 4080.0 / 4096.0;
    let hit = simulate(&arch, &req, &sim).unwrap();
    sim.scheduler.prefix_hit_rate = 0.0;
    sim.scheduler.prompt_arrives_cached = true;
    let cached = simulate(&arch, &req, &sim).unwrap();
    assert_eq!(cached.ttft, hit.ttft);
    assert_eq!(cached.tpot, hit.tpot);
    assert!(cached.ttft.p50 < cold.ttft.p50 / 10.0, "{:?}", cached.ttft);
}

#[test]
fn a_closed_loop_keeps_its_clients_busy() {
    let arch = llama_8b();
    let req = h100(256, 256);
    let mut sim = SimRequest::poisson(1.0, 256, 256);
    sim.arrivals = Arrivals::ClosedLoop { clients: 32 };
    sim.requests = 640;
    let r = simulate(&arch, &req, &sim).unwrap();
    assert_eq!(r.requests_completed, 640);
    assert_eq!(r.queue.max, 0.0);
    // 32 requests in flight from the first step to the tail of the last 32
    assert!(
        r.running.mean > 28.0 && r.running.max == 32.0,
        "{:?}",
        r.running
    );
}

#[test]
fn the_step_cap_stops_a_run_and_says_so() {
    let arch = llama_8b();
    let req = h100(256, 256);
    let mut sim = SimRequest::poisson(5.0, 256, 256);
    sim.max_steps = 100;
    let r = simulate(&arch, &req, &sim).unwrap();
    assert_eq!(r.steps, 100);
    assert_eq!(r.state, RunState::StepCap { steps: 100 });
}

/// Llama-3.1-8B's shape with every layer on a 4096-token sliding window and no
/// position limit: its cache stops growing, so a 2³¹-token context fits.
fn windowed_8b() -> Architecture {
    let mut arch = llama_8b();
    let mut sliding = arch.layers.blocks[0].clone();
    if let crate::arch::Mixer::Attention(a) = &mut sliding.mixer {
        a.span = crate::arch::Span::Window(4096);
    }
    arch.layers = crate::arch::Schedule::uniform(sliding, 32);
    arch.max_context = crate::arch::UNBOUNDED_CONTEXT;
    arch
}

#[test]
fn a_huge_context_prices_a_few_passes_not_a_table_of_its_length() {
    let arch = windowed_8b();
    let req = h100(1 << 31, 4);
    let est = estimate(&arch, &req).unwrap();
    let stored = stored_tensors(&arch, req.weights, &WeightOptions::default()).unwrap();
    let list = crate::ops::list(&arch).unwrap();
    let machine = crate::inference::prepared::machine(&req);
    let mut pricer = StepPricer::new(
        &arch,
        PassWeights::new(&arch, &list, &stored, machine.split()),
        machine,
        1,
    );
    // one sequence at 2³¹ cached tokens (on the grid) and 256 at 2³¹ + 8 each (between two points)
    let one = pricer.decode(1, 1 << 31);
    let many = pricer.decode(256, 256 * ((1 << 31) + 8));
    assert!(one > 0.0 && many > one, "{one} {many}");
    assert_eq!(pricer.passes_held(), 3);
    assert_eq!(pricer.passes_priced, 3);
    assert!(est.decode.seconds > 0.0);
}

#[test]
fn a_run_at_a_context_of_two_to_the_31_completes() {
    let arch = windowed_8b();
    let prompt = 1u64 << 31;
    let req = h100(prompt, 4);
    let mut sim = SimRequest::poisson(0.001, prompt, 4);
    sim.requests = 2;
    // almost the whole prompt is found in the prefix cache: the run prefills a
    // few thousand tokens and decodes at a context of 2³¹
    sim.scheduler.prefix_hit_rate = 0.999_999;
    let r = simulate(&arch, &req, &sim).unwrap();
    assert_eq!(r.requests_completed, 2);
    assert_eq!(r.requests_rejected, 0);
    // 2³¹ · 10⁻⁶ = 2147.48 tokens left, rounded to whole blocks of hits: 2160 new
    // tokens in one chunk, then 3 decodes, for each request (they arrive
    // minutes apart, so they never share a step)
    assert_eq!(r.steps, 8);
    assert_eq!(r.tpot.samples, 2);
    assert!(r.tpot.p50.is_finite() && r.tpot.p50 > 0.0);
}

/// A pipelined replica is simulated as its batches in flight, each an engine with
/// its share of the load, the sequence cap and the KV pool, stepping through
/// every stage.
#[test]
fn a_pipelined_replica_simulates_its_batches_in_flight() {
    let arch = llama_8b();
    let mut one = h100(1024, 128);
    one.profile.kv_block_tokens = Some(16);
    let mut pipe = one.clone();
    pipe.gpus = 2;
    pipe.pp = 2;
    let mut sim = SimRequest::poisson(4.0, 1024, 128);
    sim.requests = 200;
    let (r1, r2) = (
        simulate(&arch, &one, &sim).unwrap(),
        simulate(&arch, &pipe, &sim).unwrap(),
    );
    assert_eq!((r2.replicas, r2.batches_in_flight), (1, 2));
    assert_eq!((r1.replicas, r1.batches_in_flight), (1, 1));
    // each batch in flight holds half the cap
    assert_eq!(r2.scheduler.max_num_seqs, 128);
    assert_eq!(r1.scheduler.max_num_seqs, 256);
    assert!(r2
        .assumptions
        .iter()
        .any(|a| a.name == "batches in flight" && a.value.contains("sequence cap (128)")));
    // each stage holds half the layers, so the replica's pool holds about twice a
    // GPU's tokens; each batch in flight gets half of it: about one GPU's pool
    let ratio = r2.kv_pool_blocks as f64 / r1.kv_pool_blocks as f64;
    assert!(ratio > 1.0 && ratio < 1.2, "{ratio}");
    // a light load: every request served, the completion rate the arrival rate's
    assert_eq!(r2.requests_completed, r2.requests_sent);
    assert!(
        (r2.requests_per_sec / 4.0 - 1.0).abs() < 0.2,
        "{}",
        r2.requests_per_sec
    );
    // alone, a prompt passes both stages in turn: its first token comes one copy of
    // its 1024 hidden states (4 bytes per value) later than on one GPU, sent over
    // NVLink's 450 GB/s at most, at NCCL's 0.8 of it plus some µs of latency at least
    let mut alone = sim.clone();
    alone.requests = 1;
    let gap = simulate(&arch, &pipe, &alone).unwrap().ttft.p50
        - simulate(&arch, &one, &alone).unwrap().ttft.p50;
    let bytes = 1024.0 * 4096.0 * 4.0;
    assert!(
        gap > bytes / 450e9 && gap < bytes / (0.8 * 450e9) + 20e-6,
        "{gap}"
    );
    // a closed loop splits its clients over the batches in flight
    let mut closed = sim.clone();
    closed.arrivals = Arrivals::ClosedLoop { clients: 3 };
    assert!(matches!(
        simulate(&arch, &pipe, &closed),
        Err(CoreError::Invalid {
            field: "closed_loop",
            ..
        })
    ));
}
