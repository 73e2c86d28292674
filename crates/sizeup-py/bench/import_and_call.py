"""Time `import sizeup` and a call of each of a few functions.

    python crates/sizeup-py/bench/import_and_call.py [--imports N] [--calls N]

`import sizeup` is timed in fresh interpreters (an import is cached after the
first), each call in this one after one warm-up call. Prints the median and the
best of wall time, and the median of this process's CPU time, which a busy
machine disturbs less than wall time.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

IMPORT = (
    "import time; w, c = time.perf_counter(), time.process_time(); import sizeup; "
    "print(time.perf_counter() - w, time.process_time() - c)"
)

CALLS = [
    ('sizeup.params("llama-3.1-8b")', lambda s: s.params("llama-3.1-8b")),
    ('sizeup.params("llama-3.1-8b").params_total', lambda s: s.params("llama-3.1-8b").params_total),
    ('sizeup.infer("llama-3.1-8b")', lambda s: s.infer("llama-3.1-8b")),
]


def imports(runs: int) -> list:
    out = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", IMPORT], capture_output=True, text=True, check=True)
        wall, cpu = (float(x) for x in done.stdout.split())
        out.append((wall, cpu))
    return out


def calls(fn, runs: int) -> list:
    out = []
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        fn()
        out.append((time.perf_counter() - w, time.process_time() - c))
    return out


def line(name: str, samples: list, unit: float, label: str) -> str:
    walls = [w for w, _ in samples]
    cpus = [c for _, c in samples]
    return (
        f"{name:<46} median {statistics.median(walls) * unit:8.1f} {label}  best {min(walls) * unit:8.1f} {label}"
        f"  cpu median {statistics.median(cpus) * unit:8.1f} {label}  ({len(samples)} runs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--imports", type=int, default=30, help="fresh interpreters to import in")
    parser.add_argument("--calls", type=int, default=300, help="calls of each function")
    args = parser.parse_args()

    print(line("import sizeup", imports(args.imports), 1e3, "ms"))
    import sizeup

    for name, fn in CALLS:
        fn(sizeup)  # warm: the catalog parsed once
        print(line(name, calls(lambda: fn(sizeup), args.calls), 1e6, "µs"))


if __name__ == "__main__":
    main()
