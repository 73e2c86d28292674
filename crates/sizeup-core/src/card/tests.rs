use super::*;
use crate::hardware;
use crate::inference::{self, Engine, InferRequest, Load};
use crate::training::TrainRequest;
use crate::{KvDtype, Shape};

/// Llama-3.1-8B: 32 layers, h 4096, 32 heads, 8 KV heads, f 14336, V 128256
/// (shared/fixtures/models/llama-3.1-8b).
fn llama_8b() -> Architecture {
    let mut s = crate::testing::llama31_8b_shape();
    s.max_context = 131_072;
    s.build().unwrap()
}

fn chat_on_l4(arch: &Architecture) -> CardInput<'_> {
    let gpu = hardware::find("L4").unwrap();
    let mut serve = InferRequest::new(gpu, Engine::Vllm);
    serve.context = Some(32_768);
    let (prompt, output) = Workload::Chat.request_shape();
    serve.prompt = prompt;
    serve.output = output;
    let h100 = hardware::find("H100-SXM").unwrap().clone();
    let mut train = TrainRequest::new(8, 4096, 256, 1);
    train.layout.zero = crate::training::parallel::ZeroStage::Zero3;
    CardInput {
        arch,
        workload: Workload::Chat,
        serve,
        targets: Workload::Chat.default_targets(),
        user_set: UserSet {
            context: true,
            ..UserSet::default()
        },
        train: Some((h100, train)),
        alternatives: vec![],
    }
}

#[test]
fn card_figures_come_from_the_same_estimates() {
    let arch = llama_8b();
    let input = chat_on_l4(&arch);
    let card = build(&input).unwrap();
    // fixture params_total
    assert_eq!(card.params.total, 8_030_261_248);
    // the inference section is the inference estimate at the target concurrency,
    // or at the requests that fit when fewer do
    let mut req = input.serve.clone();
    req.load = Load::Concurrency(16);
    let fit = inference::estimate(&arch, &req)
        .unwrap()
        .max_batch_at_context;
    assert!((1..16).contains(&fit));
    req.load = Load::Concurrency(fit);
    let est = inference::estimate(&arch, &req).unwrap();
    assert_eq!(card.inference.requests_in_flight, fit);
    assert_eq!(
        card.inference.max_requests_at_context,
        est.max_batch_at_context
    );
    assert_eq!(
        card.inference.weights_bytes_per_gpu,
        est.memory.weights_bytes
    );
    assert_eq!(
        card.inference.tpot_seconds,
        est.schedule.time_per_output_token_seconds
    );
    // 32k tokens × 131072 bytes per token in bf16 = 4 GiB per request
    assert_eq!(card.inference.kv_bytes_per_request, 4 << 30);
    let t = card.training.as_ref().unwrap();
    let (acc, treq) = input.train.as_ref().unwrap();
    let te = crate::training::estimate(&arch, acc, treq).unwrap();
    assert_eq!(t.gpu_hours, te.time.gpu_hours);
}

#[test]
fn bf16_8b_on_an_l4_at_32k_is_memory_bound_and_fp8_kv_helps() {
    // 16 GB of bf16 weights on a 24 GB L4 leave room for one or two 4 GiB requests
    let arch = llama_8b();
    let card = build(&chat_on_l4(&arch)).unwrap();
    assert_eq!(card.bottleneck.kind, BottleneckKind::Memory);
    assert!(card.bottleneck.figure.higher_is_better);
    let fp8_kv = card
        .decisions
        .iter()
        .find(|w| w.name == "fp8 KV cache")
        .unwrap();
    let fp8_w = card
        .decisions
        .iter()
        .find(|w| w.name == "fp8 weights")
        .unwrap();
    // every memory what-if moves the binding figure (requests that fit) up, never down
    for w in [fp8_kv, fp8_w] {
        assert!(
            w.after.unwrap() >= w.before,
            "{}: {:?} → {:?}",
            w.name,
            w.before,
            w.after
        );
        assert!(w.gain.unwrap() >= 1.0);
    }
    // the ranking is by gain, best first
    let gains: Vec<f64> = card.decisions.iter().filter_map(|w| w.gain).collect();
    assert!(gains.windows(2).all(|p| p[0] >= p[1]));
}

#[test]
fn what_ifs_move_the_figure_in_the_stated_direction() {
    // fewer KV heads and a cheaper KV cache can only let more requests fit;
    // a shorter context too; a smaller model frees memory
    let arch = llama_8b();
    let mut input = chat_on_l4(&arch);
    let small = {
        let mut s = Shape::llama(16, 2048, 32, 8, 8192, 128_256);
        s.max_context = 131_072;
        s.build().unwrap()
    };
    input.alternatives = vec![("llama-3.2-1b".into(), small)];
    let card = build(&input).unwrap();
    for name in [
        "fp8 KV cache",
        "MQA (1 KV head)",
        "shorter context (retrieval)",
        "smaller model: llama-3.2-1b",
        "int4 weights (AWQ)",
    ] {
        let w = card
            .decisions
            .iter()
            .find(|w| w.name == name)
            .unwrap_or_else(|| panic!("{name} missing"));
        assert!(
            w.gain.unwrap() > 1.0,
            "{name} should raise the requests that fit: {w:?}"
        );
    }
}

