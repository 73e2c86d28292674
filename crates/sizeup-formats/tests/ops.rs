//! Every catalog model: each estimate's totals held to the operator list.

use sizeup_core::arch::Group;
use sizeup_core::dtype::{ComputePrecision, WeightOptions};
use sizeup_core::hardware;

use sizeup_core::inference::{pass_time, profile, stored_tensors, Backend, Engine, Machine, Pass};
use sizeup_core::kv::{self, KvRequest, STATE_BYTES_PER_ELEMENT};
use sizeup_core::ops::{self, OpKind, PassShape, Stage};
use sizeup_core::params::{self, outer_tensors};
use sizeup_core::training::activations::Recompute;
use sizeup_core::training::flops;
use sizeup_core::{KvDtype, WeightFormat};
use sizeup_formats::catalog;

const SEQ: u64 = 4096;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn every_estimate_is_a_fold_over_the_operator_list() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for entry in catalog::all() {
        let arch = &entry.arch;
        let name = &entry.name;
        let mut fail = |what: &str, ours: String, list: String| {
            failures.push(format!("{name}: {what}: estimate {ours}, list {list}"));
        };
        let list = ops::list(arch).unwrap();
        let count = params::count(arch).unwrap();

        // every layer belongs to exactly one distinct block of the list
        let layers: u64 = list.blocks.iter().map(|b| b.layers).sum();
        if layers != arch.num_layers() {
            fail("layers", arch.num_layers().to_string(), layers.to_string());
        }

        // parameters: the blocks' tensors times their layers, plus the outer tensors
        let (head, tail) = outer_tensors(arch).unwrap();
        let outer: u64 = head
            .iter()
            .chain(&tail)
            .map(|t| t.elements().unwrap())
            .sum();
        let mut in_blocks = 0u64;
        let mut matmul_elements = 0u64;
        let mut matrix_elements = 0u64;
        let mut inactive = 0u64;
        for b in &list.blocks {
            for t in &b.tensors {
                in_blocks += t.elements().unwrap() * b.layers;
                if Stage::of(t.role).is_some() {
                    matrix_elements += t.elements().unwrap() * b.layers;
                }
            }
            // each product reads the tensor it names, with that tensor's shape
            for m in b.matmuls() {
                let t = &b.tensors[m.tensor];
                if (t.role, t.rows, t.cols, t.copies, t.tp) != (m.role, m.n, m.k, m.copies, m.tp) {
                    fail("product's tensor", format!("{t:?}"), format!("{m:?}"));
                }
                matmul_elements += m.weight_elements() * b.layers;
            }
            // the routed experts a token skips (biases included) are the inactive ones
            if let Some(routed) = b
                .matmuls()
                .find(|m| Stage::of(m.role) == Some(Stage::Experts))
            {
                let unused = routed.copies - routed.active;
                inactive += b
                    .tensors
                    .iter()
                    .filter(|t| t.group == Group::MoeRoutedExperts)
                    .map(|t| t.rows * t.cols * unused * b.layers)
                    .sum::<u64>();
            }
        }
        if count.total != outer + in_blocks {
            fail(
                "parameters",
                count.total.to_string(),
                (outer + in_blocks).to_string(),
            );
        }
        if count.active != count.total - inactive {
            fail(
                "active parameters",
                count.active.to_string(),
                (count.total - inactive).to_string(),
            );
        }
        if matmul_elements != matrix_elements {
            fail(
                "product weights",
                matrix_elements.to_string(),
                matmul_elements.to_string(),
            );
        }

        // weights: 16-bit bytes are two per element of the list's tensors
        let stored = stored_tensors(arch, WeightFormat::Bf16, &WeightOptions::default()).unwrap();
        let bytes: u64 = stored.iter().map(|s| s.bytes).sum();
        if bytes != 2 * (outer + in_blocks) {
            fail(
                "bf16 weight bytes",
                bytes.to_string(),
                (2 * (outer + in_blocks)).to_string(),
            );
        }

        // KV cache and state: the attention ops' cache rows over their spans, the scans' state
        let cache = kv::size(
            arch,
            &KvRequest {
                seq_len: SEQ,
                batch: 1,
                dtype: KvDtype::Fp16,
                tp: 1,
                block_tokens: None,
            },
        )
        .unwrap();
        let mut from_list = 0u64;
        for b in &list.blocks {
            for op in &b.ops {
                match &op.kind {
                    OpKind::Attention(a) if a.writes_cache => {
                        let tokens = if a.span.grows_with_context() {
                            SEQ.min(a.span.cached_tokens())
                        } else {
                            a.span.cached_tokens()
                        };
                        from_list += 2 * a.cached.0 * tokens * b.layers;
                        if let Some(c) = a.compressed {
                            from_list += 2 * c.width * (SEQ / c.ratio.max(1)) * b.layers;
                        }
                    }
                    OpKind::Scan(s) => {
                        from_list += (s.state + s.conv) * STATE_BYTES_PER_ELEMENT * b.layers
                    }
                    _ => {}
                }
            }
        }
        if cache.bytes_per_sequence != from_list {
            fail(
                "KV cache and state bytes",
                cache.bytes_per_sequence.to_string(),
                from_list.to_string(),
            );
        }

        // training FLOPs: 6 per active parameter plus 3 × the attention ops' forward
        let f = flops::per_token(arch, SEQ, Recompute::None, None).unwrap();
        let attention: f64 = list
            .blocks
            .iter()
            .filter_map(|b| {
                b.attention()
                    .map(|a| a.training_flops_per_token(b.layers, SEQ))
            })
            .sum();
        if !close(f.attention, 3.0 * attention) || !close(f.params_6n, 6.0 * count.active as f64) {
            fail(
                "training FLOPs per token",
                format!("{} + {}", f.params_6n, f.attention),
                format!("{} + {}", 6.0 * count.active as f64, 3.0 * attention),
            );
        }

        // serving roofline: a prefill's FLOPs are the forward list's, one rank, 16 bits
        let gpu = hardware::find("H100-SXM").unwrap();
        let prof = profile(Engine::Vllm, Backend::Cuda);
        let m = Machine {
            gpu,
            tp: 1,
            ep: 1,
            dp: 1,
            profile: &prof,
            precision: ComputePrecision::Bf16,
            kv_dtype: KvDtype::Fp16,
            quantized: false,
            fp16_products: false,
        };
        for (sequences, new_tokens, cached_tokens) in [(1, 512, 0), (4, 1, 1000)] {
            let pass = pass_time(
                arch,
                &stored,
                &Pass {
                    sequences,
                    new_tokens,
                    cached_tokens,
                },
                m,
            );
            let fwd = ops::forward(
                &list,
                &PassShape {
                    sequences,
                    new_tokens,
                    cached_tokens,
                },
            );
            // a tied head is priced through the embedding's weights: the same V·h
            if !close(pass.flops, fwd.flops()) {
                fail(
                    &format!("roofline FLOPs ({sequences}×{new_tokens} after {cached_tokens})"),
                    pass.flops.to_string(),
                    fwd.flops().to_string(),
                );
            }
        }
        checked += 1;
    }
    assert!(checked > 0, "the catalog is empty");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
