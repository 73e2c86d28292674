//! Inference golden cases: decode and prefill speeds, weight and KV sizes others measured.
//!
//! Each case of kind `infer_decode`, `infer_prefill`, `weights_memory` or
//! `kv_cache` is rebuilt from what its source states (the architecture through
//! [`Shape`], the accelerator from the catalog, the precision as a
//! [`WeightFormat`], the engine from the framework) and predicted by the one
//! model of [`sizeup_core::inference`]. Beside it, a naive baseline:
//! decode = weight bytes ÷ (datasheet bandwidth · [`BASELINE_MEMORY_UTILIZATION`]),
//! prefill = 2·N·tokens ÷ (datasheet peak · [`BASELINE_COMPUTE_UTILIZATION`]).

use serde_json::Value;

use super::calibration::Calibration;
use super::reading::{accelerator, architecture, num, software, text, Metric, Needs, Scope, Unit};
use super::sources;
use super::{Case, CaseOutcome};
use sizeup_core::arch::Architecture;
use sizeup_core::dtype::{GgufFileType, KvDtype, WeightFormat, WeightOptions};
use sizeup_core::hardware::Accelerator;
use sizeup_core::inference::{self, peak_flops, Backend, Engine, InferRequest, Load};
use sizeup_core::kv::{self, KvRequest};
use sizeup_core::units::GIB;

/// The baseline's one memory-bandwidth utilization for decode (a common rule of thumb).
pub const BASELINE_MEMORY_UTILIZATION: f64 = 0.8;
/// The baseline's one compute utilization for prefill (a common rule of thumb).
pub const BASELINE_COMPUTE_UTILIZATION: f64 = 0.5;

/// The bar on the median absolute relative error of decode and of prefill
/// predictions (issue 4: at most 20%, and below the baseline's).
pub const MEDIAN_SPEED_ERROR_BAR: f64 = 0.20;
/// The bar on each weight-size prediction (exact counts; files add metadata).
pub const WEIGHTS_ERROR_BAR: f64 = 0.01;

/// Predict one case; `None` for kinds this module does not cover.
///
/// A covered case that cannot be predicted comes back with `predicted: None`
/// and a `note` saying which fact is missing.
pub fn predict(case: &Case) -> Option<CaseOutcome> {
    predict_with(case, &Calibration::default())
}

/// [`predict`] with the fitted constants of `cal` in place of the code's.
pub fn predict_with(case: &Case, cal: &Calibration) -> Option<CaseOutcome> {
    let (case, from_source) = sources::complete(case);
    predict_completed(case.as_ref(), cal).map(|o| o.with_notes(&from_source))
}

/// [`predict_with`] for a case [`sources::complete`] has completed.
fn predict_completed(case: &Case, cal: &Calibration) -> Option<CaseOutcome> {
    let outcome = |metric: &str, reported: f64| CaseOutcome {
        id: case.id.clone(),
        kind: case.kind.clone(),
        metric: metric.to_string(),
        reported,
        predicted: None,
        baseline: None,
        note: None,
        fits: None,
        range: None,
    };
    let unpredictable = |metric: &str, reported: f64, why: String| CaseOutcome {
        note: Some(why),
        ..outcome(metric, reported)
    };
    match case.kind.as_str() {
        "infer_decode" | "infer_prefill" => Some(
            speed(case, cal)
                .unwrap_or_else(|(metric, reported, why)| unpredictable(&metric, reported, why)),
        ),
        "weights_memory" => Some(
            weights(case)
                .unwrap_or_else(|(metric, reported, why)| unpredictable(&metric, reported, why)),
        ),
        "serving_memory_fit" => Some(
            kv_pool(case)
                .unwrap_or_else(|(metric, reported, why)| unpredictable(&metric, reported, why)),
        ),
        "kv_cache" => Some(
            kv_cache(case)
                .unwrap_or_else(|(metric, reported, why)| unpredictable(&metric, reported, why)),
        ),
        _ => None,
    }
}

/// Why a case cannot be predicted: (metric, reported value, reason).
type Unpredictable = (String, f64, String);

fn engine(case: &Case) -> Option<Engine> {
    let text = software(case);
    if text.contains("llama.cpp") || text.contains("llama-bench") {
        Some(Engine::LlamaCpp)
    } else if text.contains("tensorrt-llm") || text.contains("trt-llm") {
        Some(Engine::Trtllm)
    } else if text.contains("vllm") {
        Some(Engine::Vllm)
    } else if text.contains("transformers") {
        Some(Engine::Transformers)
    } else {
        None
    }
}

