"""A real `transformers` config object goes in and gives the reference count.

`PretrainedConfig.to_dict()` is not the Hub's `config.json`: transformers 5 adds
its own keys, rewrites some (Gemma 4's full-layer shapes become `per_layer_config`,
Qwen2-MoE writes `sliding_window` = 0 when windows are off). Each model here is
loaded by transformers from a shared fixture folder, handed to sizeup as the object,
and must count exactly what the fixture's reference says.

`.ci/python` installs transformers (no torch: configs need none) and sets
SIZEUP_REQUIRE_TRANSFORMERS, so in CI a missing package fails instead of skipping.
"""

from __future__ import annotations

import json
import os

import pytest

import sizeup
from conftest import FIXTURES

if os.environ.get("SIZEUP_REQUIRE_TRANSFORMERS"):
    import transformers
else:
    transformers = pytest.importorskip("transformers")

SHARED = FIXTURES.parent
MODELS = [
    "models/llama-3.1-8b",
    "models/qwen1.5-moe-a2.7b",
    "models/gemma-3-27b-it",
    "models/deepseek-v3",
    "models-2026/gemma-4-31b-it",
    "models-2026/qwen3-next-80b-a3b-thinking",
    "models-2026/jamba-v0.1",
]


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared fixtures not present")
@pytest.mark.parametrize("folder", MODELS)
def test_pretrained_config_counts_as_the_reference(folder):
    path = SHARED / folder
    if not (path / "config.json").is_file():
        pytest.fail(f"fixture {folder} is missing")
    config = transformers.AutoConfig.from_pretrained(str(path))
    assert isinstance(config, transformers.PretrainedConfig)
    expected = json.loads((path / "expected.json").read_text())["params_total"]
    assert sizeup.params(config).params_total == expected
