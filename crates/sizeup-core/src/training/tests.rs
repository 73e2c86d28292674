//! End-to-end checks of [`estimate`](super::estimate).

use super::*;
use crate::hardware;

fn gpu(name: &str) -> Accelerator {
    hardware::find(name).unwrap().clone()
}
use crate::Shape;

fn llama31_8b() -> Architecture {
    // shared/fixtures/models/llama-3.1-8b
    crate::testing::llama31_8b()
}

#[test]
fn lora_on_one_4090_fits_and_reports_adapters() {
    let mut req = TrainRequest::new(1, 2048, 16, 2);
    req.method = Method::Lora {
        rank: 8,
        targets: vec![lora::Projection::Q, lora::Projection::V],
    };
    req.recompute = Recompute::Full;
    let e = estimate(&llama31_8b(), &gpu("RTX-4090"), &req).unwrap();
    assert_eq!(e.params_trainable, 3_407_872);
    assert!(e.fits, "{:?}", e.memory);
    assert!(e.time.tokens_per_second > 0.0);
}

#[test]
fn bad_mfu_is_an_error() {
    let mut req = TrainRequest::new(8, 2048, 8, 1);
    req.mfu = Some(1.5);
    assert!(matches!(
        estimate(&llama31_8b(), &gpu("H100-SXM"), &req),
        Err(CoreError::Invalid { field: "mfu", .. })
    ));
}

#[test]
fn fp8_training_states_its_casts_and_its_16_bit_head() {
    let mut req = TrainRequest::new(8, 2048, 8, 1);
    let named = |req: &TrainRequest| {
        estimate(&llama31_8b(), &gpu("H100-SXM"), req)
            .unwrap()
            .assumptions
            .iter()
            .any(|a| a.name == "FP8 products")
    };
    assert!(!named(&req));
    req.precision = Precision::Fp8;
    assert!(named(&req));
}

fn gpt3() -> Architecture {
    // GPT-3 175B (Brown et al. 2020 Table 2.1)
    Shape::gpt(96, 12288, 96, 51200).build().unwrap()
}

#[test]
fn pipeline_bubble_is_p_minus_1_over_v_slots() {
    // Narayanan et al. 2021 §2.2: bubble = (p − 1)/v micro-batch slots
    let acc = gpu("A100-SXM-80GB");
    let mut req = TrainRequest::new(64, 2048, 64, 1);
    req.layout = LayoutRequest {
        tp: 8,
        pp: 8,
        vpp: 3,
        ..LayoutRequest::default()
    };
    req.recompute = Recompute::Full;
    let e = estimate(&gpt3(), &acc, &req).unwrap();
    let b = e.time.breakdown;
    assert!((b.bubble_seconds - 7.0 / 3.0 * b.micro_batch_seconds).abs() < 1e-9);
    assert_eq!(e.layout.micro_batches, 64);
}

#[test]
fn the_largest_micro_batch_is_the_last_that_fits() {
    let acc = gpu("H100-SXM");
    let arch = llama31_8b();
    let mut req = TrainRequest::new(8, 4096, 8, 1);
    req.layout.fsdp = true;
    let e = estimate(&arch, &acc, &req).unwrap();
    let b = e.largest_micro_batch.unwrap();
    let at = |mb: u64| {
        let mut r = req.clone();
        r.micro_batch = mb;
        r.global_batch = 8 * mb;
        estimate(&arch, &acc, &r).unwrap().fits
    };
    assert!(at(b));
    assert!(!at(b + 1));
}

#[test]
fn an_mfu_given_sets_the_step_time() {
    let acc = gpu("H100-SXM");
    let mut req = TrainRequest::new(8, 4096, 64, 1);
    req.layout.fsdp = true;
    req.mfu = Some(0.4);
    let e = estimate(&llama31_8b(), &acc, &req).unwrap();
    assert!((e.time.mfu - 0.4).abs() < 1e-12);
    // steps · step time = total
    assert!(
        (e.time.steps * e.time.step_seconds - e.time.total_seconds).abs()
            < 1e-6 * e.time.total_seconds
    );
}

