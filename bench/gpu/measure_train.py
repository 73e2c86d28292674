#!/usr/bin/env python3
"""One-shot GPU measurement of training steps for sizeup: Llama-3.2-1B / 3B shapes, random weights.

Recipe (plain PyTorch mixed precision, the common one):
  fp32 parameters, torch.autocast("cuda", dtype=bfloat16), torch.optim.AdamW(fused=True),
  HF LlamaForCausalLM with sdpa attention, labels = input_ids (HF loss: fp32 logits upcast),
  seq_len 2048, micro-batch 4 and 8, one GPU, no gradient accumulation.
Modes:
  A  no activation recomputation
  B  model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
     (HF checkpoints each decoder layer: full recomputation of every layer)

Per (shape, mode, micro-batch):
  3 warm-up steps, then torch.cuda.reset_peak_memory_stats(), then ~10 timed steps; a step is
  forward + backward + optimizer.step() + optimizer.zero_grad(set_to_none=True), synchronized.
  peak = torch.cuda.max_memory_allocated() over the timed steps.
Per shape: memory_allocated after model init (weights), after the first optimizer step and
  zero_grad (weights + AdamW exp_avg/exp_avg_sq).

FLOPs (model FLOPs, recomputation not counted):
  flops_per_step = 6 * N * tokens + 12 * L * h * s * tokens
  N = unique parameters (tied embedding counted once; it stands for the LM-head matmul),
  L layers, h hidden, s seq_len, tokens = micro_batch * seq_len.  The attention term is the
  QK^T and PV matmuls (2 * 2 * s * h per token per layer forward, x3 for fwd+bwd), causal
  masking not discounted.  tflops = flops_per_step / median_step_s / 1e12.

Usage on the device:
  PYTHONUNBUFFERED=1 python3 bench/gpu/measure_train.py 2>&1 | tee $OUT/log.txt
Writes $OUT/h200_train.json ($OUT defaults to bench/gpu/out).
"""
import argparse
import gc
import json
import os
import statistics
import sys
import time
import traceback

T0 = time.time()

ap = argparse.ArgumentParser()
ap.add_argument("--tiny", action="store_true", help="tiny config smoke test (CPU ok)")
ap.add_argument("--deadline-s", type=float, default=290.0,
                help="global wall-clock deadline; after it the script saves and exits 0")
ap.add_argument("--steps", type=int, default=10)
ap.add_argument("--warmup", type=int, default=3)
ap.add_argument("--shapes", default="1B,3B")
args = ap.parse_args()

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness, device_helpers, environment, nvsmi  # noqa: E402

H = Harness("bench/gpu/measure_train.py", "sizeup-gpu-train-v1", "h200_train.json", args.deadline_s,
            flops_formula="6*N*tokens + 12*L*h*s*tokens per step (model FLOPs; N unique params, "
                          "tied embedding once; recomputation not counted)")
R, log, save, remaining, run_section = H.r, H.log, H.save, H.remaining, H.run_section

save()
log("importing torch / transformers")
import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import LlamaConfig, LlamaForCausalLM  # noqa: E402

CUDA = torch.cuda.is_available()
DEV = torch.device("cuda" if CUDA else "cpu")
log(f"imports done; cuda={CUDA}")


sync, mem = device_helpers(torch)


def gib(x):
    return round(x / 2 ** 30, 4)


def sec_env():
    return environment(torch, transformers)


if args.tiny:
    SHAPES = {
        "1B": dict(hidden_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                   intermediate_size=256, vocab_size=1000),
        "3B": dict(hidden_size=192, num_hidden_layers=2, num_attention_heads=6, num_key_value_heads=2,
                   intermediate_size=256, vocab_size=1000),
    }
    SEQ = 128
else:
    SHAPES = {
        "1B": dict(hidden_size=2048, num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8,
                   intermediate_size=8192, vocab_size=128256),
        "3B": dict(hidden_size=3072, num_hidden_layers=28, num_attention_heads=24, num_key_value_heads=8,
                   intermediate_size=8192, vocab_size=128256),
    }
    SEQ = 2048
