//! Counting does not depend on the build profile: maximal inputs fed through the
//! public functions come back as an error, never as a wrapped number.
//!
//! Tests build with overflow checks, so an unchecked operation left on these
//! paths panics here (and would wrap in a release build without the checks): each
//! call runs under `catch_unwind`, and a panic fails the test with its name.

use std::panic::{catch_unwind, AssertUnwindSafe};

use sizeup_core::hardware;
use sizeup_core::inference::sim::{self, Dist, Lengths, SimRequest};
use sizeup_core::inference::{self, Engine, InferRequest, Load};
use sizeup_core::kv::{self, KvRequest};
use sizeup_core::training::{self, TrainRequest};
use sizeup_core::{ops, params, Architecture, CoreError, KvDtype, Shape};

/// `f()`'s result; a panic (an unchecked overflow) fails the test naming `what`.
fn no_panic<T>(what: &str, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| panic!("{what} panicked"))
}

fn overflowed<T: std::fmt::Debug>(what: &str, r: Result<T, CoreError>) {
    match r {
        Err(CoreError::Overflow { .. }) => {}
        other => panic!("{what}: expected an overflow error, got {other:?}"),
    }
}

/// Widths whose products pass 2⁶⁴: h = a·d = 2⁴⁰, f = 2⁴², V = 2⁴⁰.
fn huge() -> Architecture {
    Shape::llama(2, 1 << 40, 1 << 20, 1 << 20, 1 << 42, 1 << 40)
        .build()
        .expect("a shape")
}

/// Llama-2-7B's shape, for the requests' own maximal values.
fn llama() -> Architecture {
    Shape::llama(32, 4096, 32, 32, 11008, 32000)
        .build()
        .expect("a shape")
}

#[test]
fn huge_widths_overflow_the_counts() {
    let arch = huge();
    overflowed(
        "params::count",
        no_panic("params::count", || params::count(&arch)),
    );
    let req = KvRequest {
        seq_len: 1 << 30,
        batch: 1 << 24,
        dtype: KvDtype::Fp16,
        tp: 1,
        block_tokens: None,
    };
    overflowed("kv::size", no_panic("kv::size", || kv::size(&arch, &req)));
    let gpu = hardware::find("H100-SXM").expect("in the catalog");
    let infer = InferRequest::new(gpu, Engine::Vllm);
    overflowed(
        "inference::estimate",
        no_panic("inference::estimate", || inference::estimate(&arch, &infer)),
    );
    let train = TrainRequest::new(8, 4096, 8, 1);
    overflowed(
        "training::estimate",
        no_panic("training::estimate", || {
            training::estimate(&arch, gpu, &train)
        }),
    );
}

/// Heads × head dim past 2⁶⁴: the operator list, which every estimate folds,
/// refuses the width itself.
#[test]
fn the_operator_list_refuses_a_width_past_u64() {
    let mut shape = Shape::llama(2, 1024, 1 << 30, 1 << 30, 4096, 1000);
    shape.head_dim = Some(1 << 40);
    let arch = shape.build().expect("a shape");
    overflowed("ops::list", no_panic("ops::list", || ops::list(&arch)));
    overflowed(
        "params::count",
        no_panic("params::count", || params::count(&arch)),
    );
}

#[test]
fn maximal_request_values_are_refused() {
    let arch = llama();
    let gpu = hardware::find("H100-SXM").expect("in the catalog");

    let req = KvRequest {
        seq_len: u64::MAX,
        batch: u64::MAX,
        dtype: KvDtype::Fp16,
        tp: 1,
        block_tokens: Some(u64::MAX),
    };
    overflowed("kv::size", no_panic("kv::size", || kv::size(&arch, &req)));

    let mut infer = InferRequest::new(gpu, Engine::Vllm);
    infer.prompt = u64::MAX;
    infer.output = u64::MAX;
    overflowed(
        "inference::estimate",
        no_panic("inference::estimate", || inference::estimate(&arch, &infer)),
    );
    let mut infer = InferRequest::new(gpu, Engine::Vllm);
    infer.load = Load::Concurrency(u64::MAX);
    infer.context = Some(u64::MAX);
    let r = no_panic("inference::estimate", || inference::estimate(&arch, &infer));
    assert!(r.is_err(), "{r:?}");

    let mut train = TrainRequest::new(u64::MAX, u64::MAX, u64::MAX, u64::MAX);
    train.tokens = Some(u64::MAX);
    let r = no_panic("training::estimate", || {
        training::estimate(&arch, gpu, &train)
    });
    assert!(r.is_err(), "{r:?}");

    let infer = InferRequest::new(gpu, Engine::Vllm);
    let mut s = SimRequest::poisson(1.0, 1, 1);
    s.lengths = Lengths::Drawn {
        prompt: Dist::Fixed { tokens: u64::MAX },
        output: Dist::Uniform {
            lo: 1,
            hi: u64::MAX,
        },
    };
    let r = no_panic("sim::simulate", || sim::simulate(&arch, &infer, &s));
    assert!(
        matches!(
            r,
            Err(CoreError::Invalid {
                field: "prompt",
                ..
            })
        ),
        "{r:?}"
    );
}
