//! The model shapes unit tests share, each written once with its source.

use crate::arch::Architecture;
use crate::shape::Shape;

/// Llama-3.1-8B: 32 layers, h 4096, 32 heads, 8 KV heads, f 14336, V 128256
/// (shared/fixtures/models/llama-3.1-8b/config.json).
pub(crate) fn llama31_8b_shape() -> Shape {
    Shape::llama(32, 4096, 32, 8, 14336, 128_256)
}

/// [`llama31_8b_shape`], built.
pub(crate) fn llama31_8b() -> Architecture {
    llama31_8b_shape().build().unwrap()
}

/// Llama 3.2 1B: 16 layers, h 2048, 32 heads, 8 KV heads of 64, f 8192, V 128256,
/// the head tied to the embedding; 1,235,814,400 parameters
/// (shared/fixtures/models/llama-3.2-1b/config.json).
pub(crate) fn llama32_1b() -> Architecture {
    let mut arch = Shape::llama(16, 2048, 32, 8, 8192, 128_256)
        .build()
        .unwrap();
    arch.embedding.tied = true;
    arch
}
