"""The wheel installs into a fresh virtual environment and its `sizeup` command runs.

Set `SIZEUP_WHEEL` to the wheel's path (CI does); skipped otherwise.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

WHEEL = os.environ.get("SIZEUP_WHEEL")


@pytest.mark.skipif(not WHEEL, reason="SIZEUP_WHEEL not set")
def test_wheel_installs_and_the_command_runs(tmp_path: Path, cli):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bin_dir = env_dir / ("Scripts" if sys.platform == "win32" else "bin")
    subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--no-index", "--quiet", WHEEL],
        check=True,
    )
    version = subprocess.run([str(bin_dir / "sizeup"), "--version"], capture_output=True, text=True)
    assert version.returncode == 0, version.stderr
    assert version.stdout == cli("--version").stdout

    table = subprocess.run([str(bin_dir / "sizeup"), "params", "llama-3.1-8b"], capture_output=True, text=True)
    assert table.returncode == 0
    assert table.stdout == cli("params", "llama-3.1-8b").stdout

    bad = subprocess.run([str(bin_dir / "sizeup"), "infer", "llama-3.1-8b", "--tp", "0"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr == cli("infer", "llama-3.1-8b", "--tp", "0").stderr

    imported = subprocess.run(
        [str(bin_dir / "python"), "-c", "import sizeup; print(sizeup.params('llama-3.1-8b').params_total)"],
        capture_output=True,
        text=True,
    )
    assert imported.stdout.strip() == "8030261248", imported.stderr


@pytest.mark.skipif(not WHEEL, reason="SIZEUP_WHEEL not set")
def test_the_wheel_carries_the_types():
    names = set(zipfile.ZipFile(WHEEL).namelist())
    for typed in ["__init__.pyi", "_sizeup.pyi", "results.pyi", "results.py", "_result.py", "py.typed"]:
        assert f"sizeup/{typed}" in names, typed
    assert not any(n.startswith("tools/") or "/tools/" in n for n in names)
