"""Shared plumbing of sizeup's one-shot GPU measurement scripts.

A device lease is short and a run is tried once, so every script follows the same
rules: each section is guarded (one failure never loses the others), the results
JSON is rewritten after every section, and a global deadline saves and exits before
the lease's limit. This module holds those rules once; the scripts hold only what
they measure.
"""

import datetime
import json
import os
import platform
import subprocess
import sys
import threading
import time
import traceback


def now_utc():
    """ISO timestamp in UTC."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def nvsmi(query):
    """One `nvidia-smi --query-gpu` answer, or why there is none."""
    try:
        out = subprocess.run(["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=15)
        return out.stdout.strip() or out.stderr.strip()
    except Exception as e:  # noqa: BLE001
        return f"unavailable: {e!r}"


class Harness:
    """The results record of one run, its log, its sections and its deadline."""

    def __init__(self, script, schema, result_name, deadline_s, **header):
        self.t0 = time.time()
        self.deadline_s = deadline_s
        out = os.environ.get("OUT") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")
        os.makedirs(out, exist_ok=True)
        self.path = os.path.join(out, result_name)
        self.r = {"schema": schema, "script": script, "argv": sys.argv[1:], "started_utc": now_utc(),
                  **header, "sections": {}, "errors": {}, "notes": []}
        self._lock = threading.Lock()
        self._timer = threading.Timer(deadline_s, self._deadline)
        self._timer.daemon = True
        self._timer.start()

    def log(self, msg):
        print(f"[{time.time() - self.t0:7.1f}s] {msg}", flush=True)

    def save(self):
        """Rewrite the results file atomically."""
        with self._lock:
            self.r["elapsed_s"] = round(time.time() - self.t0, 3)
            tmp = self.path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(self.r, f, indent=2, sort_keys=False, default=str)
            os.replace(tmp, self.path)

    def remaining(self):
        """Seconds left before the global deadline."""
        return self.deadline_s - (time.time() - self.t0)

    def _deadline(self):
        self.r["notes"].append(
            f"global deadline {self.deadline_s}s reached; script exited early (sections after this missing)")
        self.log("GLOBAL DEADLINE reached: saving and exiting")
        self.save()
        os._exit(0)

    def cancel(self):
        """Stop the deadline timer (the run finished in time)."""
        self._timer.cancel()

    def run_section(self, name, fn, reset_peak=None, peak=None):
        """Run one measurement; record its result or its error, then save.

        `reset_peak` and `peak` (e.g. torch.cuda.reset_peak_memory_stats and
        max_memory_allocated) record the section's peak memory when given.
        """
        self.log(f"=== section {name} ===")
        t = time.time()
        try:
            if reset_peak:
                reset_peak()
            res = fn() or {}
            res["section_wall_s"] = round(time.time() - t, 3)
            if peak:
                res["section_peak_memory_allocated_bytes"] = peak()
            self.r["sections"][name] = res
            self.log(f"section {name} ok ({time.time() - t:.1f}s): {json.dumps(res, default=str)[:1500]}")
        except Exception as e:  # noqa: BLE001
            tb = traceback.format_exc()
            self.r["errors"][name] = {"error": repr(e)[:2000], "traceback": tb[-4000:],
                                      "after_s": round(time.time() - t, 3)}
            self.log(f"section {name} FAILED: {e!r}"[:3000] + f"\n{tb[-3000:]}")
        self.save()


def environment(torch, transformers):
    """Versions, the GPU and its clocks: the `env` section of every run."""
    cuda = torch.cuda.is_available()
    d = {
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "transformers": transformers.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "date_utc": now_utc(),
        "cuda_available": cuda,
    }
    if cuda:
        p = torch.cuda.get_device_properties(0)
        d.update({
            "gpu_name": p.name,
            "total_memory_bytes": p.total_memory,
            "multi_processor_count": p.multi_processor_count,
            "capability": f"{p.major}.{p.minor}",
            "l2_cache_bytes": getattr(p, "L2_cache_size", None),
        })
        free, total = torch.cuda.mem_get_info()
        d["mem_get_info_free_bytes"], d["mem_get_info_total_bytes"] = free, total
        d["nvidia_smi"] = nvsmi("name,driver_version,memory.total,clocks.max.sm,clocks.max.mem,power.limit")
        d["nvidia_smi_clocks_start"] = nvsmi("clocks.sm,clocks.mem,temperature.gpu,power.draw")
    return d


def device_helpers(torch):
    """`sync()` and `mem()` for the device in use (no-ops on CPU)."""
    cuda = torch.cuda.is_available()

    def sync():
        if cuda:
            torch.cuda.synchronize()

    def mem():
        return torch.cuda.memory_allocated() if cuda else 0

    return sync, mem
