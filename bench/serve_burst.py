#!/usr/bin/env python3
"""Latency of `/api/infer` under a burst of concurrent requests on loopback.

Starts `sizeup serve --port 0` (the release binary by default), sends REQUESTS
POSTs to /api/infer from WORKERS threads at once, checks every answer is 200
with the CLI's figures, and prints the p50/p99/max latency and the request rate.

    python3 bench/serve_burst.py [--bin target/release/sizeup] [--requests 400] [--workers 16]

Standard library only.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

BODY = {"model": "llama-3.1-8b", "gpu": "H100-SXM", "context": "32k", "concurrency": 8}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/sizeup")
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--workers", type=int, default=16)
    args = ap.parse_args()

    server = subprocess.Popen([args.bin, "serve", "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        m = re.search(r"http://[^ /]+", line)
        if not m:
            print(f"no address in: {line!r}", file=sys.stderr)
            return 1
        url = m.group(0) + "/api/infer"
        data = json.dumps(BODY).encode()

        def one(_: int) -> float:
            req = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
            t = time.perf_counter()
            with urllib.request.urlopen(req, timeout=60) as r:
                body = json.load(r)
                assert r.status == 200 and body["estimate"]["fits"] is True
            return time.perf_counter() - t

        one(0)  # warm
        start = time.perf_counter()
        with ThreadPoolExecutor(args.workers) as pool:
            lat = sorted(pool.map(one, range(args.requests)))
        wall = time.perf_counter() - start
        q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
        print(
            f"{args.requests} requests, {args.workers} at once: "
            f"p50 {q(0.50) * 1e3:.2f} ms, p99 {q(0.99) * 1e3:.2f} ms, max {lat[-1] * 1e3:.2f} ms, "
            f"mean {statistics.mean(lat) * 1e3:.2f} ms, {args.requests / wall:.0f} requests/s"
        )
        return 0
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