/// The weight format and KV precision for a precision string; the note says what was assumed.
fn precision(p: &str, engine: Engine) -> Option<(WeightFormat, KvDtype, Option<&'static str>)> {
    // "Q4_K_M (GGUF)": the parenthesis only names the container
    let p = p.split(" (").next().unwrap_or(p).trim();
    let up = p.to_ascii_uppercase();
    let gguf = engine == Engine::LlamaCpp;
    Some(match up.as_str() {
        "F16" | "FP16" if gguf => (WeightFormat::Gguf(GgufFileType::F16), KvDtype::Fp16, None),
        "F16" | "FP16" => (WeightFormat::Fp16, KvDtype::Fp16, None),
        "BF16" if gguf => (WeightFormat::Gguf(GgufFileType::BF16), KvDtype::Fp16, None),
        "BF16" => (WeightFormat::Bf16, KvDtype::Bf16, None),
        _ if up.contains("FP16") || up.contains("BF16") => (
            WeightFormat::Fp16,
            KvDtype::Fp16,
            Some("fp16 or bf16: the same size and speed"),
        ),
        "Q8_0" => (WeightFormat::Gguf(GgufFileType::Q8_0), KvDtype::Fp16, None),
        "Q4_0" => (WeightFormat::Gguf(GgufFileType::Q4_0), KvDtype::Fp16, None),
        "FP8" => (
            WeightFormat::Fp8E4m3,
            KvDtype::Fp8,
            Some("FP8 weights with an FP8 KV cache (the source's note)"),
        ),
        "4-BIT" if gguf => (
            WeightFormat::Gguf(GgufFileType::Q4_0),
            KvDtype::Fp16,
            Some("'4-bit' read as GGUF Q4_0, llama.cpp's default 4-bit type then"),
        ),
        _ if gguf => match p.parse::<WeightFormat>() {
            Ok(f @ WeightFormat::Gguf(_)) => (f, KvDtype::Fp16, None),
            _ => return None,
        },
        _ => return None,
    })
}

/// Bytes of the naive baseline: `params × nominal bits / 8`.
///
/// The nominal bits are the format's name (4 for a 4-bit format), without the
/// block scales, groups and 16-bit tensors the exact count adds: the naive
/// reading the baseline stands for. Every format is listed, so a new one must
/// state its own.
fn nominal_bytes(params: f64, format: WeightFormat) -> f64 {
    use GgufFileType as G;
    let bits = match format {
        WeightFormat::Fp32 => 32.0,
        WeightFormat::Bf16 | WeightFormat::Fp16 => 16.0,
        WeightFormat::Fp8E4m3
        | WeightFormat::Fp8Block { .. }
        | WeightFormat::Fp8Mlp
        | WeightFormat::Int8PerChannel
        | WeightFormat::BnbInt8 => 8.0,
        WeightFormat::Gptq { .. }
        | WeightFormat::Awq { .. }
        | WeightFormat::BnbNf4 { .. }
        | WeightFormat::Mxfp4 { .. }
        | WeightFormat::Nvfp4 { .. } => 4.0,
        WeightFormat::Gguf(f) => match f {
            G::F16 | G::BF16 => 16.0,
            G::Q8_0 => 8.0,
            G::Q6_K => 6.0,
            G::Q5_0 | G::Q5_1 | G::Q5_K_S | G::Q5_K_M => 5.0,
            G::Q4_0 | G::Q4_1 | G::Q4_K_S | G::Q4_K_M | G::IQ4_NL | G::IQ4_XS => 4.0,
            G::Q3_K_S | G::Q3_K_M | G::Q3_K_L => 3.0,
            G::Q2_K => 2.0,
        },
    };
    params * bits / 8.0
}

/// What a serving case states about how it served: the model, the accelerator,
/// the engine and the weight and KV formats (with a note where one was assumed).
struct Served {
    arch: Architecture,
    gpu: Accelerator,
    engine: Engine,
    weights: WeightFormat,
    kv_dtype: KvDtype,
    note: Option<&'static str>,
}

fn served(case: &Case) -> Result<Served, String> {
    let arch = architecture(case, Needs::Weights)?;
    let gpu_type = text(&case.setup, "gpu_type").ok_or("setup.gpu_type missing")?;
    let (gpu, _) = accelerator(gpu_type)?;
    let engine = engine(case).ok_or("the serving framework is not stated")?;
    let prec = text(&case.setup, "precision").unwrap_or("");
    let (weights, kv_dtype, note) =
        precision(prec, engine).ok_or_else(|| format!("precision `{prec}` not stated exactly"))?;
    Ok(Served {
        arch,
        gpu,
        engine,
        weights,
        kv_dtype,
        note,
    })
}

