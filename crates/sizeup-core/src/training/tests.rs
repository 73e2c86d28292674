//! End-to-end checks of [`estimate`](super::estimate).

use super::*;
use crate::hardware;

fn gpu(name: &str) -> Accelerator {
    hardware::find(name).unwrap().clone()
}
use crate::Shape;

fn llama31_8b() -> Architecture {
    // shared/fixtures/models/llama-3.1-8b
    Shape::llama(32, 4096, 32, 8, 14336, 128256)
        .build()
        .unwrap()
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
