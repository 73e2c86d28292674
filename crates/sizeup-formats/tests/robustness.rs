//! Property tests: readers return `Err`, never panic, on arbitrary bytes and on
//! corrupted valid files; what they accept is consistent; and our safetensors
//! checks agree with the reference crate's on every corrupted file.

mod support;

use proptest::prelude::*;
use sizeup_formats::gguf;
use sizeup_formats::safetensors::SafetensorsError;
use support::{apply, check_gguf, check_safetensors, sample_gguf, sample_safetensors, Mutation};

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