/// The engine, its backend on the case's accelerator, and whether the weights
/// are 8-bit floats: what decides which fitted constants a speed case reads.
pub(crate) fn engine_of(case: &Case) -> Option<(Engine, Backend, bool)> {
    let (case, _) = sources::complete(case);
    let case = case.as_ref();
    let (gpu, _) = accelerator(text(&case.setup, "gpu_type")?).ok()?;
    let engine = engine(case)?;
    let (weights, _, _) = precision(text(&case.setup, "precision").unwrap_or(""), engine)?;
    let backend = InferRequest::new(&gpu, engine).profile.backend;
    Some((engine, backend, weights == WeightFormat::Fp8E4m3))
}

/// The figures a decode case may report, most direct first: a latency per token,
/// a rate per request, then batch throughputs (per GPU, then total).
pub const DECODE_METRICS: &[&str] = &[
    "inter_token_latency_ms",
    "decode_tokens_per_sec",
    "output_tokens_per_sec_per_gpu",
    "output_tokens_per_sec",
    "throughput_tokens_per_sec",
];
/// The figures a prefill case may report: the time to first token, then the prefill rate.
pub const PREFILL_METRICS: &[&str] = &["first_token_latency_ms", "prefill_tokens_per_sec"];

/// The note of a speed predicted for a setup the memory model says does not fit.
pub const DOES_NOT_FIT: &str =
    "does not fit: the memory model says this setup exceeds the accelerator's memory; the speed is what it would be if it ran";

/// The metric of a case that reports none this module reads.
fn unread(why: String) -> Unpredictable {
    ("(none)".into(), f64::NAN, why)
}

