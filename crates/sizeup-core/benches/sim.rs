//! How many engine steps the serving simulation runs per second.
//!
//! Run: `cargo bench -p sizeup-core --bench sim`. Each iteration is a whole run
//! (the memory estimate, the pricing of every distinct pass and the event
//! loop); criterion reports its steps per second.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use sizeup_core::inference::sim::{self, Arrivals, Dist, Lengths, SimRequest};
use sizeup_core::inference::{Engine, InferRequest};
use sizeup_core::{hardware, Shape};

fn steps(c: &mut Criterion) {
    // Llama-3.1-8B's shape (shared/fixtures/models/llama-3.1-8b/config.json) on one H100
    let arch = Shape::llama(32, 4096, 32, 8, 14336, 128_256)
        .build()
        .unwrap();
    let mut req = InferRequest::new(hardware::find("H100-SXM").unwrap(), Engine::Vllm);
    req.prompt = 512;
    req.output = 256;
    let mut group = c.benchmark_group("inference::sim");
    group.sample_size(10);
    for (label, arrivals) in [
        ("poisson 10 req/s", Arrivals::Poisson { rate_per_sec: 10.0 }),
        ("closed loop 64", Arrivals::ClosedLoop { clients: 64 }),
    ] {
        let mut s = SimRequest::poisson(1.0, 512, 256);
        s.arrivals = arrivals;
        s.requests = 20_000;
        s.lengths = Lengths::Drawn {
            prompt: Dist::LogNormal {
                mean: 512.0,
                sd: 256.0,
            },
            output: Dist::Uniform { lo: 64, hi: 448 },
        };
        let steps = sim::simulate(&arch, &req, &s).unwrap().steps;
        group.throughput(Throughput::Elements(steps));
        group.bench_function(format!("{label}: {steps} steps"), |b| {
            b.iter(|| black_box(sim::simulate(black_box(&arch), &req, &s)))
        });
    }
    group.finish();
}

criterion_group!(benches, steps);
criterion_main!(benches);
