use super::collective::{Collective, Fabric, Group, Network, BUS_EFFICIENCY};
use super::*;
use crate::hardware;

/// Tolerance of a time computed by the same arithmetic in another order.
const TOL: f64 = 1e-12;

const FULL: Library = Library {
    matmul_16bit: 1.0,
    matmul_8bit: 1.0,
    attention: 1.0,
    memory: 1.0,
    fp16_accumulate: false,
    per_kernel_seconds: 0.0,
};

fn a100() -> &'static Accelerator {
    hardware::find("A100-SXM-80GB").unwrap()
}

#[test]
fn large_products_run_at_the_rows_measured_rate() {
    let d = Device::new(a100(), FULL);
    // 8192³ on an A100 SXM (108 SMs, MAMF 0.869 of 312 TFLOP/s: data/gpus.toml):
    // 64·64 = 4096 tiles in 38 waves of 108, 4096/4104 busy
    let n = 8192.0;
    let g = Gemm {
        m: n,
        n,
        k: n,
        batch: 1.0,
    };
    assert_eq!(d.wave_efficiency(&g), 4096.0 / 4104.0);
    let bytes = 3.0 * n * n * 2.0;
    let t = d.matmul(&g, ComputePrecision::Bf16, bytes);
    let compute = 2.0 * n * n * n / (312e12 * 0.869 * (4096.0 / 4104.0));
    assert!((t.compute_seconds - compute).abs() < TOL);
    // 402 MB of operands at 0.9 of 2.039 TB/s (Calculon's ≥100 MB step)
    assert!((t.memory_seconds - bytes / (2.039e12 * 0.9)).abs() < TOL);
    assert!(t.compute_bound());
    assert_eq!(t.seconds(), t.compute_seconds);
}

#[test]
fn a_wave_too_many_costs_a_whole_wave() {
    let d = Device::new(hardware::find("H100-SXM").unwrap(), FULL);
    // H100 SXM: 132 SMs. 7·19 = 133 tiles need two waves; 7·18 = 126 fit in one
    let two = Gemm {
        m: 7.0 * 128.0,
        n: 19.0 * 128.0,
        k: 8192.0,
        batch: 1.0,
    };
    let one = Gemm {
        n: 18.0 * 128.0,
        ..two
    };
    assert_eq!(d.wave_efficiency(&two), 133.0 / 264.0);
    assert_eq!(d.wave_efficiency(&one), 1.0);
    let t2 = d.matmul(&two, ComputePrecision::Bf16, 0.0).seconds();
    let t1 = d.matmul(&one, ComputePrecision::Bf16, 0.0).seconds();
    // one more column of tiles nearly doubles the time
    let want = (19.0 / 18.0) * (264.0 / 133.0);
    assert!((t2 / t1 - want).abs() < 1e-12, "{}", t2 / t1);
}

#[test]
fn small_and_skinny_products() {
    let d = Device::new(a100(), FULL);
    // 1024×1024×256: 0.54 GFLOP, below Calculon's 1 GFLOP step (0.3 of 0.95); its
    // 64 tiles fewer than the 108 SMs, split to fill them (no wave loss)
    let g = Gemm {
        m: 1024.0,
        n: 1024.0,
        k: 256.0,
        batch: 1.0,
    };
    assert_eq!(d.wave_efficiency(&g), 1.0);
    let t = d.matmul(&g, ComputePrecision::Bf16, 0.0);
    let want = g.flops() / (312e12 * 0.869 * (0.3 / 0.95));
    assert!((t.compute_seconds - want).abs() < TOL);
    // a decode step's product (one token, 4096×4096 bf16 weights) is memory-bound:
    // 33.5 MB at 0.75 of the bandwidth
    let decode = Gemm {
        m: 1.0,
        n: 4096.0,
        k: 4096.0,
        batch: 1.0,
    };
    let bytes = 4096.0 * 4096.0 * 2.0;
    let t = d.matmul(&decode, ComputePrecision::Bf16, bytes);
    assert!(!t.compute_bound());
    assert!((t.seconds() - bytes / (2.039e12 * 0.75)).abs() < TOL);
}

