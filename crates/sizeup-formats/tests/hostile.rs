//! Hostile files: each is a clear error, found without reading or allocating
//! what the file claims.

mod support;

use std::io::Cursor;

use sizeup_formats::gguf::{self, GgufError};
use sizeup_formats::safetensors::{self, SafetensorsError};
use support::{st_bytes, st_header, GgufWriter, Ty, VirtualFile};

fn st(bytes: Vec<u8>) -> Result<safetensors::SafetensorsHeader, SafetensorsError> {
    safetensors::read_header(Cursor::new(bytes), "hostile.safetensors")
}

fn st_json(json: &str, data_len: u64) -> Result<safetensors::SafetensorsHeader, SafetensorsError> {
    st(st_bytes(json, data_len))
}

#[test]
fn safetensors_header_length_is_bounded() {
    // 2^63 claimed: refused from the first 8 bytes, nothing allocated
    let err = st(((1u64 << 63).to_le_bytes()).to_vec()).unwrap_err();
    assert!(
        matches!(err, SafetensorsError::HeaderTooLarge { claimed, limit, .. }
        if claimed == 1 << 63 && limit == 100 << 20)
    );
    let msg = err.to_string();
    assert!(
        msg.contains("hostile.safetensors") && msg.contains("9223372036854775808"),
        "{msg}"
    );

    // a 200 MiB file claiming a 150 MiB header: above the cap although it fits
    let mut head = (150u64 << 20).to_le_bytes().to_vec();
    head.push(b'{');
    let big = VirtualFile::new(head, 200 << 20);
    let err = safetensors::read_header(big, "big").unwrap_err();
    assert!(
        matches!(err, SafetensorsError::HeaderTooLarge { .. }),
        "{err}"
    );

    // more than the file holds
    let err = st([100u64.to_le_bytes().as_slice(), b"{}"].concat()).unwrap_err();
    assert!(matches!(
        err,
        SafetensorsError::HeaderBeyondFile {
            claimed: 100,
            available: 2,
            ..
        }
    ));

    let err = st(vec![1, 2, 3]).unwrap_err();
    assert!(matches!(
        err,
        SafetensorsError::TooShort { file_len: 3, .. }
    ));
}

#[test]
fn safetensors_entries_are_checked() {
    let cases: [(&str, u64, &str); 12] = [
        (
            r#"{"a":{"dtype":"F32","shape":[4294967296,4294967296,2],"data_offsets":[0,0]}}"#,
            0,
            "ShapeOverflow",
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,1000000]}}"#,
            16,
            "OutOfBounds",
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
            12,
            "Overlap",
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}}"#,
            20,
            "Gap",
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
            12,
            "TrailingData",
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#,
            8,
            "SizeMismatch",
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#,
            8,
            "OffsetsReversed",
        ),
        (
            r#"{"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,1]}}"#,
            1,
            "UnknownDtype",
        ),
        (
            r#"{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}"#,
            2,
            "PartialByte",
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
            8,
            "DuplicateTensor",
        ),
        (
            r#"{"a":{"dtype":"U8","shape":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],"data_offsets":[0,1]}}"#,
            1,
            "Json",
        ),
        (
            r#"{"__metadata__":{"n":1},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#,
            1,
            "Json",
        ),
    ];
    for (json, data_len, expected) in cases {
        let err = st_json(json, data_len).unwrap_err();
        assert!(format!("{err:?}").starts_with(expected), "{json}: {err:?}");
        assert!(err.to_string().contains("hostile.safetensors"), "{err}");
    }
    // the overlap names both tensors, the size mismatch its numbers
    let err = st_json(cases[2].0, 12).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`hostile.safetensors`: tensors `a` and `b` overlap"
    );
    let err = st_json(cases[5].0, 8).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`hostile.safetensors`: tensor `a` (F32 [3]) needs 12 bytes but its data_offsets span 8"
    );
}

