//! How many training points `training::estimate` evaluates per second: the cost
//! of one point of a layout search or a training sweep.
//!
//! Run: `cargo bench -p sizeup-core --bench training`. Each iteration estimates
//! a block of points (tensor-parallel sizes × micro-batches), so criterion
//! reports points per second directly.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use sizeup_core::training::{self, parallel::LayoutRequest, TrainRequest};
use sizeup_core::{hardware, Architecture, Shape};

/// Points per iteration: 4 tensor-parallel sizes × 5 micro-batches.
const BLOCK: u64 = 20;

/// Llama-3.1-8B's and Llama-3.1-70B's shapes (shared/fixtures/models/*/config.json).
fn models() -> [(&'static str, Architecture); 2] {
    [
        (
            "llama-3.1-8b (32 layers)",
            Shape::llama(32, 4096, 32, 8, 14336, 128_256)
                .build()
                .unwrap(),
        ),
        (
            "llama-3.1-70b (80 layers)",
            Shape::llama(80, 8192, 64, 8, 28672, 128_256)
                .build()
                .unwrap(),
        ),
    ]
}

fn requests() -> Vec<TrainRequest> {
    let mut out = Vec::new();
    for tp in [1, 2, 4, 8] {
        for mb in 0..5u32 {
            let mut req = TrainRequest::new(64, 4096, 256, 1 << mb);
            req.layout = LayoutRequest {
                tp,
                ..LayoutRequest::default()
            };
            out.push(req);
        }
    }
    out
}

fn estimate(c: &mut Criterion) {
    let gpu = hardware::find("H100-SXM").unwrap();
    let mut group = c.benchmark_group("training::estimate");
    group.throughput(Throughput::Elements(BLOCK));
    group.sample_size(10);
    let reqs = requests();
    for (name, arch) in models() {
        group.bench_function(format!("point: {name}"), |b| {
            b.iter(|| {
                for req in &reqs {
                    let _ = black_box(training::estimate(black_box(&arch), gpu, req));
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, estimate);
criterion_main!(benches);