#[test]
fn eight_bit_products_take_the_eight_bit_rate_and_library_share() {
    let h100 = hardware::find("H100-SXM").unwrap();
    let lib = Library {
        matmul_8bit: 0.5,
        ..FULL
    };
    let d = Device::new(h100, lib);
    let g = Gemm {
        m: 8192.0,
        n: 8192.0,
        k: 8192.0,
        batch: 1.0,
    };
    // FP8 peak 1978.9 TFLOP/s × MAMF 0.709 × the library's 0.5; 64·64 tiles in 32 waves of 132
    let t = d.matmul(&g, ComputePrecision::Fp8, 0.0);
    let want = g.flops() / (1978.9e12 * 0.709 * 0.5 * (4096.0 / 4224.0));
    assert!((t.compute_seconds - want).abs() < TOL);
    // the A100 has no FP8 path: 16-bit peak and rate
    let a = Device::new(a100(), lib);
    let t = a.matmul(&g, ComputePrecision::Fp8, 0.0);
    let want = g.flops() / (312e12 * 0.869 * (4096.0 / 4104.0));
    assert!((t.compute_seconds - want).abs() < TOL);
}

#[test]
fn attention_and_memory_passes() {
    let d = Device::new(
        a100(),
        Library {
            fp16_accumulate: false,
            per_kernel_seconds: 2e-6,
            ..FULL
        },
    );
    // flash attention for training at the row's 0.6 of 312 TFLOP/s (forward +
    // backward), serving's forward at its 0.7; heads of 64 at 0.8 of that
    let t = d.attention(AttentionPass::Training, 1e12, 128, 0.0);
    assert!((t.seconds() - (1e12 / (312e12 * 0.6) + 2e-6)).abs() < TOL);
    let f = d.attention(AttentionPass::Forward, 1e12, 128, 0.0);
    assert!((f.compute_seconds - 1e12 / (312e12 * 0.7)).abs() < TOL);
    let small = d.attention(AttentionPass::Training, 1e12, 64, 0.0);
    assert!((small.compute_seconds - 1e12 / (312e12 * 0.6 * 0.8)).abs() < TOL);
    // a 50 MB pass at 0.75 of the bandwidth, plus the kernel's fixed cost
    let m = d.memory_pass(50e6);
    assert!((m.seconds() - (50e6 / (2.039e12 * 0.75) + 2e-6)).abs() < TOL);
    assert_eq!(d.memory_pass(0.0).seconds(), 0.0);
}

#[test]
fn a_card_from_a_file_is_priced_by_its_own_rows() {
    let card = Accelerator::from_toml_str(
        r#"
        name = "my-card"
        vendor = "acme"
        memory_bytes = 17179869184
        memory_bandwidth_bytes_per_sec = 5e11
        peak_flops = { bf16 = 1e14 }
        interconnect = "my link"
        interconnect_bytes_per_sec = 1e11
        source = "my measurements"
        sm_count = 10
        kernel_rates = { matmul_bf16 = 0.5, matmul_fp8 = 0.5, attention = 0.25, source = "my benchmark" }
        node = { gpus = 4, inter_node_bytes_per_sec = 1e10, link_latency_seconds = 1e-5, inter_node_latency_seconds = 2e-5, source = "my cluster" }
        "#,
    )
    .unwrap();
    let d = Device::new(&card, FULL);
    // 16 tiles on its 10 SMs: two waves, 16/20 busy; 0.5 of 1e14; 137 GFLOP (429 at
    // an A100's peak) is past Calculon's top step
    let g = Gemm {
        m: 512.0,
        n: 512.0,
        k: 262_144.0,
        batch: 1.0,
    };
    assert_eq!(d.wave_efficiency(&g), 16.0 / 20.0);
    let t = d.matmul(&g, ComputePrecision::Bf16, 0.0);
    assert!((t.compute_seconds - g.flops() / (1e14 * 0.5 * 0.8)).abs() < TOL);
    // no forward rate of its own: serving takes the forward + backward one
    let a = d.attention(AttentionPass::Forward, 1e12, 128, 0.0);
    assert!((a.compute_seconds - 1e12 / (1e14 * 0.25)).abs() < TOL);
    // its node: 4 GPUs, 10 GB/s between nodes, its own latencies
    let f = Fabric::of(&card, &Network::default());
    assert_eq!(f.gpus_per_node, 4);
    assert_eq!(f.inter_bytes_per_sec, 1e10 * BUS_EFFICIENCY);
    assert_eq!(f.intra_latency_seconds, 1e-5);
    // an all-gather over its 4 GPUs: base + 3 hops + 3/4 of 1 GB at 0.8 of the link
    let ag = f.time(Collective::AllGather, 1e9, Group::new(4, 1));
    let want = f.base_seconds + 3e-5 + 0.75e9 / (1e11 * BUS_EFFICIENCY);
    assert!((ag - want).abs() < TOL);
    // a flag overrides the row
    let net = Network {
        gpus_per_node: Some(2),
        inter_node_bytes_per_sec: Some(5e9),
    };
    let f = Fabric::of(&card, &net);
    assert_eq!(
        (f.gpus_per_node, f.inter_bytes_per_sec),
        (2, 5e9 * BUS_EFFICIENCY)
    );
}