fn speed(case: &Case, cal: &Calibration) -> Result<CaseOutcome, Unpredictable> {
    let prefill = case.kind == "infer_prefill";
    let m = Metric::of(
        case,
        if prefill {
            PREFILL_METRICS
        } else {
            DECODE_METRICS
        },
    )
    .map_err(unread)?;
    let fail = |why: &str| (m.key.clone(), m.value, why.to_string());
    let Served {
        arch,
        gpu,
        engine,
        weights,
        kv_dtype,
        note: prec_note,
    } = served(case).map_err(|e| fail(&e))?;
    let gpu = &gpu;
    let setup_num = |k: &str| num(&case.setup, k).map(|v| v as u64);
    let gpus = setup_num("gpus").unwrap_or(1);
    let pp = setup_num("pp").unwrap_or(1);
    let tp = setup_num("tp").unwrap_or(gpus / pp.max(1));
    let batch = setup_num("batch").unwrap_or(1);
    let mut notes: Vec<String> = prec_note.map(String::from).into_iter().collect();
    // TensorRT-LLM's benchmarks (gptSessionBenchmark) report generated tokens over
    // the whole run, context phase included; other throughputs are decode steps
    let with_prefill = engine == Engine::Trtllm;

    let mut req = InferRequest::new(gpu, engine);
    cal.apply(&mut req.profile);
    let framework = software(case);
    if engine == Engine::Transformers
        && (framework.contains("torch.compile") || framework.contains("cuda graph"))
    {
        // captured CUDA graphs remove the per-kernel launch cost: the per-layer
        // overhead of an engine that captures them (vLLM's profile)
        req.profile.layer_overhead_seconds =
            inference::profile(Engine::Vllm, req.profile.backend).layer_overhead_seconds;
        req.profile.overhead_on_host = false;
        notes.push(
            "torch.compile / CUDA graphs: per-layer overhead of a graph-capturing engine".into(),
        );
    }
    req.gpus = gpus;
    req.tp = tp;
    req.pp = pp;
    req.weights = weights;
    req.kv_dtype = kv_dtype;
    req.load = Load::Batch(batch);
    req.weight_options = WeightOptions::default();
    let params = num(&case.model, "params").unwrap_or(0.0);
    let peak = peak_flops(gpu, weights.compute_precision()) * tp as f64;
    let bandwidth = gpu.memory_bandwidth_bytes_per_sec * tp as f64;
    let naive_step = nominal_bytes(params, weights) / (bandwidth * BASELINE_MEMORY_UTILIZATION);
    let naive_prefill = |tokens: f64| 2.0 * params * tokens / (peak * BASELINE_COMPUTE_UTILIZATION);

    let fits: bool;
    let (metric, reported, predicted, baseline) = if prefill {
        let prompt = setup_num("prompt_tokens")
            .or_else(|| num(&case.model, "seq_len").map(|v| v as u64))
            .ok_or_else(|| fail("prompt length not stated"))?;
        req.prompt = prompt;
        req.output = 1;
        let reported = match m.unit {
            Unit::Milliseconds => m.value / 1e3,
            _ => (batch as f64 * prompt as f64) / m.value,
        };
        let e = inference::estimate(&arch, &req).map_err(|e| fail(&e.to_string()))?;
        fits = e.fits;
        let tokens = batch as f64 * prompt as f64;
        (
            "prefill_seconds",
            reported,
            e.prefill.seconds,
            naive_prefill(tokens),
        )
    } else if m.key == "inter_token_latency_ms" {
        let ms = m.value;
        // a benchmark client's inter-token latency with `batch` requests in flight
        // (continuous batching: their prefills interleave with the decode steps)
        req.prompt = setup_num("prompt_tokens").ok_or_else(|| fail("prompt length not stated"))?;
        req.output = setup_num("gen_tokens").ok_or_else(|| fail("output length not stated"))?;
        req.load = Load::Concurrency(batch);
        let e = inference::estimate(&arch, &req).map_err(|e| fail(&e.to_string()))?;
        fits = e.fits;
        (
            "inter_token_latency_ms",
            ms,
            e.schedule.time_per_output_token_seconds * 1e3,
            naive_step * 1e3,
        )
    } else if m.key == "decode_tokens_per_sec" {
        let tps = m.value;
        // llama-bench `tg`: generate from an empty context, batch 1
        let gen = setup_num("gen_tokens").unwrap_or_else(|| {
            notes.push("prompt and generation lengths not stated: llama-bench tg128 from an empty context assumed".into());
            128
        });
        req.prompt = setup_num("prompt_tokens").unwrap_or(0);
        req.output = gen;
        let e = inference::estimate(&arch, &req).map_err(|e| fail(&e.to_string()))?;
        fits = e.fits;
        (
            "decode_tokens_per_sec",
            tps,
            e.schedule.tokens_per_sec_per_request,
            batch as f64 / naive_step,
        )
    } else {
        // a batch's output tokens per second: per GPU or over every GPU, as the key says
        let (key, per_gpu) = (m.value, m.scope == Scope::PerGpu);
        if !per_gpu && gpus > 1 {
            notes.push(format!(
                "`{}`: the total over the {gpus} GPUs (the key names no per-GPU scope)",
                m.key
            ));
        }
        let (Some(prompt), Some(gen)) = (setup_num("prompt_tokens"), setup_num("gen_tokens"))
        else {
            return Err(fail(
                "prompt and output lengths are not stated, so the batch's prefill/decode mix is unknown",
            ));
        };
        req.prompt = prompt;
        req.output = gen;
        let e = inference::estimate(&arch, &req).map_err(|e| fail(&e.to_string()))?;
        fits = e.fits;
        let div = if per_gpu { gpus as f64 } else { 1.0 };
        let metric = m.key.as_str();
        if with_prefill {
            let naive = batch as f64 * gen as f64
                / (naive_prefill(batch as f64 * prompt as f64) + gen as f64 * naive_step);
            (
                metric,
                key,
                e.output_tokens_per_sec_total / div,
                naive / div,
            )
        } else {
            // decode steps only: the batch's tokens per step, every replica
            notes.push("decode steps only".into());
            let replicas = e.replicas as f64;
            (
                metric,
                key,
                e.decode.tokens_per_sec * replicas / div,
                batch as f64 / naive_step / div,
            )
        }
    };
    if !fits {
        notes.push(DOES_NOT_FIT.into());
    }
    if case.uncertain {
        notes.push("the source marks this case uncertain".into());
    }
    Ok(CaseOutcome {
        id: case.id.clone(),
        kind: case.kind.clone(),
        metric: metric.into(),
        reported,
        predicted: Some(predicted),
        baseline: Some(baseline),
        note: (!notes.is_empty()).then(|| notes.join("; ")),
        fits: Some(fits),
        range: None,
    })
}

/// The figures a weight-size case may report, in order: a measured file size
/// before a computed one.
pub const WEIGHTS_METRICS: &[&str] = &[
    "bf16_weights_GB_du",
    "Q4_0_GiB",
    "weights_MB",
    "weights_GiB",
    "BF16_bytes",
];