#[test]
fn safetensors_deep_or_huge_json_is_an_error() {
    // 100,000 nested arrays: serde_json stops at its 128-level recursion limit
    let deep = format!(r#"{{"a":{}{}}}"#, "[".repeat(100_000), "]".repeat(100_000));
    assert!(matches!(
        st_json(&deep, 0).unwrap_err(),
        SafetensorsError::Json { .. }
    ));
    // 2 MiB of a string that never closes
    let open = format!(r#"{{"a":"{}"#, "x".repeat(2 << 20));
    assert!(matches!(
        st_json(&open, 0).unwrap_err(),
        SafetensorsError::Json { .. }
    ));
    // metadata and zero-size tensors are fine
    let (json, len) = st_header(
        &[("empty", "F32", vec![0, 5]), ("b", "BF16", vec![3])],
        &[("format", "pt")],
    );
    let header = st_json(&json, len).unwrap();
    assert_eq!(header.tensors.len(), 2);
}

fn gg(bytes: &[u8]) -> GgufError {
    gguf::read_bytes(bytes).unwrap_err()
}

fn head(version: u32, n_tensors: u64, n_kv: u64) -> Vec<u8> {
    [
        b"GGUF".as_slice(),
        &version.to_le_bytes(),
        &n_tensors.to_le_bytes(),
        &n_kv.to_le_bytes(),
    ]
    .concat()
}

#[test]
fn gguf_magic_version_and_counts() {
    assert!(
        matches!(gg(b"GGML\x03\0\0\0"), GgufError::BadMagic { found, .. } if &found == b"GGML")
    );
    assert!(matches!(
        gg(&head(1, 0, 0)),
        GgufError::UnsupportedVersion { version: 1, .. }
    ));
    // a big-endian v3 file reads as 0x03000000
    assert!(matches!(
        gg(&head(0x0300_0000, 0, 0)),
        GgufError::UnsupportedVersion { .. }
    ));
    assert!(matches!(
        gg(&head(3, 1 << 63, 0)),
        GgufError::CountTooLarge {
            what: "tensor count",
            ..
        }
    ));
    assert!(matches!(
        gg(&head(3, 0, u64::MAX)),
        GgufError::CountTooLarge {
            what: "metadata count",
            ..
        }
    ));
    // 1000 tensors announced, none present
    assert!(matches!(gg(&head(3, 1000, 0)), GgufError::Truncated { .. }));
    assert!(matches!(
        gg(b"GG"),
        GgufError::Truncated { what: "magic", .. }
    ));
}

#[test]
fn gguf_lengths_beyond_the_file() {
    // a key of length 2^63
    let mut b = head(3, 0, 1);
    b.extend_from_slice(&(1u64 << 63).to_le_bytes());
    assert!(matches!(
        gg(&b),
        GgufError::CountTooLarge {
            what: "metadata key",
            ..
        }
    ));
    // a string value of 2^62 bytes
    let mut g = GgufWriter::default();
    g.raw_kv("s", 8, &(1u64 << 62).to_le_bytes());
    assert!(matches!(
        gg(&g.bytes()),
        GgufError::CountTooLarge {
            what: "string length",
            ..
        }
    ));
    // a string value longer than the file
    let mut g = GgufWriter::default();
    g.raw_kv("s", 8, &1000u64.to_le_bytes());
    let err = gg(&g.bytes());
    assert!(
        matches!(
            err,
            GgufError::Truncated {
                what: "string",
                needed: 1000,
                ..
            }
        ),
        "{err}"
    );
    // an array of 10 million u64 in a 100-byte file: refused before allocating
    let mut p = 10u32.to_le_bytes().to_vec();
    p.extend_from_slice(&10_000_000u64.to_le_bytes());
    let mut g = GgufWriter::default();
    g.raw_kv("a", 9, &p);
    let err = gg(&g.bytes());
    assert!(
        matches!(
            err,
            GgufError::Truncated {
                what: "array",
                needed: 80_000_000,
                ..
            }
        ),
        "{err}"
    );
    // an array length above the cap
    let mut p = 0u32.to_le_bytes().to_vec();
    p.extend_from_slice(&(1u64 << 40).to_le_bytes());
    let mut g = GgufWriter::default();
    g.raw_kv("a", 9, &p);
    assert!(matches!(
        gg(&g.bytes()),
        GgufError::CountTooLarge {
            what: "array length",
            ..
        }
    ));
}

#[test]
fn gguf_nesting_and_types() {
    // arrays nested 5 deep: [[[[[ ]]]]]
    let mut p = Vec::new();
    for _ in 0..5 {
        p.extend_from_slice(&9u32.to_le_bytes());
        p.extend_from_slice(&1u64.to_le_bytes());
    }
    let mut g = GgufWriter::default();
    g.raw_kv("deep", 9, &p);
    assert!(matches!(
        gg(&g.bytes()),
        GgufError::NestingTooDeep { limit: 4, .. }
    ));

    let mut g = GgufWriter::default();
    g.raw_kv("k", 13, &[]);
    assert!(matches!(
        gg(&g.bytes()),
        GgufError::UnknownValueType { type_id: 13, .. }
    ));

    let mut g = GgufWriter::default();
    g.u32("k", 1).u32("k", 2);
    assert!(matches!(gg(&g.bytes()), GgufError::DuplicateKey { .. }));

    let mut g = GgufWriter::default();
    g.u32("general.alignment", 48);
    assert!(matches!(
        gg(&g.bytes()),
        GgufError::BadAlignment { alignment: 48, .. }
    ));
    let mut g = GgufWriter::default();
    g.u64("general.alignment", 32);
    assert!(matches!(
        gg(&g.bytes()),
        GgufError::WrongKeyType {
            expected: "uint32",
            found: "uint64",
            ..
        }
    ));

    let mut b = head(3, 0, 1);
    b.extend_from_slice(&2u64.to_le_bytes());
    b.extend_from_slice(&[0xff, 0xfe]);
    assert!(matches!(
        gg(&b),
        GgufError::InvalidUtf8 {
            what: "metadata key",
            ..
        }
    ));
}

#[test]
fn gguf_tensor_infos() {
    let cases: Vec<(GgufWriter, &str)> = vec![
        (
            {
                let mut g = GgufWriter::default();
                g.raw_tensor("t", &[1 << 40, 1 << 40], 0, 0, 0);
                g
            },
            "Overflow",
        ),
        (
            {
                let mut g = GgufWriter::default();
                g.raw_tensor("t", &[1, 1, 1, 1, 1], 0, 0, 4);
                g
            },
            "TooManyDims",
        ),
        (
            {
                let mut g = GgufWriter::default();
                g.raw_tensor("t", &[u64::MAX], 0, 0, 0);
                g
            },
            "DimTooLarge",
        ),
        (
            {
                let mut g = GgufWriter::default();
                g.raw_tensor("t", &[32], 4, 0, 18);
                g
            },
            "UnknownGgmlType",
        ),
        (
            {
                let mut g = GgufWriter::default();
                g.raw_tensor("t", &[100], Ty::Q4_K.id(), 0, 144);
                g
            },
            "PartialBlock",
        ),
        (
            {
                let mut g = GgufWriter::default();
                g.raw_tensor("t", &[8], 0, 64, 0);
                g
            },
            "TensorOutOfBounds",
        ),
        (
            {
                let mut g = GgufWriter::default();
                g.raw_tensor("t", &[8], 0, 1 << 62, 0);
                g
            },
            "TensorOutOfBounds",
        ),
        (
            {
                let mut g = GgufWriter::default();
                g.raw_tensor("t", &[8], 0, 0, 32)
                    .raw_tensor("u", &[16], 0, 0, 64);
                g
            },
            "OverlappingTensors",
        ),
        (
            {
                let mut g = GgufWriter::default();
                g.raw_tensor("t", &[8], 0, 8, 32);
                g
            },
            "MisalignedTensor",
        ),
        (
            {
                let mut g = GgufWriter::default();
                g.tensor("t", &[8], Ty::F32).tensor("t", &[8], Ty::F32);
                g
            },
            "DuplicateTensor",
        ),
    ];
    for (g, expected) in cases {
        let err = gg(&g.bytes());
        assert!(
            format!("{err:?}").starts_with(expected),
            "{expected}: {err:?}"
        );
        assert!(err.to_string().contains("`<memory>`"), "{err}");
    }
}

#[test]
fn gguf_every_truncation_is_an_error() {
    let mut g = GgufWriter::default();
    g.string("general.architecture", "llama")
        .strings("tokenizer.ggml.tokens", &["a".into(), "b".into()])
        .tensor("token_embd.weight", &[64, 2], Ty::Q8_0)
        .tensor("output_norm.weight", &[64], Ty::F32);
    let whole = g.bytes();
    assert!(gguf::read_bytes(&whole).is_ok());
    for len in 0..whole.len() {
        assert!(
            gguf::read_bytes(&whole[..len]).is_err(),
            "prefix of {len} bytes"
        );
    }
}