#[test]
fn overlapping_never_slows_a_step() {
    let acc = gpu("H100-SXM");
    let mut req = TrainRequest::new(64, 4096, 256, 1);
    req.layout = LayoutRequest {
        tp: 8,
        pp: 2,
        sequence_parallel: true,
        distributed_optimizer: true,
        ..LayoutRequest::default()
    };
    req.overlap.data_parallel = false;
    let slow = estimate(&llama31_8b(), &acc, &req)
        .unwrap()
        .time
        .step_seconds;
    req.overlap.data_parallel = true;
    req.overlap.tensor_parallel = true;
    let fast = estimate(&llama31_8b(), &acc, &req)
        .unwrap()
        .time
        .step_seconds;
    assert!(fast < slow);
}

mod properties {
    use super::*;
    use crate::training::activations::{layer_bytes, ActivationConfig};
    use crate::training::parallel::Workload;
    use crate::training::states::{model_states, Stage, StateConfig};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn recomputation_and_parallelism_only_shrink_activations(
            b in 1u64..16, s_blocks in 1u64..32, t_pow in 0u32..4, flash: bool, dropout: bool,
        ) {
            let arch = gpt3();
            let t = 1u64 << t_pow;
            let cfg = |recompute, sp, b| ActivationConfig {
                seq_len: 128 * s_blocks,
                micro_batch: b,
                tp: t,
                cp: 1,
                sequence_parallel: sp,
                recompute,
                flash_attention: flash,
                dropout,
                element_bytes: 2,
                eager: None,
            };
            let bytes = |r, sp, b| layer_bytes(&arch, &arch.layers.blocks[0], &cfg(r, sp, b)).unwrap();
            prop_assert!(bytes(Recompute::Full, false, b) <= bytes(Recompute::Selective, false, b));
            prop_assert!(bytes(Recompute::Selective, false, b) <= bytes(Recompute::None, false, b));
            prop_assert!(bytes(Recompute::None, true, b) <= bytes(Recompute::None, false, b));
            prop_assert!(bytes(Recompute::None, false, b) < bytes(Recompute::None, false, b + 1));
        }

        #[test]
        fn each_zero_stage_holds_no_more(dp_pow in 0u32..8) {
            let arch = llama31_8b();
            let dp = 1u64 << dp_pow;
            let w = Workload { gpus: dp, seq_len: 4096, global_batch: dp, micro_batch: 1 };
            let method = Method::Full;
            let cfg = StateConfig {
                precision: Precision::Bf16,
                optimizer: Optimizer::Adamw,
                master_weights: true,
                optimizer_in_backward: false,
                fp32_params: false,
                method: &method,
                optimizer_impl: OptimizerImpl::Standard,
            };
            let total = |zero| {
                let l = Layout::resolve(&LayoutRequest { zero, ..LayoutRequest::default() }, &arch, &w).unwrap();
                let s = model_states(&arch, &l, Stage::Only, &cfg).unwrap();
                s.weights_bytes + s.gradients_bytes + s.optimizer_states_bytes
            };
            let stages = [ZeroStage::Zero0, ZeroStage::Zero1, ZeroStage::Zero2, ZeroStage::Zero3];
            for pair in stages.windows(2) {
                prop_assert!(total(pair[1]) <= total(pair[0]));
            }
        }

        #[test]
        fn a_resolved_layout_uses_every_gpu(tp_pow in 0u32..4, pp in 1u64..8, dp in 1u64..16) {
            let arch = llama31_8b();
            let tp = 1u64 << tp_pow;
            let gpus = tp * pp * dp;
            let w = Workload { gpus, seq_len: 4096, global_batch: dp * 4, micro_batch: 2 };
            let l = Layout::resolve(&LayoutRequest { tp, pp, ..LayoutRequest::default() }, &arch, &w).unwrap();
            prop_assert_eq!(l.gpus(), gpus);
            prop_assert_eq!(l.micro_batches * l.dp * 2, dp * 4);
        }
    }
}