fn weights(case: &Case) -> Result<CaseOutcome, Unpredictable> {
    let m = Metric::of(case, WEIGHTS_METRICS).map_err(unread)?;
    let fail = |why: &str| (m.key.clone(), m.value, why.to_string());
    let arch = architecture(case, Needs::Weights).map_err(|e| fail(&e))?;
    let params = sizeup_core::params::count(&arch)
        .map_err(|e| fail(&e.to_string()))?
        .total as f64;
    let opts = WeightOptions::default();
    let size = |f: WeightFormat| {
        inference::weights_bytes(&arch, f, &opts)
            .map(|b| b as f64)
            .map_err(|e| fail(&e.to_string()))
    };
    let outcome =
        |metric: &str, reported: f64, predicted: f64, baseline: f64, note: String| CaseOutcome {
            id: case.id.clone(),
            kind: case.kind.clone(),
            metric: metric.into(),
            reported,
            predicted: Some(predicted),
            baseline: Some(baseline),
            note: Some(note),
            fits: None,
            range: None,
        };
    if m.key == "bf16_weights_GB_du" {
        let gib = m.value;
        let b = size(WeightFormat::Bf16)?;
        return Ok(outcome(
            "bf16_weights_GiB",
            gib,
            b / GIB,
            nominal_bytes(
                num(&case.model, "params").unwrap_or(params),
                WeightFormat::Bf16,
            ) / GIB,
            "`du` prints GiB (the source's note); checkpoint shards add a little".into(),
        ));
    }
    if m.key == "Q4_0_GiB" {
        let q4 = m.value;
        let mut others = Vec::new();
        for (key, f) in [
            ("F16_GiB", GgufFileType::F16),
            ("Q8_0_GiB", GgufFileType::Q8_0),
        ] {
            if let Some(r) = num(&case.reported, key) {
                let p = size(WeightFormat::Gguf(f))? / GIB;
                others.push(format!("{key}: predicted {p:.2} vs {r}"));
            }
        }
        let f = WeightFormat::Gguf(GgufFileType::Q4_0);
        return Ok(outcome(
            "Q4_0_GiB",
            q4,
            size(f)? / GIB,
            nominal_bytes(params, f) / GIB,
            format!(
                "Q4_0 with llama.cpp's Q6_K output tensor; {}",
                others.join("; ")
            ),
        ));
    }
    if m.key == "weights_MB" {
        let mb = m.value;
        let f = WeightFormat::Gguf(GgufFileType::Q4_0);
        return Ok(outcome(
            "weights_MB",
            mb,
            size(f)? / 1e6,
            nominal_bytes(params, f) / 1e6,
            "format not stated: GGUF Q4_0 assumed, MB = 10^6 bytes; the file adds ~1 MB of metadata".into(),
        ));
    }
    // `<format>_<unit>`, or `weights_<unit>` with the format as the setup's
    // precision ("Q4_K_M (GGUF)")
    let Unit::Bytes(unit) = m.unit else {
        return Err(fail("the reported unit is not a byte unit"));
    };
    let name = m.key.rsplit_once('_').map_or("", |(name, _)| name);
    let format = if name == "weights" {
        text(&case.setup, "precision")
            .and_then(|p| p.split(" (").next())
            .unwrap_or("")
    } else {
        name
    };
    if let Ok(f) = format.parse::<WeightFormat>() {
        return Ok(outcome(
            &m.key,
            m.value,
            size(f)? / unit,
            nominal_bytes(params, f) / unit,
            format!("{f} weights"),
        ));
    }
    Err(fail(&format!("no weight format `{format}`")))
}

