//! GGUF header reader on arbitrary bytes: an error or a consistent file, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = sizeup_formats::gguf::read_bytes(data) {
        let table = file.tensor_table().expect("in-file sizes add up within 64 bits");
        assert!(file.data_offset + table.bytes <= data.len() as u64);
        let _ = file.architecture();
    }
});
