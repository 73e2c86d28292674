//! Requests and responses round-trip through JSON; requests read as the flags read.

use serde_json::{json, Value};
use sizeup_core::inference::sim::Dist;
use sizeup_core::inference::Engine;
use sizeup_core::training::activations::Recompute;
use sizeup_core::training::fit::SeqLenStep;
use sizeup_core::training::lora::Projection;
use sizeup_core::training::loss::Loss;
use sizeup_core::training::states::OptimizerImpl;
use sizeup_core::KvDtype;

use super::*;

/// `value` read as `T`, written, read again and written again: the two writings
/// are the same bytes, and name exactly the fields of `T`'s flags.
fn round_trip<T: Estimate>(value: Value) -> T {
    let first: T = serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("{} {value}: {e}", T::COMMAND));
    let written = serde_json::to_string(&first).expect("written");
    let second: T = serde_json::from_str(&written)
        .unwrap_or_else(|e| panic!("{} reads back {written}: {e}", T::COMMAND));
    assert_eq!(
        serde_json::to_string(&second).expect("written"),
        written,
        "{}",
        T::COMMAND
    );
    let object: serde_json::Map<String, Value> = serde_json::from_str(&written).expect("a map");
    let mut keys: Vec<&str> = object
        .keys()
        .map(String::as_str)
        .filter(|k| *k != CONFIG_FIELD)
        .collect();
    let fields = fields::<T>();
    let mut names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    keys.sort_unstable();
    names.sort_unstable();
    assert_eq!(keys, names, "{}: written fields against flags", T::COMMAND);
    first
}

#[test]
fn params_request_round_trips() {
    let r: ParamsRequest = round_trip(json!({"model": "llama-3.1-8b", "as": "llama"}));
    assert_eq!(r.model.as_type.as_deref(), Some("llama"));
}

#[test]
fn kv_request_round_trips() {
    let r: KvRequest = round_trip(json!({
        "model": "llama-3.1-8b", "seq_len": "32k", "batch": 4, "kv_dtype": "q8_0", "tp": 2,
        "block_size": 16
    }));
    assert_eq!(
        (r.seq_len, r.batch, r.kv_dtype, r.tp, r.block_size),
        (32_768, 4, KvDtype::Q8_0, 2, Some(16))
    );
}

#[test]
fn infer_request_round_trips() {
    let r: InferRequest = round_trip(json!({
        "model": "llama-3.1-8b", "gpu": "A100-SXM-80GB", "gpus": 4, "tp": 2, "price": 2.5,
        "weights": "Q4_K_M", "keep_embeddings_16bit": true, "kv_dtype": "fp8", "context": "32k",
        "prompt": 2048, "output": 512, "concurrency": 8, "engine": "llama.cpp",
        "gpu_memory_utilization": 0.85, "kv_block": 32, "runtime_mib": 1024,
        "comm_buffer_mib": 256, "prefill_chunk": 4096, "matmul_efficiency": 0.7,
        "matmul_efficiency_8bit": 0.6, "memory_efficiency": 0.8, "layer_overhead_us": 12.5,
        "allreduce_efficiency": 0.75, "allreduce_latency_us": 9,
        "rate": 2.5, "requests": 50, "seed": 7, "max_steps": "1M",
        "prompt_dist": "uniform:64..512", "output_dist": "lognormal:128,0.5",
        "max_num_seqs": 64, "max_batched_tokens": 4096, "no_chunked_prefill": true,
        "prefix_hit_rate": 0.5, "step_overhead_ms": 1.5, "request_overhead_ms": 3
    }));
    assert_eq!(r.serve.engine, Engine::LlamaCpp);
    assert_eq!(
        r.serve.weights.map(|w| w.to_string()).as_deref(),
        Some("Q4_K_M")
    );
    assert_eq!(r.serve.context, Some(32_768));
    assert_eq!(r.device.gpu, "A100-SXM-80GB");
    assert_eq!(r.load.max_steps, 1_000_000);
    assert_eq!(r.load.prompt_dist, Some(Dist::Uniform { lo: 64, hi: 512 }));
}

