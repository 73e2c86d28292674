//! How many training layouts `plan::search` decides per second.
//!
//! Run: `cargo bench -p sizeup-core --features parallel --bench plan`. Each
//! iteration searches a whole space; criterion's throughput is the number of
//! candidates in it, so it reports layouts per second directly (all cores).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use sizeup_core::plan::{self, PlanRequest, RankBy, Space};
use sizeup_core::training::TrainRequest;
use sizeup_core::{hardware, Shape};

fn search(c: &mut Criterion) {
    // Llama-3.1-70B's shape (shared/fixtures/models/llama-3.1-70b/config.json)
    let arch = Shape::llama(80, 8192, 64, 8, 28672, 128_256)
        .build()
        .unwrap();
    let gpu = hardware::find("H100-SXM").unwrap().clone();
    let mut group = c.benchmark_group("plan::search");
    group.sample_size(10);
    for gpus in [64u64, 512] {
        let mut base = TrainRequest::new(gpus, 8192, 512, 1);
        base.tokens = Some(15_000_000_000_000);
        let req = PlanRequest {
            base,
            space: Space::new(vec![gpus]),
            by: RankBy::Time,
            top: 5,
        };
        let n = plan::train::count(&arch, 1, &req).candidates;
        group.throughput(Throughput::Elements(n));
        let accs = [gpu.clone()];
        group.bench_function(format!("llama-3.1-70b, {gpus} GPUs, {n} layouts"), |b| {
            b.iter(|| plan::search(black_box(&arch), &accs, &req).unwrap())
        });
    }
    // A wide space: Llama-3.1-405B (shared/fixtures/models/llama-3.1-405b) on
    // 8 to 16,384 GPUs of six accelerators, where most cells fail on memory.
    let arch = Shape::llama(126, 16384, 128, 8, 53248, 128_256)
        .build()
        .unwrap();
    let accs: Vec<_> = [
        "H100-SXM",
        "A100-SXM-80GB",
        "H200-SXM",
        "B200",
        "MI300X",
        "H100-PCIe",
    ]
    .iter()
    .map(|n| hardware::find(n).unwrap().clone())
    .collect();
    let mut base = TrainRequest::new(8, 8192, 2048, 1);
    base.tokens = Some(15_000_000_000_000);
    let req = PlanRequest {
        base,
        space: Space::new((3..=14).map(|k| 1u64 << k).collect()),
        by: RankBy::Time,
        top: 5,
    };
    let n = plan::train::count(&arch, accs.len(), &req).candidates;
    group.throughput(Throughput::Elements(n));
    group.bench_function(
        format!("llama-3.1-405b, 8..16384 GPUs × 6 accelerators, {n} layouts"),
        |b| b.iter(|| plan::search(black_box(&arch), &accs, &req).unwrap()),
    );
    group.finish();
}

criterion_group!(benches, search);
criterion_main!(benches);
