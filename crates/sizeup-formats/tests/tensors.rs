//! The tensor-by-tensor listing (`sizeup_core::params::tensors`) that weight formats
//! size sums to the reference count on every fixture.

#[allow(dead_code)] // helpers shared with the other integration tests
mod common;

use common::{expected, fail_on, fixture_names, fixtures_dir, push};
use sizeup_core::params;
use sizeup_formats::hf;

#[test]
fn tensor_listing_sums_to_params_total_on_every_fixture() {
    let mut out = Vec::new();
    for name in fixture_names() {
        let Ok(parsed) = hf::from_config_path(&fixtures_dir().join(&name)) else {
            continue; // reading errors are reported by tests/fixtures.rs
        };
        let listed: u64 = params::tensors(&parsed.arch)
            .unwrap()
            .iter()
            .map(|t| t.elements().unwrap())
            .sum();
        let want = expected(&name)["params_total"].as_u64().unwrap();
        if listed != want {
            push(&mut out, &name, "Σ tensors", want, listed);
        }
    }
    fail_on(&out);
}