#[test]
fn train_request_round_trips() {
    let r: TrainRequest = round_trip(json!({
        "model": "llama-3.1-8b", "gpu": "H200-SXM", "gpus": 16, "tp": 2, "price": 3,
        "tokens": "1T", "seq_len": "8k", "global_batch": 128, "micro_batch": 2, "pp": 2,
        "vpp": 2, "cp": 2, "ep": 1, "dp": 2, "sequence_parallel": true, "zero": 1, "fsdp": false,
        "distributed_optimizer": true, "recompute": "selective", "flash_attention": false,
        "dropout": true, "optimizer": "adamw-8bit", "precision": "fp8", "master_weights": false,
        "optimizer_in_backward": true, "optimizer_impl": "deepspeed-bf16", "mfu": 0.4, "method": "lora", "lora_rank": 8,
        "lora_targets": ["q", "v"], "kernels": "eager", "loss": "chunked:16",
        "overlap_tp": true, "overlap_dp": false, "overlap_ep": true, "gpus_per_node": 4,
        "inter_node_gbps": 200, "max_seq_len": true, "seq_len_step": "pow2"
    }));
    assert_eq!(r.train.tokens, Some(1_000_000_000_000));
    assert_eq!(r.train.loss, Some(Loss::Chunked(16)));
    assert_eq!(r.train.lora_targets, [Projection::Q, Projection::V]);
    assert_eq!(r.train.recompute, Recompute::Selective);
    assert_eq!(r.train.optimizer_impl, OptimizerImpl::DeepspeedBf16);
    assert!(!r.train.flash_attention);
    assert_eq!(r.seq_len_step, SeqLenStep::PowerOfTwo);
}

#[test]
fn card_request_round_trips() {
    let r: CardRequest = round_trip(json!({
        "model": "llama-3.1-8b", "workload": "finetune", "gpu": "L40S", "tp": 2,
        "weights": "awq-int4-g128", "kv_dtype": "fp8", "context": 4096, "prompt": 1000,
        "output": 100, "concurrency": 4, "ttft_target": 1.5, "tpot_target_ms": 40,
        "engine": "sglang", "price": 1.2, "train_gpu": "A100-SXM-80GB", "train_gpus": 4,
        "tokens": "10M", "seq_len": 2048, "global_batch": 32, "micro_batch": 2,
        "recompute": "full", "zero": 2, "method": "qlora", "lora_rank": 32
    }));
    assert_eq!(r.method, "qlora");
    assert_eq!(r.tokens, Some(10_000_000));
}

#[test]
fn plan_request_round_trips() {
    let r: PlanTrainRequest = round_trip(json!({
        "model": "llama-3.1-8b", "gpu": ["H100-SXM", "A100-SXM-80GB"], "gpus": "8,16,32",
        "price": 2, "by": "cost", "top": 3, "tp": [1, 2], "pp": [1], "vpp": [1], "cp": [1],
        "ep": [1], "micro_batch": [1, 2], "recompute": ["full", "selective"], "zero": [1, 3],
        "tokens": "10B", "seq_len": 2048, "global_batch": 64, "optimizer": "sgd",
        "precision": "fp16", "flash_attention": false, "overlap_tp": true,
        "gpus_per_node": 4, "inter_node_gbps": 100
    }));
    assert_eq!(r.gpus.0, [8, 16, 32]);
    assert_eq!(r.gpu.len(), 2);
}

#[test]
fn sweep_request_round_trips() {
    let r: SweepRequest = round_trip(json!({
        "model": "llama-3.1-8b", "mode": "train", "vary": ["micro_batch=1..8*2", "seq_len=4k,8k"],
        "rank": "speed", "max_work": "1M", "gpus": 8, "zero": 3, "weights": "fp8"
    }));
    assert_eq!(r.vary.len(), 2);
    assert_eq!(r.max_work, 1_000_000);
}

#[test]
fn catalog_and_file_requests_round_trip() {
    let r: ModelsRequest = round_trip(json!({"filter": "qwen"}));
    assert_eq!(r.filter.as_deref(), Some("qwen"));
    let r: GpusRequest = round_trip(json!({"filter": "h100", "gpu_file": "my-gpu.toml"}));
    assert_eq!(r.gpu_file.as_deref(), Some("my-gpu.toml"));
    let r: RoughRequest =
        round_trip(json!({"layers": [12, 24], "seq_len": ["4k"], "only": "small"}));
    assert_eq!(r.layers, [12, 24]);
    assert_eq!(r.seq_len, [4096]);
    let r: InspectRequest = round_trip(json!({"path": "model.gguf", "tensors": true}));
    assert!(r.tensors);
}

