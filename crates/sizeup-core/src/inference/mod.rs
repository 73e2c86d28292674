//! Serving estimates: memory per GPU, prefill and decode speed, concurrency and cost.

mod weights;

pub use weights::{
    stored_tensors, weights_breakdown, weights_bytes, weights_bytes_per_gpu, StoredTensor,
    WeightBreakdown, WeightGroup,
};
