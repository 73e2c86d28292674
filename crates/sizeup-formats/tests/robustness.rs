//! Property tests: readers return `Err`, never panic, on arbitrary bytes and on
//! corrupted valid files; what they accept is consistent; and our safetensors
//! checks agree with the reference crate's on every corrupted file.

mod support;

use std::io::Cursor;

use proptest::prelude::*;
use sizeup_formats::gguf;
use sizeup_formats::safetensors::{self, SafetensorsError};
use support::{st_bytes, st_header, GgufWriter, Ty};

/// A small valid GGUF with every kind of metadata and a few tensors.
fn sample_gguf() -> Vec<u8> {
    let mut g = GgufWriter::default();
    g.string("general.architecture", "llama")
        .u32("llama.block_count", 1)
        .u32("llama.embedding_length", 64)
        .u32("llama.feed_forward_length", 256)
        .u32("llama.attention.head_count", 4)
        .u32("llama.attention.head_count_kv", 2)
        .u32("llama.context_length", 128)
        .f32("llama.rope.freq_base", 10000.0)
        .bool("tokenizer.ggml.add_bos_token", true)
        .strings(
            "tokenizer.ggml.tokens",
            &(0..8).map(|i| format!("tok{i}")).collect::<Vec<_>>(),
        )
        .i32s("tokenizer.ggml.token_type", &[1; 8]);
    g.tensor("token_embd.weight", &[64, 8], Ty::Q8_0)
        .tensor("blk.0.attn_norm.weight", &[64], Ty::F32)
        .tensor("blk.0.attn_q.weight", &[64, 64], Ty::Q8_0)
        .tensor("blk.0.attn_k.weight", &[64, 32], Ty::Q8_0)
        .tensor("blk.0.attn_v.weight", &[64, 32], Ty::Q8_0)
        .tensor("blk.0.attn_output.weight", &[64, 64], Ty::Q8_0)
        .tensor("blk.0.ffn_norm.weight", &[64], Ty::F32)
        .tensor("blk.0.ffn_gate.weight", &[64, 256], Ty::Q8_0)
        .tensor("blk.0.ffn_up.weight", &[64, 256], Ty::Q8_0)
        .tensor("blk.0.ffn_down.weight", &[256, 64], Ty::Q4_K)
        .tensor("output_norm.weight", &[64], Ty::F32);
    g.bytes()
}

fn sample_safetensors() -> Vec<u8> {
    let (json, len) = st_header(
        &[
            ("model.embed_tokens.weight", "BF16", vec![8, 4]),
            ("model.layers.0.self_attn.q_proj.qweight", "I32", vec![1, 4]),
            ("model.layers.0.self_attn.q_proj.scales", "F16", vec![1, 4]),
            ("model.layers.0.mlp.up_proj.weight", "F8_E4M3", vec![4, 4]),
            ("model.layers.0.mlp.up_proj.weight_scale", "F32", vec![]),
            ("lm_head.weight", "F4", vec![8, 4]),
        ],
        &[("format", "pt")],
    );
    st_bytes(&json, len)
}

/// What a corruption does to a file.
#[derive(Debug, Clone)]
enum Mutation {
    /// Overwrite one byte.
    Set(usize, u8),
    /// Overwrite 8 bytes with a little-endian integer (a length, a count, an offset).
    SetU64(usize, u64),
    /// Keep only a prefix.
    Truncate(usize),
    /// Insert bytes.
    Insert(usize, Vec<u8>),
    /// Remove a range.
    Remove(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop_oneof![
        Just(0u64),
        Just(1),
        Just(u64::MAX),
        Just(1 << 63),
        Just(1 << 32),
        any::<u64>(),
        0u64..4096,
    ];
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), interesting).prop_map(|(i, v)| Mutation::SetU64(i, v)),
        any::<usize>().prop_map(Mutation::Truncate),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..16)
        )
            .prop_map(|(i, v)| Mutation::Insert(i, v)),
        (any::<usize>(), 1usize..64).prop_map(|(i, n)| Mutation::Remove(i, n)),
    ]
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len().max(1);
        match m {
            Mutation::Set(i, b) => {
                if let Some(x) = bytes.get_mut(i % len) {
                    *x = *b;
                }
            }
            Mutation::SetU64(i, v) => {
                let at = i % len;
                for (k, b) in v.to_le_bytes().into_iter().enumerate() {
                    if let Some(x) = bytes.get_mut(at + k) {
                        *x = b;
                    }
                }
            }
            Mutation::Truncate(i) => bytes.truncate(i % len),
            Mutation::Insert(i, v) => {
                let at = (i % len).min(bytes.len());
                bytes.splice(at..at, v.iter().copied());
            }
            Mutation::Remove(i, n) => {
                let at = (i % len).min(bytes.len());
                let end = (at + n).min(bytes.len());
                bytes.drain(at..end);
            }
        }
    }
    bytes
}

/// Whatever a reader accepts must be consistent: tensors inside the file.
fn check_gguf(bytes: &[u8]) {
    if let Ok(file) = gguf::read_bytes(bytes) {
        let table = file.tensor_table().expect("sums of in-file sizes fit");
        assert!(file.data_offset + table.bytes <= bytes.len() as u64);
        let _ = file.architecture();
    }
}

fn check_safetensors(bytes: &[u8]) -> Result<(), SafetensorsError> {
    let header = safetensors::read_header(Cursor::new(bytes), "fuzz")?;
    let sum: u64 = header.tensors.iter().map(|t| t.bytes).sum();
    assert_eq!(8 + header.header_len + sum, bytes.len() as u64);
    let ckpt = safetensors::assemble("fuzz", None, vec![("fuzz".into(), header)])?;
    assert_eq!(ckpt.table.bytes, sum);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check_gguf(&bytes);
        let _ = check_safetensors(&bytes);
    }

    #[test]
    fn arbitrary_bytes_after_a_valid_gguf_start_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut bytes = [b"GGUF".as_slice(), &3u32.to_le_bytes(), &2u64.to_le_bytes(), &3u64.to_le_bytes()].concat();
        bytes.extend_from_slice(&tail);
        check_gguf(&bytes);
    }

    #[test]
    fn corrupted_gguf_never_panics(mutations in proptest::collection::vec(mutation(), 1..6)) {
        check_gguf(&apply(sample_gguf(), &mutations));
    }

    #[test]
    fn corrupted_safetensors_agree_with_the_reference_crate(mutations in proptest::collection::vec(mutation(), 1..6)) {
        let bytes = apply(sample_safetensors(), &mutations);
        let ours = check_safetensors(&bytes);
        let reference = ::safetensors::SafeTensors::deserialize(&bytes);
        match (&ours, &reference) {
            // the reference keeps the last of two equal names; we refuse the file
            (Err(SafetensorsError::DuplicateTensor { .. }), _) => {}
            _ => prop_assert_eq!(ours.is_ok(), reference.is_ok(), "ours {:?}, reference {:?}", ours, reference.err()),
        }
    }
}

#[test]
fn the_samples_are_valid() {
    check_gguf(&sample_gguf());
    assert!(gguf::read_bytes(&sample_gguf())
        .unwrap()
        .architecture()
        .is_ok());
    check_safetensors(&sample_safetensors()).unwrap();
    assert!(::safetensors::SafeTensors::deserialize(&sample_safetensors()).is_ok());
}