/// Defaults written out whole read back, even for flags that need another
/// (`requests` needs `rate`): a field equal to its default is not passed.
#[test]
fn a_request_with_every_default_written_out_reads_back() {
    let r: InferRequest = round_trip(json!({"model": "llama-3.1-8b"}));
    assert_eq!(r.load.requests, 1000);
    let written = serde_json::to_value(&r).expect("written");
    assert_eq!(written["requests"], 1000);
    assert_eq!(written["gpu"], "H100-SXM");
    assert_eq!(written["engine"], "vllm");
    // given explicitly with a value of its own, it needs `rate`, as on the command line
    let e = InferRequest::from_fields([
        ("model".to_string(), json!("llama-3.1-8b")),
        ("requests".to_string(), json!(50)),
    ])
    .expect_err("requests without rate");
    assert!(
        e.error.contains("--rate") || e.error.contains("--requests"),
        "{e}"
    );
}

#[test]
fn an_inline_config_round_trips_as_text() {
    let config = json!({
        "model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "vocab_size": 1000, "max_position_embeddings": 2048, "tie_word_embeddings": false
    });
    let r: ParamsRequest = round_trip(json!({"config": config}));
    assert_eq!(r.model.model, "config.json");
    let written = serde_json::to_value(&r).expect("written");
    assert_eq!(written["config"], config.to_string());
    let response = params(&r).expect("counted");
    // per layer 4·64² − 2·64·32 (GQA k, v) + 3·64·128 + 2·64 norms = 36_992;
    // 2 layers + 2·1000·64 (embedding, untied head) + 64 (final norm)
    assert_eq!(response.params_total, 2 * 36_992 + 128_000 + 64);
}

/// A request without `weights` serves the checkpoint's own format; one with
/// `weights` serves the user's, and says so.
#[test]
fn infer_weights_default_to_the_checkpoints_format() {
    let config = json!({
        "model_type": "llama", "hidden_size": 256, "intermediate_size": 512,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "vocab_size": 1000, "max_position_embeddings": 2048, "tie_word_embeddings": false,
        "quantization_config": {"quant_method": "fp8", "weight_block_size": [128, 128]}
    });
    let weight_format = |fields: Value| {
        let r: InferRequest = round_trip(fields);
        let e = infer(&r).expect("estimated").estimate;
        let a = e
            .assumptions
            .iter()
            .find(|a| a.name == "weight format")
            .expect("a weight format assumption")
            .clone();
        (e.weights.to_string(), a.value, a.source)
    };
    let read = weight_format(json!({"config": config, "gpu": "H100-SXM"}));
    assert_eq!(
        read,
        (
            "fp8-block128".to_string(),
            "fp8-block128".to_string(),
            "read from config.json quantization_config: quant_method fp8, weight_block_size \
             [128, 128]; storage per tensor in weight_breakdown"
                .to_string()
        )
    );
    let chosen = weight_format(json!({"config": config, "gpu": "H100-SXM", "weights": "bf16"}));
    assert_eq!(
        chosen,
        (
            "bf16".to_string(),
            "bf16".to_string(),
            "user choice; storage per tensor in weight_breakdown".to_string()
        )
    );
}

/// A refused value is an error naming the field, through serde as through `from_fields`.
#[test]
fn a_refused_value_names_its_field() {
    let e = KvRequest::from_fields([
        ("model".to_string(), json!("llama-3.1-8b")),
        ("tp".to_string(), json!(0)),
    ])
    .expect_err("tp 0");
    assert_eq!(e.field.as_deref(), Some("tp"));
    assert!(e.error.contains("--tp"), "{e}");
    let e = serde_json::from_value::<KvRequest>(json!({"model": "llama-3.1-8b", "seq_lenn": 4}))
        .expect_err("no such field");
    assert!(
        e.to_string().contains("`seq_lenn` is not a field of `kv`"),
        "{e}"
    );
    assert!(e.to_string().contains("did you mean `seq_len`?"), "{e}");
    let e = serde_json::from_value::<InferRequest>(json!({"model": "m", "engine": "ollama"}))
        .expect_err("no such engine");
    assert!(e.to_string().contains("ollama"), "{e}");
}

/// A response written, read and written again is the same bytes.
fn response_round_trips<T: Estimate>(request: Value) -> T::Response {
    let request: T = serde_json::from_value(request).expect("a request");
    let response = request.estimate().expect("an estimate");
    let written = serde_json::to_string_pretty(&response).expect("written");
    let read: T::Response = serde_json::from_str(&written)
        .unwrap_or_else(|e| panic!("{} response reads back: {e}", T::COMMAND));
    assert_eq!(
        serde_json::to_string_pretty(&read).expect("written"),
        written,
        "{}",
        T::COMMAND
    );
    read
}