#[test]
fn a_training_card_binds_on_memory_when_it_does_not_fit() {
    // 70B full training on 8 H100s without sharding: 18 bytes per parameter alone is 1.3 TB
    let mut s = Shape::llama(80, 8192, 64, 8, 28672, 128_256);
    s.max_context = 131_072;
    let arch = s.build().unwrap();
    let mut input = chat_on_l4(&arch);
    input.workload = Workload::Train;
    if let Some((_, r)) = input.train.as_mut() {
        r.layout.zero = crate::training::parallel::ZeroStage::Zero0;
    }
    let card = build(&input).unwrap();
    assert_eq!(card.bottleneck.kind, BottleneckKind::Memory);
    let zero3 = card
        .decisions
        .iter()
        .find(|w| w.name == "ZeRO-3 / FSDP")
        .unwrap();
    assert!(zero3.after.unwrap() < zero3.before / 4.0, "{zero3:?}");
}

#[test]
fn the_decision_checks_each_target_and_names_the_cheapest_change_that_meets_them() {
    let arch = llama_8b();
    let input = chat_on_l4(&arch);
    let card = build(&input).unwrap();
    let d = card.decision.as_ref().unwrap();
    let i = &card.inference;
    // 16 requests of 32k tokens, TTFT ≤ 2 s, TPOT ≤ 50 ms, each with the card's figure
    let by = |t: Target| d.checks.iter().find(|c| c.target == t).copied().unwrap();
    let c = by(Target::Concurrency);
    assert_eq!(
        (c.limit, c.figure, c.met),
        (16.0, i.max_requests_at_context as f64, false)
    );
    let ttft = by(Target::Ttft);
    assert_eq!((ttft.figure, ttft.met), (i.ttft_seconds, true));
    let tpot = by(Target::Tpot);
    assert_eq!(tpot.figure, i.tpot_seconds);
    assert!(!d.meets_every_target);
    // L4: $0.71 per hour (data/gpus.toml)
    assert_eq!(d.usd_per_hour, Some(0.71));
    // the cheapest setup meets every target by the inference estimate itself
    let p = d.cheapest.as_ref().unwrap();
    assert!(p.checks.iter().all(|c| c.met));
    assert!(!p.changes.is_empty());
    let gpu = hardware::find(&p.accelerator).unwrap();
    let mut req = input.serve.clone();
    req.gpu = gpu.clone();
    req.profile = Engine::Vllm.profile(gpu);
    req.gpus = p.candidate.gpus();
    req.tp = p.candidate.tp;
    req.weights = p.candidate.weights;
    req.kv_dtype = p.candidate.kv_dtype;
    req.load = Load::Concurrency(16u64.div_ceil(p.candidate.replicas));
    let e = inference::estimate(&arch, &req).unwrap();
    assert!(e.fits);
    assert!(e.schedule.time_to_first_token_seconds <= 2.0);
    assert!(e.schedule.time_per_output_token_seconds <= 0.05);
    assert_eq!(
        e.schedule.time_per_output_token_seconds,
        p.steady.tpot_seconds
    );
    // no single change is cheaper than the cheapest of all
    let alone = d.cheapest_alone.as_ref().unwrap();
    assert_eq!(alone.changes.len(), 1);
    assert!(p.usd_per_hour.unwrap() <= alone.usd_per_hour.unwrap());
    // the card says how it judged and how far it searched
    assert_eq!(d.max_gpus, 64);
    let searched = card
        .assumptions
        .iter()
        .find(|a| a.name == "decision: setups searched")
        .unwrap();
    assert!(searched
        .value
        .starts_with("up to 64 GPUs: replicas, tp 1/2/4/8"));
    assert!(card.assumptions.iter().any(
        |a| a.name == "decision: how a setup is judged" && a.value.contains("not a simulation")
    ));
}

#[test]
fn the_users_flags_are_labelled_as_theirs() {
    let arch = llama_8b();
    let mut input = chat_on_l4(&arch);
    input.user_set.tpot = true;
    input.targets.max_tpot_seconds = Some(0.04);
    let card = build(&input).unwrap();
    let source = |name: &str| {
        card.assumptions
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.source.clone())
            .unwrap()
    };
    assert_eq!(source("time-per-output-token target"), USER_FLAG);
    assert!(source("time-to-first-token target").starts_with("card default"));
    assert!(source("prompt tokens per request").starts_with("card default for chat"));
    assert_eq!(source("context for KV sizing"), USER_FLAG);
}

#[test]
fn kv_dtype_parses_for_cards() {
    assert_eq!("fp8".parse::<KvDtype>().unwrap(), KvDtype::Fp8);
    assert_eq!("finetune".parse::<Workload>().unwrap(), Workload::Finetune);
    assert!("serve".parse::<Workload>().is_err());
}