#[test]
fn a_card_from_a_file_is_timed_by_its_own_rates_and_node() {
    // an H100 SXM row whose measured rates are halved, in a node of its own
    let mut card = gpu("H100-SXM");
    card.name = "my-h100".into();
    let rates = card.kernel_rates.as_mut().unwrap();
    rates.matmul_bf16 = 0.4;
    rates.attention = 0.17;
    rates.source = "my benchmark".into();
    card.node = Some(hardware::Node {
        gpus: 4,
        inter_node_bytes_per_sec: 25e9,
        link_latency_seconds: 3e-6,
        inter_node_latency_seconds: 6e-6,
        source: "my cluster".into(),
    });
    let req = TrainRequest::new(8, 4096, 64, 1);
    let mine = estimate(&llama31_8b(), &card, &req).unwrap();
    let stock = estimate(&llama31_8b(), &gpu("H100-SXM"), &req).unwrap();
    // the products (0.803 → 0.4) and attention (0.34 → 0.17) take about twice as
    // long, the memory passes as long as before
    let ratio = mine.time.breakdown.compute_seconds / stock.time.breakdown.compute_seconds;
    assert!(ratio > 1.7 && ratio < 2.01, "{ratio}");
    let said = |e: &TrainEstimate, name: &str| {
        e.assumptions
            .iter()
            .find(|a| a.name == name)
            .map(|a| (a.value.clone(), a.source.clone()))
            .unwrap()
    };
    let (value, source) = said(&mine, "measured kernel rates (shares of datasheet peak)");
    assert_eq!(
        value,
        "matmul 0.400 bf16, 0.709 fp8; flash attention 0.17 forward + backward, forward alone 0.60"
    );
    assert_eq!(source, "my benchmark");
    // its node: 4 GPUs, 200 Gb/s; the stock row's: DGX H100's 8 GPUs, 400 Gb/s
    let (value, source) = said(&mine, "cluster");
    assert!(
        value.starts_with("4 GPUs per node") && value.ends_with("25.0 GB/s per GPU between nodes"),
        "{value}"
    );
    assert_eq!(source, "my cluster");
    let (value, source) = said(&stock, "cluster");
    assert!(
        value.starts_with("8 GPUs per node") && value.ends_with("50.0 GB/s per GPU between nodes"),
        "{value}"
    );
    assert!(source.starts_with("NVIDIA DGX H100 user guide"), "{source}");
    // a flag overrides the row
    let mut flagged = req.clone();
    flagged.network.gpus_per_node = Some(2);
    let e = estimate(&llama31_8b(), &card, &flagged).unwrap();
    let (value, source) = said(&e, "cluster");
    assert!(value.starts_with("2 GPUs per node"), "{value}");
    assert_eq!(source, "user flag");
}

#[test]
fn fsdp_across_nodes_is_slower_on_a_thinner_network() {
    // Llama-3.1-8B with FSDP on 64 H100s, one 8k sequence per GPU: the row's 400 Gb/s
    // per GPU hides the gathers; 10 Gb/s does not
    let mut req = TrainRequest::new(64, 8192, 64, 1);
    req.layout.fsdp = true;
    let acc = gpu("H100-SXM");
    let fast = estimate(&llama31_8b(), &acc, &req).unwrap();
    req.network.inter_node_bytes_per_sec = Some(10e9 / 8.0);
    let slow = estimate(&llama31_8b(), &acc, &req).unwrap();
    let b = slow.time.breakdown;
    assert!(b.data_parallel_seconds > 0.0);
    assert!(slow.time.step_seconds > fast.time.step_seconds);
    // the compute itself does not change
    assert_eq!(b.compute_seconds, fast.time.breakdown.compute_seconds);
}

