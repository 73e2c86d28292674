#!/usr/bin/env python3
"""One-shot GPU measurement for sizeup: a Llama-3.1-8B-shaped model with random bf16 weights.

Measures (each section guarded; results JSON rewritten after every section):
  env            torch/transformers versions, GPU name/memory, date, clocks
  roofline       bf16 8192^3 matmul TFLOP/s, device-to-device copy bandwidth
  model          exact parameter count, memory_allocated after weights
  kv_cache       StaticCache allocation deltas (b1 x 32768, b8 x 8192)
  prefill        forward over random prompts (b1 x 2048, b8 x 2048; extras b1 x 8192 / 32768)
  decode         per-token decode with a StaticCache at ~2048 context, b1 and b64,
                 (a) eager HF forward per step, (b) manual torch.cuda.CUDAGraph capture of one step;
                 extras: batch sweep (graph) and b1 at 32k context
  decode_compiled  torch.compile(mode="reduce-overhead") of model.forward (watchdog-limited)

Usage on the device:
  PYTHONUNBUFFERED=1 python3 bench/gpu/measure_llama.py 2>&1 | tee $OUT/log.txt
Writes $OUT/h200_measurements.json ($OUT defaults to bench/gpu/out).
`--tiny` runs a tiny config (works on CPU) as a smoke test of the code paths.
"""
import argparse
import os
import statistics
import sys
import threading
import time
import traceback

T0 = time.time()

ap = argparse.ArgumentParser()
ap.add_argument("--tiny", action="store_true", help="tiny config smoke test (CPU ok)")
ap.add_argument("--deadline-s", type=float, default=380.0,
                help="global wall-clock deadline; after it the script saves and exits 0")
ap.add_argument("--compile-watchdog-s", type=float, default=150.0)
ap.add_argument("--skip-compile", action="store_true")
ap.add_argument("--skip-extras", action="store_true")
args = ap.parse_args()

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness, device_helpers, environment, now_utc, nvsmi  # noqa: E402

H = Harness("bench/gpu/measure_llama.py", "sizeup-gpu-measure-v1", "h200_measurements.json", args.deadline_s)
R, log, save, remaining, RESULT_PATH = H.r, H.log, H.save, H.remaining, H.path

save()
log("importing torch / transformers")
import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import LlamaConfig, LlamaForCausalLM, StaticCache  # noqa: E402

CUDA = torch.cuda.is_available()
DEV = torch.device("cuda" if CUDA else "cpu")
BF16 = torch.bfloat16
log(f"imports done; cuda={CUDA}")


sync, mem = device_helpers(torch)


def run_section(name, fn):
    H.run_section(name, fn, *((torch.cuda.reset_peak_memory_stats, torch.cuda.max_memory_allocated) if CUDA else ()))


def bench(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return times


def stats(times):
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "mean_s": statistics.fmean(times),
        "times_s": [round(x, 6) for x in times],
    }


# ---------------------------------------------------------------- env
def sec_env():
    return environment(torch, transformers)


