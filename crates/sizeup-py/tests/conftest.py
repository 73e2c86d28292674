"""Shared fixtures: the `sizeup` binary the Python results are compared with.

`SIZEUP_BIN` names the binary; by default the one cargo built in the workspace's
`target/` (release, else debug), else a `sizeup` on PATH.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "models"


def _binary() -> str:
    env = os.environ.get("SIZEUP_BIN")
    if env:
        return env
    for profile in ("release", "debug"):
        exe = ROOT / "target" / profile / "sizeup"
        if exe.is_file():
            return str(exe)
    found = shutil.which("sizeup")
    if found is None:
        pytest.skip("no sizeup binary: set SIZEUP_BIN or build it with cargo")
    return found


@pytest.fixture(scope="session")
def cli():
    """Run the CLI: `cli("params", "llama-3.1-8b")` -> the CompletedProcess."""
    exe = _binary()

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([exe, *args], capture_output=True, text=True, timeout=300)

    return run


@pytest.fixture(scope="session")
def cli_json(cli):
    """The CLI's `--format json` report for a command line, as a dict."""

    def run(*args: str) -> dict:
        done = cli(*args, "--format", "json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    return run