/// Plain PyTorch autocast on one GPU (Llama 3.2 1B, tied embedding): fp32
/// weights, gradients and AdamW moments; 16-bit copies of every product's weight
/// kept for the backward; the gradients allocated in the backward unless earlier
/// micro-batches accumulated into them.
#[test]
fn autocast_states_and_the_moment_of_the_peak() {
    let arch = crate::testing::llama32_1b();
    let p: u64 = 1_235_814_400; // shared/fixtures/models llama-3.2-1b
    let acc = gpu("H200");
    let mut req = TrainRequest::new(1, 2048, 4, 4);
    req.kernels = Kernels::Eager;
    let m = estimate(&arch, &acc, &req).unwrap().memory;
    assert_eq!(m.weights_bytes, 4 * p);
    assert_eq!(m.gradients_bytes, 4 * p);
    assert_eq!(m.optimizer_states_bytes, 8 * p);
    // every weight but the final norm's 2048 (the layers' norms counted with them)
    assert_eq!(m.weight_copies_bytes, 2 * (p - 2048));
    assert_eq!(m.peak, Peak::ForwardEndBeforeGradients);
    assert_eq!(
        m.total_bytes,
        m.weights_bytes
            + m.optimizer_states_bytes
            + m.weight_copies_bytes
            + m.activations_bytes
            + m.logits_and_loss_bytes
            + m.communication_buffers_bytes
            + m.framework_overhead_bytes
    );

    // two micro-batches per step: the second runs its forward beside the gradients
    let mut twice = req.clone();
    twice.global_batch = 8;
    let m2 = estimate(&arch, &acc, &twice).unwrap().memory;
    assert_eq!(m2.peak, Peak::ForwardEnd);
    assert_eq!(m2.total_bytes, m.total_bytes + m.gradients_bytes);

    // a short sequence: the optimizer step, with gradients and no activations
    let short = TrainRequest {
        kernels: Kernels::Eager,
        ..TrainRequest::new(1, 16, 1, 1)
    };
    let m3 = estimate(&arch, &acc, &short).unwrap().memory;
    assert_eq!(m3.peak, Peak::OptimizerStep);
    assert_eq!(
        m3.total_bytes,
        16 * p + m3.communication_buffers_bytes + m3.framework_overhead_bytes
    );

    // fused kernels (Megatron-style buffers): 2 + 4 + 12 bytes, all at the peak
    req.kernels = Kernels::Fused;
    let f = estimate(&arch, &acc, &req).unwrap().memory;
    assert_eq!(
        (f.weights_bytes, f.gradients_bytes, f.optimizer_states_bytes),
        (2 * p, 4 * p, 12 * p)
    );
    assert_eq!((f.weight_copies_bytes, f.peak), (0, Peak::ForwardEnd));
}

/// DeepSpeed's BF16_Optimizer on 8 GPUs at ZeRO-1: 2 + 6 + 12/8 bytes per
/// parameter, all at the peak (its buffers persist), two bytes per parameter
/// more than the standard convention; the precision assumption states both.
#[test]
fn the_deepspeed_bf16_optimizer_holds_two_gradient_bytes_more() {
    let arch = crate::testing::llama32_1b();
    let p: u64 = 1_235_814_400; // shared/fixtures/models llama-3.2-1b
    let acc = gpu("H200");
    let mut req = TrainRequest::new(8, 2048, 8, 1);
    req.layout.zero = ZeroStage::Zero1;
    let standard = estimate(&arch, &acc, &req).unwrap();
    req.optimizer_impl = OptimizerImpl::DeepspeedBf16;
    let e = estimate(&arch, &acc, &req).unwrap();
    let m = &e.memory;
    assert_eq!(
        (m.weights_bytes, m.gradients_bytes, m.optimizer_states_bytes),
        (2 * p, 6 * p, (12 * p).div_ceil(8))
    );
    assert_eq!(m.peak, Peak::ForwardEnd);
    assert_eq!(m.total_bytes, standard.memory.total_bytes + 2 * p);
    assert_eq!(e.time.step_seconds, standard.time.step_seconds);
    let precision = |e: &TrainEstimate| {
        e.assumptions
            .iter()
            .find(|a| a.name == "precision")
            .map(|a| a.value.clone())
            .unwrap()
    };
    assert!(precision(&e).starts_with("bf16 products; DeepSpeed's BF16_Optimizer"));
    assert!(precision(&e).contains(": 2 + 6 + 12 bytes per parameter"));
    assert!(precision(&standard).contains(": 2 + 4 + 12 bytes per parameter"));
    // without ZeRO-1 sharding it is not the BF16_Optimizer
    req.layout.zero = ZeroStage::Zero0;
    assert!(matches!(
        estimate(&arch, &acc, &req),
        Err(CoreError::Invalid {
            field: "optimizer_impl",
            ..
        })
    ));
}

/// The largest-micro-batch search starts where a step becomes one micro-batch:
/// the point must be the one `memory` counts one micro-batch at, no later.
#[test]
fn the_single_micro_batch_point_is_where_memory_counts_one() {
    // 8 sequences on one rank: b = 4 makes 2 micro-batches, b = 5 one (the rest dropped)
    assert_eq!(micro_batches(8, 4, 1), 2);
    assert_eq!(micro_batches(8, 5, 1), 1);
    assert_eq!(first_single_micro_batch(8, 1), 5);
    for global in 1..=64 {
        for dp in 1..=8 {
            let b = first_single_micro_batch(global, dp);
            assert_eq!(micro_batches(global, b, dp), 1, "G {global} dp {dp}");
            if b > 1 {
                assert!(micro_batches(global, b - 1, dp) >= 2, "G {global} dp {dp}");
            }
        }
    }
}