# ---------------------------------------------------------------- roofline
def sec_roofline():
    d = {}
    n = 1024 if args.tiny else 8192
    a = torch.randn(n, n, device=DEV, dtype=BF16)
    b = torch.randn(n, n, device=DEV, dtype=BF16)
    times = bench(lambda: torch.matmul(a, b), 3, 10)
    st = stats(times)
    flop = 2.0 * n ** 3
    d["matmul_bf16"] = {"n": n, "flop": flop, **st,
                        "tflops_median": flop / st["median_s"] / 1e12,
                        "tflops_best": flop / st["min_s"] / 1e12}
    del a, b
    # device-to-device copy, 2 GiB source (1 GiB tiny)
    nbytes = (64 << 20) if args.tiny else (2 << 30)
    src = torch.empty(nbytes // 2, device=DEV, dtype=BF16).fill_(1.0)
    dst = torch.empty_like(src)
    times = bench(lambda: dst.copy_(src), 3, 10)
    st = stats(times)
    moved = 2 * nbytes
    d["d2d_copy"] = {"buffer_bytes": nbytes, "bytes_read_plus_written": moved, **st,
                     "GBps_median": moved / st["median_s"] / 1e9,
                     "GBps_best": moved / st["min_s"] / 1e9}
    del src, dst
    if CUDA:
        torch.cuda.empty_cache()
        d["nvidia_smi_clocks_after"] = nvsmi("clocks.sm,clocks.mem,temperature.gpu,power.draw")
    return d


# ---------------------------------------------------------------- model
if args.tiny:
    CFG_KW = dict(vocab_size=1000, hidden_size=256, intermediate_size=512, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=131072)
else:
    CFG_KW = dict(vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                  num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=131072)
ROPE = {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
        "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}

M = {}  # model state shared across sections


def make_config():
    kw = dict(CFG_KW, rms_norm_eps=1e-5, tie_word_embeddings=False, bos_token_id=128000 % CFG_KW["vocab_size"],
              eos_token_id=128001 % CFG_KW["vocab_size"], hidden_act="silu", attention_bias=False, mlp_bias=False)
    try:
        cfg = LlamaConfig(**kw, rope_parameters=dict(ROPE))
        rope_note = "rope_parameters llama3 (theta 500000, factor 8)"
    except Exception as e:  # noqa: BLE001
        cfg = LlamaConfig(**kw, rope_theta=500000.0)
        rope_note = f"rope_parameters rejected ({e!r}); used rope_theta=500000"
    cfg._attn_implementation = "sdpa"
    return cfg, rope_note


def sec_model():
    cfg, rope_note = make_config()
    sync()
    m0 = mem()
    t = time.time()
    prev = torch.get_default_dtype()
    torch.set_default_dtype(BF16)
    try:
        with torch.device(DEV):
            model = LlamaForCausalLM(cfg)
    finally:
        torch.set_default_dtype(prev)
    model = model.to(BF16).eval()
    model.requires_grad_(False)
    sync()
    build_s = time.time() - t
    m1 = mem()
    M["cfg"], M["model"] = cfg, model
    n_params = sum(p.numel() for p in model.parameters())
    n_embed = model.model.embed_tokens.weight.numel()
    n_head = model.lm_head.weight.numel()
    n_layers = sum(p.numel() for p in model.model.layers.parameters())
    n_norm = model.model.norm.weight.numel()
    param_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    buf_bytes = sum(b.numel() * b.element_size() for b in model.buffers())
    dtypes = sorted({str(p.dtype) for p in model.parameters()})
    M["weight_bytes"] = param_bytes
    M["n_params"] = n_params
    M["n_layer_params"] = n_layers
    return {
        "config": {k: getattr(cfg, k, None) for k in
                   ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                    "num_key_value_heads", "head_dim", "max_position_embeddings", "tie_word_embeddings",
                    "rope_parameters", "rms_norm_eps"]},
        "rope_note": rope_note,
        "attn_implementation": model.config._attn_implementation,
        "param_dtypes": dtypes,
        "n_params": n_params,
        "n_params_embed": n_embed,
        "n_params_lm_head": n_head,
        "n_params_layers": n_layers,
        "n_params_per_layer": n_layers // cfg.num_hidden_layers,
        "n_params_final_norm": n_norm,
        "param_bytes": param_bytes,
        "buffer_bytes": buf_bytes,
        "memory_allocated_before_bytes": m0,
        "memory_allocated_after_weights_bytes": m1,
        "memory_allocated_delta_bytes": m1 - m0,
        "build_s": build_s,
    }


# ---------------------------------------------------------------- kv cache
def new_cache(batch, max_len):
    cfg = M["cfg"]
    c = StaticCache(config=cfg, max_cache_len=max_len)
    c.early_initialization(batch_size=batch, num_heads=cfg.num_key_value_heads, head_dim=cfg.head_dim,
                           dtype=BF16, device=DEV)
    return c


def cache_max_len(c):
    try:
        return c.get_max_length()
    except Exception:  # noqa: BLE001
        return c.layers[0].max_cache_len


def kv_bytes_expected(batch, max_len):
    cfg = M["cfg"]
    return 2 * cfg.num_hidden_layers * batch * max_len * cfg.num_key_value_heads * cfg.head_dim * 2


def sec_kv():
    d = {}
    cfg = M["cfg"]
    d["kv_bytes_per_token_bf16"] = 2 * cfg.num_hidden_layers * cfg.num_key_value_heads * cfg.head_dim * 2
    for batch, L in ([(1, 32768), (8, 8192)]):
        sync()
        m0 = mem()
        t = time.time()
        c = new_cache(batch, L)
        sync()
        m1 = mem()
        k0 = c.layers[0].keys
        d[f"b{batch}_len{L}"] = {
            "batch": batch,
            "max_cache_len": cache_max_len(c),
            "memory_allocated_delta_bytes": m1 - m0,
            "expected_bytes": kv_bytes_expected(batch, L),
            "layer0_keys_shape": list(k0.shape),
            "layer0_keys_dtype": str(k0.dtype),
            "alloc_s": time.time() - t,
        }
        del c, k0
        if CUDA:
            torch.cuda.empty_cache()
    return d


# ---------------------------------------------------------------- prefill
def prefill_flops(batch, seq):
    """Forward FLOPs: 2*tokens*layer_params + lm_head for the last token + causal attention matmuls."""
    cfg = M["cfg"]
    lin = 2.0 * batch * seq * M["n_layer_params"]
    head = 2.0 * batch * cfg.hidden_size * cfg.vocab_size  # logits_to_keep=1
    attn = 2.0 * batch * seq * seq * cfg.num_attention_heads * cfg.head_dim * cfg.num_hidden_layers  # QK^T+PV, causal half
    return lin + head + attn, attn


def prefill_one(batch, seq, warm, reps):
    model, V = M["model"], M["cfg"].vocab_size
    ids = torch.randint(0, V, (batch, seq), device=DEV)

    def f():
        with torch.no_grad():
            model(input_ids=ids, use_cache=False, logits_to_keep=1)

    st = stats(bench(f, warm, reps))
    flops, attn = prefill_flops(batch, seq)
    return {"batch": batch, "seq": seq, "warmup": warm, "reps": reps, **st,
            "tokens_per_s": batch * seq / st["median_s"],
            "est_flops": flops, "est_attn_flops": attn,
            "achieved_tflops_median": flops / st["median_s"] / 1e12,
            "notes": "use_cache=False, logits_to_keep=1, sdpa (causal, no mask)"}


def sec_prefill():
    d = {}
    s = 128 if args.tiny else 2048
    for batch in (1, 8):
        key = f"b{batch}_s{s}"
        try:
            d[key] = prefill_one(batch, s, 2, 5)
            log(f"prefill {key}: {d[key]['median_s']*1e3:.2f} ms, {d[key]['tokens_per_s']:.0f} tok/s")
        except Exception as e:  # noqa: BLE001
            d[key] = {"error": repr(e), "traceback": traceback.format_exc()[-2000:]}
        R["sections"]["prefill"] = d
        save()
    return d


def sec_prefill_long():
    d = {}
    for seq in ((256, 512) if args.tiny else (8192, 32768)):
        key = f"b1_s{seq}"
        if remaining() < 200:
            d[key] = {"skipped": "time"}
            continue
        try:
            d[key] = prefill_one(1, seq, 1, 3)
            log(f"prefill {key}: {d[key]['median_s']*1e3:.2f} ms, {d[key]['tokens_per_s']:.0f} tok/s")
        except Exception as e:  # noqa: BLE001
            d[key] = {"error": repr(e), "traceback": traceback.format_exc()[-2000:]}
        if CUDA:
            torch.cuda.empty_cache()
        R["sections"]["prefill_long"] = d
        save()
    return d


# ---------------------------------------------------------------- decode
def set_len(cache, n):
    for layer in cache.layers:
        layer.cumulative_length.fill_(n)


def decode_case(batch, ctx, extra, do_prefill, eager, graph, steps=32, warm=3):
    """Static-cache decode. Attention each step covers the full static buffer (ctx+extra) with a mask,
    as HF does for StaticCache (sdpa with bool mask -> repeat_kv of K/V to all heads)."""
    model, cfg = M["model"], M["cfg"]
    d = {"batch": batch, "context": ctx, "steps": steps, "warmup": warm}
    sync()
    m0 = mem()
    cache = new_cache(batch, ctx + extra)
    sync()
    d["max_cache_len"] = cache_max_len(cache)
    d["kv_cache_bytes"] = mem() - m0
    d["kv_cache_bytes_expected"] = kv_bytes_expected(batch, ctx + extra)
    d["weight_bytes"] = M["weight_bytes"]
    if do_prefill:
        ids = torch.randint(0, cfg.vocab_size, (batch, ctx), device=DEV)
        sync()
        t = time.perf_counter()
        with torch.no_grad():
            out = model(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
        sync()
        d["prefill_s"] = time.perf_counter() - t
        tok = out.logits[:, -1].argmax(-1, keepdim=True).contiguous()
        del out, ids
        d["seq_len_after_prefill"] = int(cache.get_seq_length())
    else:
        tok = torch.randint(0, cfg.vocab_size, (batch, 1), device=DEV)
        set_len(cache, ctx)
        d["prefill"] = "skipped: cumulative_length set to context (timing is data-independent)"

    def step():
        with torch.no_grad():
            o = model(input_ids=tok, past_key_values=cache, use_cache=True)
            tok.copy_(o.logits[:, -1].argmax(-1, keepdim=True))

    bytes_per_step = M["weight_bytes"] + d["kv_cache_bytes_expected"]  # static buffer is read whole each step
    d["est_bytes_per_step_weights_plus_full_kv"] = bytes_per_step

    def summarize(total):
        per = total / steps
        return {"total_s": total, "per_step_s": per, "tokens_per_s": batch * steps / total,
                "steps_per_s": 1.0 / per, "implied_GBps": bytes_per_step / per / 1e9}

    if eager:
        reps = []
        for _ in range(2):
            set_len(cache, ctx)
            for _ in range(warm):
                step()
            set_len(cache, ctx)
            sync()
            t = time.perf_counter()
            for _ in range(steps):
                step()
            sync()
            reps.append(time.perf_counter() - t)
        d["eager"] = summarize(min(reps))
        d["eager"]["rep_totals_s"] = reps
        if do_prefill:
            d["seq_len_after_eager"] = int(cache.get_seq_length())
    if graph and CUDA and not GRAPH_STATE["failed"]:
        try:
            _graph_part(d, cache, tok, step, ctx, steps, warm, summarize)
        except Exception as ex:  # noqa: BLE001
            GRAPH_STATE["failed"] = repr(ex)
            d["cuda_graph"] = {"error": repr(ex), "traceback": traceback.format_exc()[-3000:]}
            log(f"CUDA graph capture/replay FAILED: {ex!r}; later cases fall back to eager")
            sync()
    elif graph and GRAPH_STATE["failed"]:
        d["cuda_graph"] = {"skipped": "earlier graph failure: " + GRAPH_STATE["failed"]}
    del cache, tok
    if CUDA:
        torch.cuda.empty_cache()
    return d


GRAPH_STATE = {"failed": None}


def _graph_part(d, cache, tok, step, ctx, steps, warm, summarize):
    """Manual torch.cuda.CUDAGraph capture of one decode step (warm-up on a side stream first)."""
    set_len(cache, ctx)
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            step()
    torch.cuda.current_stream().wait_stream(s)
    sync()
    set_len(cache, ctx)
    sync()
    g = torch.cuda.CUDAGraph()
    t = time.perf_counter()
    with torch.cuda.graph(g):
        step()
    sync()
    capture_s = time.perf_counter() - t
    reps = []
    for _ in range(2):
        set_len(cache, ctx)
        for _ in range(warm):
            g.replay()
        set_len(cache, ctx)
        sync()
        t = time.perf_counter()
        for _ in range(steps):
            g.replay()
        sync()
        reps.append(time.perf_counter() - t)
    d["cuda_graph"] = summarize(min(reps))
    d["cuda_graph"]["rep_totals_s"] = reps
    d["cuda_graph"]["capture_s"] = capture_s
    d["seq_len_after_graph"] = int(cache.get_seq_length())
    del g


def sec_decode():
    d = {}
    ctx = 128 if args.tiny else 2048
    for batch in (1, 64):
        key = f"b{batch}_ctx{ctx}"
        try:
            d[key] = decode_case(batch, ctx, 128, do_prefill=True, eager=True, graph=True)
            e, g = d[key].get("eager", {}), d[key].get("cuda_graph", {})
            log(f"decode {key}: eager {e.get('per_step_s', 0)*1e3:.2f} ms/step {e.get('tokens_per_s', 0):.0f} tok/s; "
                f"graph {g.get('per_step_s', 0)*1e3:.2f} ms/step {g.get('tokens_per_s', 0):.0f} tok/s")
        except Exception as ex:  # noqa: BLE001
            d[key] = {"error": repr(ex), "traceback": traceback.format_exc()[-3000:]}
            log(f"decode {key} FAILED {ex!r}")
            if CUDA:
                torch.cuda.empty_cache()
        R["sections"]["decode"] = d
        save()
    return d


def sec_decode_extras():
    d = {}
    ctx = 128 if args.tiny else 2048
    cases = [(b, ctx) for b in (4, 16, 32, 128)] + [(1, 256 if args.tiny else 32768), (8, 8192 if not args.tiny else 256)]
    for batch, c in cases:
        key = f"b{batch}_ctx{c}"
        if remaining() < 170:
            d[key] = {"skipped": "time"}
            continue
        try:
            d[key] = decode_case(batch, c, 64, do_prefill=False,
                                 eager=(batch == 1 or bool(GRAPH_STATE["failed"]) or not CUDA), graph=True)
            g = d[key].get("cuda_graph", d[key].get("eager", {}))
            log(f"decode extra {key}: {g.get('per_step_s', 0)*1e3:.2f} ms/step {g.get('tokens_per_s', 0):.0f} tok/s")
        except Exception as ex:  # noqa: BLE001
            d[key] = {"error": repr(ex), "traceback": traceback.format_exc()[-3000:]}
            log(f"decode extra {key} FAILED {ex!r}")
            if CUDA:
                torch.cuda.empty_cache()
        R["sections"]["decode_extras"] = d
        save()
    return d


# ---------------------------------------------------------------- torch.compile
def sec_compiled():
    mode = "reduce-overhead" if CUDA else "default"
    d = {"mode": mode, "fullgraph": False, "target": "model.forward"}
    if not CUDA and not args.tiny:
        d["skipped"] = "no cuda"
        return d
    budget = min(args.compile_watchdog_s, remaining() - 15)
    if budget < 60:
        d["skipped"] = f"not enough time left ({remaining():.0f}s)"
        return d
    d["watchdog_s"] = budget

    def fire():
        d["watchdog"] = f"compile section exceeded {budget:.0f}s; aborted (partial results above)"
        R["sections"]["decode_compiled"] = d
        R["notes"].append(d["watchdog"])
        log(d["watchdog"])
        save()
        os._exit(0)

    wd = threading.Timer(budget, fire)
    wd.daemon = True
    wd.start()
    try:
        model, cfg = M["model"], M["cfg"]
        cfwd = torch.compile(model.forward, mode=mode, fullgraph=False)
        ctx, extra, steps = (128 if args.tiny else 2048), 128, 32
        for batch in (1, 64):
            key = f"b{batch}_ctx{ctx}"
            if batch > 1 and (d.get("b1_ctx%d" % ctx, {}).get("first_call_s", 1e9) > 90):
                d[key] = {"skipped": "b1 compile took >90s"}
                continue
            r = {"batch": batch, "context": ctx, "steps": steps}
            d[key] = r
            cache = new_cache(batch, ctx + extra)
            ids = torch.randint(0, cfg.vocab_size, (batch, ctx), device=DEV)
            with torch.no_grad():
                out = model(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
            tok = out.logits[:, -1].argmax(-1, keepdim=True).contiguous()
            del out, ids
            r["max_cache_len"] = cache_max_len(cache)

            def cstep():
                torch.compiler.cudagraph_mark_step_begin()
                with torch.no_grad():
                    o = cfwd(input_ids=tok, past_key_values=cache, use_cache=True)
                    tok.copy_(o.logits[:, -1].argmax(-1, keepdim=True))

            sync()
            t = time.perf_counter()
            cstep()
            sync()
            r["first_call_s"] = time.perf_counter() - t
            log(f"compiled {key}: first call (compile) {r['first_call_s']:.1f}s")
            R["sections"]["decode_compiled"] = d
            save()
            t = time.perf_counter()
            for _ in range(4):
                cstep()
            sync()
            r["warm_calls_s"] = time.perf_counter() - t
            reps = []
            for _ in range(2):
                set_len(cache, ctx)
                sync()
                t = time.perf_counter()
                for _ in range(steps):
                    cstep()
                sync()
                reps.append(time.perf_counter() - t)
            total = min(reps)
            per = total / steps
            r.update({"total_s": total, "rep_totals_s": reps, "per_step_s": per,
                      "tokens_per_s": batch * steps / total,
                      "implied_GBps": (M["weight_bytes"] + kv_bytes_expected(batch, ctx + extra)) / per / 1e9})
            log(f"compiled {key}: {per*1e3:.2f} ms/step {batch*steps/total:.0f} tok/s")
            R["sections"]["decode_compiled"] = d
            save()
            del cache, tok
            if CUDA:
                torch.cuda.empty_cache()
            if remaining() < 60:
                break
    finally:
        wd.cancel()
    return d


# ---------------------------------------------------------------- main
run_section("env", sec_env)
if CUDA or args.tiny:
    run_section("roofline", sec_roofline)
    run_section("model", sec_model)
    if "model" in M:
        run_section("kv_cache", sec_kv)
        run_section("prefill", sec_prefill)
        run_section("decode", sec_decode)
        if not args.skip_extras:
            run_section("prefill_long", sec_prefill_long)
            run_section("decode_extras", sec_decode_extras)
        if not args.skip_compile:
            run_section("decode_compiled", sec_compiled)
    if CUDA:
        R["nvidia_smi_clocks_end"] = nvsmi("clocks.sm,clocks.mem,temperature.gpu,power.draw")
else:
    R["notes"].append("no CUDA device; only env recorded (use --tiny for a CPU smoke test)")
R["finished_utc"] = now_utc()
save()
log(f"done; results in {RESULT_PATH}; errors: {list(R['errors'])}")
H.cancel()