#[test]
fn rows_without_measurements_get_the_stated_defaults() {
    let card = hardware::find("RTX-5090").unwrap();
    assert!(card.kernel_rates.is_none());
    let r = rates(card);
    assert_eq!(
        (r.matmul_bf16, r.attention),
        (DEFAULT_MATMUL, DEFAULT_ATTENTION)
    );
    assert_eq!(collective::node_figures(card), collective::DEFAULT_NODE);
}

/// The SM count is a fact of the row, not of its measurements: a GeForce card
/// with no measured rates still runs its tiles in waves over its own SMs.
#[test]
fn a_row_without_measurements_fills_its_own_sms_in_waves() {
    let rtx3090 = hardware::find("RTX-3090").unwrap();
    assert!(rtx3090.kernel_rates.is_none());
    // GA102 whitepaper v2.0: 82 SMs on the RTX 3090
    assert_eq!(rtx3090.sm_count, Some(82));
    let d = Device::new(rtx3090, FULL);
    // a 512-token prefill through a 4096×4096 projection: 4·32 = 128 tiles, two
    // waves of 82, 128/164 busy
    let g = Gemm {
        m: 512.0,
        n: 4096.0,
        k: 4096.0,
        batch: 1.0,
    };
    assert_eq!(d.wave_efficiency(&g), 128.0 / 164.0);
    let t = d.matmul(&g, ComputePrecision::Bf16, 0.0);
    let unwaved = d.matmul_compute(g.flops(), ComputePrecision::Bf16);
    assert!((t.compute_seconds - unwaved * 164.0 / 128.0).abs() < TOL);
    assert!(assumptions(rtx3090)[1].value.contains("waves over 82 SMs"));
    // a row whose vendor states no count (Apple) keeps every product whole
    let m2 = Device::new(hardware::find("M2-Ultra").unwrap(), FULL);
    assert_eq!(m2.wave_efficiency(&g), 1.0);
}

/// Rows that counted their SMs among their kernel rates price exactly as before
/// the count moved onto the row: an H100 SXM product of a 4096-token prefill
/// through Llama-3.1-8B's down projection (4096×14336 · 14336×4096), 32·32 =
/// 1024 tiles in 8 waves of 132, at 0.803 of 989.4 TFLOP/s.
#[test]
fn rows_that_had_a_count_price_as_before() {
    let d = Device::new(hardware::find("H100-SXM").unwrap(), FULL);
    let g = Gemm {
        m: 4096.0,
        n: 4096.0,
        k: 14336.0,
        batch: 1.0,
    };
    assert_eq!(d.wave_efficiency(&g), 1024.0 / 1056.0);
    // the figure the device model gave with `kernel_rates.sm_count = 132`
    assert_eq!(
        d.matmul(&g, ComputePrecision::Bf16, 0.0).compute_seconds,
        0.000624387779060784
    );
}

/// A library that accumulates 16-bit products in FP16 runs them at a GeForce
/// card's FP16-accumulate peak, twice its FP32-accumulate one; other precisions
/// and rows without that figure keep their peaks.
#[test]
fn fp16_accumulation_takes_the_fp16_accumulate_peak_where_a_row_lists_one() {
    let fp16 = Library {
        fp16_accumulate: true,
        ..FULL
    };
    // 1.1 TFLOP: at the top of the size curve at either peak
    let flops = 2.0 * 8192f64.powi(3);
    let rtx3090 = hardware::find("RTX-3090").unwrap();
    // GA102 whitepaper: 142 TFLOP/s with FP16 accumulate, 71 with FP32
    assert_eq!(rtx3090.peak_flops.fp16_fp16_accumulate, Some(142e12));
    let (acc16, acc32) = (Device::new(rtx3090, fp16), Device::new(rtx3090, FULL));
    let ratio = acc16.matmul_compute(flops, ComputePrecision::Bf16)
        / acc32.matmul_compute(flops, ComputePrecision::Bf16);
    assert!((ratio - 0.5).abs() < TOL, "{ratio}");
    // INT8 products keep their own peak
    assert_eq!(
        acc16.matmul_compute(flops, ComputePrecision::Int8),
        acc32.matmul_compute(flops, ComputePrecision::Int8)
    );
    // an A100 lists none: FP16 accumulation is no faster there
    assert_eq!(
        Device::new(a100(), fp16).matmul_compute(flops, ComputePrecision::Bf16),
        Device::new(a100(), FULL).matmul_compute(flops, ComputePrecision::Bf16)
    );
}