ROPE = {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0, "low_freq_factor": 1.0,
        "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}


def make_config(kw):
    kw = dict(kw, rms_norm_eps=1e-5, tie_word_embeddings=True, hidden_act="silu", attention_bias=False,
              mlp_bias=False, max_position_embeddings=131072, use_cache=False,
              bos_token_id=1, eos_token_id=2, pad_token_id=None)
    try:
        cfg = LlamaConfig(**kw, rope_parameters=dict(ROPE))
    except Exception as e:  # noqa: BLE001
        R["notes"].append(f"rope_parameters rejected ({e!r}); used rope_theta=500000")
        cfg = LlamaConfig(**kw, rope_theta=500000.0)
    cfg._attn_implementation = "sdpa"
    return cfg


def flops_per_step(n_params, L, h, s, tokens):
    return 6.0 * n_params * tokens + 12.0 * L * h * s * tokens


def free_all():
    gc.collect()
    if CUDA:
        torch.cuda.empty_cache()


def shape_section(sname):
    kw = SHAPES[sname]
    d = {"config": dict(kw, seq_len=SEQ, tie_word_embeddings=True, attn_implementation="sdpa"), "runs": {}}
    free_all()
    base = mem()
    cfg = make_config(kw)
    torch.manual_seed(0)
    with torch.device(DEV):
        model = LlamaForCausalLM(cfg)
    model = model.to(device=DEV, dtype=torch.float32)  # fp32 parameters (mixed precision via autocast)
    model.train()
    sync()
    n_params = sum(p.numel() for p in model.parameters())  # unique (tied counted once)
    n_emb = model.get_input_embeddings().weight.numel()
    d["params"] = n_params
    d["params_embedding"] = n_emb
    d["param_dtype"] = str(next(model.parameters()).dtype)
    d["tied"] = model.get_input_embeddings().weight.data_ptr() == model.get_output_embeddings().weight.data_ptr()
    d["mem_after_init_bytes"] = mem() - base
    d["mem_after_init_GiB"] = gib(d["mem_after_init_bytes"])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, betas=(0.9, 0.95), weight_decay=0.1, fused=CUDA)
    L, h = kw["num_hidden_layers"], kw["hidden_size"]
    V = kw["vocab_size"]
    R["sections"][f"shape_{sname}"] = d  # partial results visible if a later run dies

    def step(x):
        with torch.autocast(device_type=DEV.type, dtype=torch.bfloat16):
            out = model(input_ids=x, labels=x, use_cache=False)
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return out

    first = True
    for mode in ("A", "B"):
        if mode == "B":
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            model.train()
        for mb in (4, 8):
            key = f"{mode}_mb{mb}"
            if remaining() < (25 if sname == "1B" else 45):
                d["runs"][key] = {"skipped": f"deadline (remaining {remaining():.0f}s)"}
                save()
                continue
            r = {"mode": mode, "gradient_checkpointing": mode == "B", "micro_batch": mb, "seq_len": SEQ}
            t = time.time()
            try:
                x = torch.randint(0, V, (mb, SEQ), device=DEV)
                tokens = mb * SEQ
                for i in range(args.warmup):
                    out = step(x)
                    del out
                    sync()
                    if first:
                        d["mem_after_first_step_bytes"] = mem() - base
                        d["mem_after_first_step_GiB"] = gib(d["mem_after_first_step_bytes"])
                        d["opt_state_bytes"] = sum(
                            v.numel() * v.element_size() for st in opt.state.values()
                            for v in st.values() if torch.is_tensor(v))
                        first = False
                r["warmup_wall_s"] = round(time.time() - t, 3)
                if CUDA:
                    torch.cuda.reset_peak_memory_stats()
                r["mem_before_measured_steps_bytes"] = mem() - base
                times = []
                for i in range(args.steps):
                    if remaining() < 10:
                        r["note"] = f"stopped after {i} steps (deadline)"
                        break
                    t1 = time.perf_counter()
                    out = step(x)
                    loss = out.loss.detach()
                    del out
                    sync()
                    times.append(time.perf_counter() - t1)
                r["loss_last"] = float(loss)
                if CUDA:
                    r["peak_allocated_bytes"] = torch.cuda.max_memory_allocated()
                    r["peak_allocated_GiB"] = gib(r["peak_allocated_bytes"])
                    r["peak_reserved_bytes"] = torch.cuda.max_memory_reserved()
                    r["peak_reserved_GiB"] = gib(r["peak_reserved_bytes"])
                    r["peak_allocated_minus_static_GiB"] = gib(r["peak_allocated_bytes"] - r["mem_before_measured_steps_bytes"])
                med = statistics.median(times)
                fl = flops_per_step(n_params, L, h, SEQ, tokens)
                r.update({
                    "steps": len(times),
                    "step_times_s": [round(v, 5) for v in times],
                    "median_step_s": med,
                    "min_step_s": min(times),
                    "tokens_per_step": tokens,
                    "tokens_per_s": tokens / med,
                    "flops_per_step": fl,
                    "flops_6N_part": 6.0 * n_params * tokens,
                    "flops_attention_part": 12.0 * L * h * SEQ * tokens,
                    "tflops_per_gpu": fl / med / 1e12,
                    "mfu_vs_989_dense_bf16": fl / med / 989.4e12,
                })
                if mode == "B":
                    hfl = fl * 4.0 / 3.0
                    r["hardware_tflops_with_recompute_approx"] = hfl / med / 1e12
                del x
            except torch.cuda.OutOfMemoryError as e:
                r["error"] = "OOM: " + repr(e)[:500]
            except Exception as e:  # noqa: BLE001
                r["error"] = repr(e)[:1000]
                r["traceback"] = traceback.format_exc()[-3000:]
            opt.zero_grad(set_to_none=True)
            out = x = None
            free_all()
            r["wall_s"] = round(time.time() - t, 3)
            d["runs"][key] = r
            log(f"{sname} {key}: {json.dumps({k: v for k, v in r.items() if k not in ('step_times_s', 'traceback')}, default=str)}")
            save()
    del opt, model
    free_all()
    return d


run_section("env", sec_env)
for sname in args.shapes.split(","):
    if remaining() < 40:
        R["notes"].append(f"shape {sname} skipped: deadline")
        save()
        continue
    run_section(f"shape_{sname}", lambda s=sname: shape_section(s))
if CUDA:
    R["nvidia_smi_clocks_end"] = nvsmi("clocks.sm,clocks.mem,temperature.gpu,power.draw")
R["notes"].append("done")
save()
log("done")
os._exit(0)
