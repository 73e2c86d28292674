//! How many serving setups the steady-state tier of `plan serve` decides per second.
//!
//! Run: `cargo bench -p sizeup-core --features parallel --bench plan_serve`. Each
//! iteration runs the steady-state tier over a whole space; criterion's
//! throughput is the number of setups in it, so it reports setups per second
//! directly (all cores). The simulation tier is apart (see the `sim` bench).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use sizeup_core::dtype::WeightOptions;
use sizeup_core::inference::sim::DEFAULT_MAX_STEPS;
use sizeup_core::inference::{Engine, Prepared};
use sizeup_core::plan::serve::{
    default_accelerators, front_size, search_steady, LatencyTargets, Percentile, ServeLoad,
    ServePlanRequest, ServeRankBy, ServeSpace, ServeWorkload, SimBounds,
};
use sizeup_core::Shape;

fn request(load: ServeLoad, prompt: u64, output: u64) -> ServePlanRequest {
    ServePlanRequest {
        workload: ServeWorkload {
            prompt,
            output,
            context: None,
            engine: Engine::Vllm,
            weight_options: WeightOptions::default(),
            price_per_gpu_hour: None,
        },
        space: ServeSpace::default(),
        load,
        targets: LatencyTargets {
            ttft_seconds: 1.0,
            tpot_seconds: 0.05,
            percentile: Percentile::P95,
        },
        by: ServeRankBy::Cost,
        top: 5,
        simulation: SimBounds {
            requests_per_replica: 500,
            seed: 0,
            max_steps: DEFAULT_MAX_STEPS,
        },
    }
}

fn steady(c: &mut Criterion) {
    let accs = default_accelerators();
    let mut group = c.benchmark_group("plan::serve::search_steady");
    group.sample_size(10);
    // Llama-3.1-8B and -70B (shared/fixtures/models/*/config.json) over the
    // catalog's priced data-centre GPUs and the default space (up to 64 GPUs)
    for (name, arch, load) in [
        (
            "llama-3.1-8b, 20 req/s",
            Shape::llama(32, 4096, 32, 8, 14336, 128_256)
                .build()
                .unwrap(),
            ServeLoad::Rate { per_sec: 20.0 },
        ),
        (
            "llama-3.1-70b, 512 users",
            Shape::llama(80, 8192, 64, 8, 28672, 128_256)
                .build()
                .unwrap(),
            ServeLoad::Users { users: 512 },
        ),
    ] {
        let req = request(load, 2000, 500);
        let n = req.count(&arch, &accs).setups;
        group.throughput(Throughput::Elements(n));
        let prepared = Prepared::new(&arch);
        let front = front_size(req.top, &req.space);
        group.bench_function(format!("{name}: {n} setups"), |b| {
            b.iter(|| search_steady(black_box(&prepared), &accs, &req, front).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, steady);
criterion_main!(benches);
