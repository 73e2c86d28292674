//! safetensors header reader on arbitrary bytes: an error or tensors that tile
//! the data section exactly, never a panic.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use sizeup_formats::safetensors::{assemble, read_header};

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = read_header(Cursor::new(data), "fuzz") {
        let sum: u64 = header.tensors.iter().map(|t| t.bytes).sum();
        assert_eq!(8 + header.header_len + sum, data.len() as u64);
        let _ = assemble("fuzz", None, vec![("fuzz".into(), header)]);
    }
});
