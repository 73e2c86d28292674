//! How many serving points `inference::estimate` evaluates per second: the
//! cost of one point of `sizeup sweep`.
//!
//! Run: `cargo bench -p sizeup-core --bench inference`. Each iteration
//! estimates a block of points (contexts × batches), so criterion reports
//! points per second directly.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use sizeup_core::inference::{self, Detail, Engine, InferRequest, Load};
use sizeup_core::{hardware, Architecture, Shape};

/// Points per iteration: 10 contexts × 10 batch sizes.
const BLOCK: u64 = 100;

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

fn requests(detail: Detail) -> Vec<InferRequest> {
    let gpu = hardware::find("H100-SXM").unwrap();
    let mut out = Vec::new();
    for c in 0..10u32 {
        for b in 0..10u32 {
            let mut req = InferRequest::new(gpu, Engine::Vllm);
            req.gpus = 8;
            req.tp = 8;
            req.context = Some(4096 << (c % 6));
            req.load = Load::Batch(1 << b);
            req.detail = detail;
            out.push(req);
        }
    }
    out
}

fn estimate(c: &mut Criterion) {
    let mut group = c.benchmark_group("inference::estimate");
    group.throughput(Throughput::Elements(BLOCK));
    group.sample_size(10);
    // `Full` is what `sizeup infer` computes (ridge search, fit advice for points
    // that do not fit); `Point` is what each point of `sizeup sweep` computes.
    for (label, detail) in [("full", Detail::Full), ("point", Detail::Point)] {
        let reqs = requests(detail);
        for (name, arch) in models() {
            group.bench_function(format!("{label}: {name}"), |b| {
                b.iter(|| {
                    for req in &reqs {
                        let _ = black_box(inference::estimate(black_box(&arch), req));
                    }
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, estimate);
criterion_main!(benches);