/// BigScience's 1B3 benchmark model (tr3m-1B3: 24 layers, h 2048, 16 heads, GPT-2
/// vocabulary) on two 4-GPU V100 nodes, fp16 ZeRO-1, full recomputation.
fn tr3m_1b3(pp: u64, micro_batch: u64, global_batch: u64, loss: loss::Loss) -> TrainEstimate {
    let arch = Shape::gpt(24, 2048, 16, 50257).build().unwrap();
    let mut req = TrainRequest::new(8, 2048, global_batch, micro_batch);
    req.layout.pp = pp;
    req.layout.zero = ZeroStage::Zero1;
    req.precision = Precision::Fp16;
    req.recompute = Recompute::Full;
    req.flash_attention = false;
    req.loss = Some(loss);
    estimate(&arch, &gpu("V100-SXM2-16GB"), &req).unwrap()
}

#[test]
fn deepspeed_pipeline_adds_the_kept_logits_to_the_last_stage() {
    use loss::Loss;
    // pp 2 · dp 4 · b 8 · B 512: 16 micro-batches; L = 2048 · 8 · 50257 = 823,410,688 logits
    let ds = tr3m_1b3(2, 8, 512, Loss::DeepspeedPipeline);
    let fused = tr3m_1b3(2, 8, 512, Loss::Fused);
    let m = &ds.memory;
    assert_eq!(m.stage, Some(Stage::Last));
    // 2 + 4 + 4·2 bytes per logit
    assert_eq!(m.logits_and_loss_bytes, 14 * 823_410_688);
    assert_eq!(fused.memory.logits_and_loss_bytes, 6 * 823_410_688);
    // 12 layers' inputs, 2·s·b·h each; the rebuilt layer (2 GiB) is smaller than
    // the 6 bytes per logit the loss's backward frees, so it adds nothing
    assert_eq!(m.activations_bytes, 12 * 2 * 2048 * 8 * 2048);
    assert_eq!(m.activations_bytes, fused.memory.activations_bytes);
    // the 12 layers, the tied head's copy and the final norm: 707,229,696 parameters,
    // 2 + 2 + 16/4 bytes each (fp16 weights and gradients, fp32 master, moments
    // and gradient copy sharded over dp 4)
    assert_eq!(
        (m.weights_bytes, m.gradients_bytes, m.optimizer_states_bytes),
        (1_414_459_392, 1_414_459_392, 2_828_918_784)
    );
    // with 50 MiB of gradient buckets and 1 GiB of framework overhead: 17.80 GiB, over 16
    assert_eq!(m.total_bytes, 19_117_064_192);
    assert!(!ds.fits);
    assert!(fused.fits);
    // the kept logits, 8 bytes per logit, on top of everything the fused loss holds
    assert_eq!(m.total_bytes - fused.memory.total_bytes, 8 * 823_410_688);
}

#[test]
fn deepspeed_pipeline_keeps_one_output_where_a_step_is_one_micro_batch() {
    use loss::Loss;
    // pp 1 · dp 8 · b 1: B 8 is one micro-batch, B 512 sixty-four;
    // L = 2048 · 50257 = 102,926,336 logits
    let kept = |global| {
        tr3m_1b3(1, 1, global, Loss::DeepspeedPipeline)
            .memory
            .total_bytes
            - tr3m_1b3(1, 1, global, Loss::Fused).memory.total_bytes
    };
    assert_eq!(kept(8), 4 * 102_926_336);
    assert_eq!(kept(512), 8 * 102_926_336);
}

#[test]
fn deepspeed_pipeline_refuses_eager_kernels() {
    let arch = Shape::gpt(2, 256, 4, 1000).build().unwrap();
    let mut req = TrainRequest::new(1, 128, 1, 1);
    req.kernels = Kernels::Eager;
    req.loss = Some(loss::Loss::DeepspeedPipeline);
    assert!(matches!(
        estimate(&arch, &gpu("H100-SXM"), &req),
        Err(CoreError::Invalid { field: "loss", .. })
    ));
}