/// The KV-cache pool an engine reports at its memory setting, in tokens: what
/// is left of `memory · utilization` once weights, runtime and the prefill
/// workspace are placed, over the KV bytes per token, in whole blocks.
fn kv_pool(case: &Case) -> Result<CaseOutcome, Unpredictable> {
    let m = Metric::of(case, &["kv_cache_tokens"]).map_err(unread)?;
    let (metric, reported) = (m.key, m.value);
    let fail = |why: &str| (metric.clone(), reported, why.to_string());
    let Served {
        arch,
        gpu,
        engine,
        weights,
        kv_dtype,
        ..
    } = served(case).map_err(|e| fail(&e))?;
    let gpu = &gpu;
    let get = |k: &str| num(&case.setup, k);
    let mut req = InferRequest::new(gpu, engine);
    req.weights = weights;
    req.kv_dtype = kv_dtype;
    req.tp = get("tp").unwrap_or(1.0) as u64;
    req.gpus = get("gpus").unwrap_or(1.0) as u64;
    let mut notes = Vec::new();
    if let Some(u) = get("gpu_memory_utilization") {
        req.profile.reserve = inference::Reserve::Total { fraction: 1.0 - u };
    }
    if let Some(b) = get("block_size") {
        req.profile.kv_block_tokens = Some(b as u64);
    }
    if let Some(t) = get("max_num_batched_tokens") {
        // the profiling pass runs one batch of this many tokens
        req.profile.prefill_chunk_tokens = Some(t as u64);
    }
    let context = get("context")
        .or_else(|| get("max_model_len"))
        .ok_or_else(|| fail("the context is not stated"))? as u64;
    req.prompt = context;
    req.output = 1;
    let e = inference::estimate(&arch, &req).map_err(|e| fail(&e.to_string()))?;
    let per_token = e.kv_bytes_per_token.max(1);
    let block = req.profile.kv_block_tokens.unwrap_or(1).max(1);
    let tokens = e.memory.kv_budget_bytes() / per_token / block * block;
    notes.push(format!(
        "pool = what is left of memory x utilization after weights, runtime and a {}-token prefill workspace, in {block}-token blocks",
        req.profile.prefill_chunk_tokens.unwrap_or(0)
    ));
    if let Some(fits) = case.reported.get("fits").and_then(Value::as_bool) {
        let predicted_fits = tokens >= context;
        notes.push(format!(
            "the source says the {context}-token context {} fit; predicted: {}",
            if fits { "does" } else { "does not" },
            if predicted_fits {
                "fits"
            } else {
                "does not fit"
            }
        ));
    }
    // the lesson's baseline: nominal memory x utilization minus 16-bit weights
    let util = get("gpu_memory_utilization").unwrap_or(0.9);
    let params = sizeup_core::params::count(&arch)
        .map_err(|e| fail(&e.to_string()))?
        .total as f64;
    let baseline = (gpu.memory_bytes as f64 * util - 2.0 * params) / per_token as f64;
    Ok(CaseOutcome {
        id: case.id.clone(),
        kind: case.kind.clone(),
        metric,
        reported,
        predicted: Some(tokens as f64),
        baseline: Some(baseline),
        note: Some(notes.join("; ")),
        fits: None,
        range: None,
    })
}

fn kv_cache(case: &Case) -> Result<CaseOutcome, Unpredictable> {
    let m = Metric::of(case, &["kv_cache_bytes"]).map_err(unread)?;
    let (metric, reported) = (m.key, m.value);
    let fail = |why: &str| (metric.clone(), reported, why.to_string());
    let arch = architecture(case, Needs::Attention).map_err(|e| fail(&e))?;
    let Unit::Bytes(unit) = m.unit else {
        return Err(fail("the reported unit is not a byte unit"));
    };
    let seq = num(&case.setup, "context_tokens")
        .or_else(|| num(&case.setup, "seq_len"))
        .or_else(|| num(&case.model, "seq_len"))
        .ok_or_else(|| fail("sequence length not stated"))? as u64;
    let batch = num(&case.setup, "batch").unwrap_or(1.0) as u64;
    let dtype = match text(&case.setup, "precision")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some(p) if p.contains("fp8") => KvDtype::Fp8,
        Some(p) if p.contains("int8") => KvDtype::Int8,
        _ => KvDtype::Fp16,
    };
    let c = kv::size(
        &arch,
        &KvRequest {
            seq_len: seq,
            batch,
            dtype,
            tp: 1,
            block_tokens: None,
        },
    )
    .map_err(|e| fail(&e.to_string()))?;
    // the lesson's formula 2·2·L·B·s·k·d, in floating point (a baseline, not a count)
    let lesson = [
        arch.num_layers(),
        batch,
        seq,
        arch.kv_heads(),
        arch.head_dim(),
        2,
        2,
    ]
    .iter()
    .map(|&n| n as f64)
    .product::<f64>();
    Ok(CaseOutcome {
        id: case.id.clone(),
        kind: case.kind.clone(),
        metric,
        reported,
        predicted: Some(c.bytes_total as f64 / unit),
        baseline: Some(lesson / unit),
        note: None,
        fits: None,
        range: None,
    })
}

#[cfg(test)]
mod tests;
