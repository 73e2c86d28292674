"""Time `import sizeup` and `sizeup.params("llama-3.1-8b")` (python bench/import_and_call.py).

`import sizeup` is timed in fresh interpreters (an import is cached after the
first), the call with `timeit` in this one. Prints the best and the median.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import timeit

IMPORT_RUNS = 20
CALLS = 200


def import_seconds() -> list:
    code = "import time; t = time.perf_counter(); import sizeup; print(time.perf_counter() - t)"
    return [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(IMPORT_RUNS)
    ]


def main() -> None:
    imports = import_seconds()
    print(f"import sizeup: best {min(imports) * 1e3:.2f} ms, median {statistics.median(imports) * 1e3:.2f} ms ({IMPORT_RUNS} fresh interpreters)")
    import sizeup

    sizeup.params("llama-3.1-8b")  # warm the catalog
    calls = timeit.repeat(lambda: sizeup.params("llama-3.1-8b"), number=1, repeat=CALLS)
    print(
        f'sizeup.params("llama-3.1-8b"): best {min(calls) * 1e6:.0f} µs, '
        f"median {statistics.median(calls) * 1e6:.0f} µs ({CALLS} calls)"
    )


if __name__ == "__main__":
    main()