#[test]
fn responses_round_trip() {
    let m = "llama-3.1-8b";
    let p = response_round_trips::<ParamsRequest>(json!({"model": m}));
    // shared/fixtures/models/llama-3.1-8b/expected.json
    assert_eq!(p.params_total, 8_030_261_248);
    response_round_trips::<ParamsRequest>(json!({"model": "qwen3-30b-a3b"}));
    response_round_trips::<KvRequest>(json!({"model": "gemma-3-27b", "seq_len": "32k"}));
    let i = response_round_trips::<InferRequest>(json!({"model": m, "engine": "llama.cpp"}));
    assert_eq!(i.estimate.engine, Engine::LlamaCpp);
    response_round_trips::<InferRequest>(json!({
        "model": m, "rate": 4, "requests": 60, "prompt_dist": "uniform:100..400"
    }));
    response_round_trips::<InferRequest>(json!({"model": "llama-3.1-70b", "gpu": "L4"}));
    response_round_trips::<TrainRequest>(
        json!({"model": m, "gpus": 8, "zero": 3, "max_seq_len": true}),
    );
    response_round_trips::<TrainRequest>(json!({"model": m, "method": "qlora", "gpu": "RTX-4090"}));
    for workload in ["chat", "batch", "rag", "train", "finetune"] {
        response_round_trips::<CardRequest>(json!({"model": m, "workload": workload}));
    }
    response_round_trips::<PlanTrainRequest>(
        json!({"model": m, "gpus": 8, "global_batch": 64, "top": 2}),
    );
    response_round_trips::<SweepRequest>(
        json!({"model": m, "vary": ["batch=1..4*2", "gpu=H100-SXM,L4"]}),
    );
    response_round_trips::<SweepRequest>(
        json!({"model": m, "mode": "train", "vary": "tp=1,3", "gpus": 8}),
    );
    response_round_trips::<ModelsRequest>(json!({"filter": "llama"}));
    response_round_trips::<GpusRequest>(json!({}));
    response_round_trips::<RoughRequest>(json!({}));
}

/// Flags become a typed request in one place: the fields of a request are the
/// command's flags, and a JSON value reads as the flag's text.
#[test]
fn fields_become_the_flags() {
    let r = TrainRequest::from_fields(
        [
            ("model", json!("llama-3.1-8b")),
            ("seq_len", json!("8k")),
            ("gpus", json!(8)),
            ("sequence_parallel", json!(true)),
            ("dropout", json!(false)),
            ("flash_attention", json!(false)),
            ("lora_targets", json!(["q", "v"])),
        ]
        .map(|(k, v)| (k.to_string(), v)),
    )
    .expect("a request");
    assert_eq!(r.model.model, "llama-3.1-8b");
    assert_eq!(r.train.seq_len, 8192);
    assert_eq!(r.device.gpus, Some(8));
    assert!(r.train.sequence_parallel && !r.train.dropout && !r.train.flash_attention);
    assert_eq!(r.train.lora_targets, [Projection::Q, Projection::V]);
}

/// A config whose counts pass 2⁶⁴ is an error through the library, whatever
/// the build profile (tests panic on an unchecked overflow; a release build
/// without overflow checks would wrap).
#[test]
fn a_count_past_u64_is_an_error() {
    let config = json!({
        "model_type": "llama", "hidden_size": 1u64 << 40, "intermediate_size": 1u64 << 42,
        "num_hidden_layers": 2, "num_attention_heads": 1u64 << 20, "num_key_value_heads": 1u64 << 20,
        "vocab_size": 1u64 << 40, "max_position_embeddings": 2048, "tie_word_embeddings": false
    });
    for command in ["params", "kv", "infer", "train"] {
        let fields = json!({"config": config});
        let result = std::panic::catch_unwind(|| match command {
            "params" => params(&serde_json::from_value(fields).expect("a request")).map(|_| ()),
            "kv" => kv(&serde_json::from_value(fields).expect("a request")).map(|_| ()),
            "infer" => infer(&serde_json::from_value(fields).expect("a request")).map(|_| ()),
            _ => train(&serde_json::from_value(fields).expect("a request")).map(|_| ()),
        })
        .unwrap_or_else(|_| panic!("{command} panicked"));
        let err = result.expect_err(command);
        // the config's reader or the estimate finds it
        let overflow =
            |e: &sizeup_core::CoreError| matches!(e, sizeup_core::CoreError::Overflow { .. });
        assert!(
            match &err {
                Error::Core(e) | Error::Formats(sizeup_formats::FormatError::Core(e)) =>
                    overflow(e),
                _ => false,
            },
            "{command}: {err:?}"
        );
    }
}
