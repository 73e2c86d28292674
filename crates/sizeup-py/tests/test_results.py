"""Typed results: nested objects are read as the classes the stubs declare, and the
committed classes are what the generator makes of the responses' schemas now."""

from __future__ import annotations

import copy
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import sizeup
from sizeup import _sizeup, results
from sizeup._result import Result

from conftest import ROOT

MODEL = "llama-3.1-8b"
PY = ROOT / "crates" / "sizeup-py"


def test_nested_fields_are_typed():
    r = sizeup.infer(MODEL, context=8192)
    assert type(r) is results.InferResponse
    assert type(r.estimate) is results.InferEstimate
    assert type(r.estimate.memory) is results.ServeMemoryPerGpu
    # 32 layers · 2 (K, V) · 8 KV heads · 128 dims · 2 bytes = 131,072 bytes per token
    assert r.estimate.memory.kv_cache_bytes == 131_072 * 8192
    assert r["estimate"]["memory"]["kv_cache_bytes"] == r.estimate.memory.kv_cache_bytes
    assert type(r.model) is results.ModelSummary
    assert r.model.layers == 32
    assert all(type(a) is results.Assumption for a in r.estimate.assumptions)
    assert type(r.estimate.decode) is results.Phase
    assert r.estimate.decode.bound == "memory_bandwidth"


def test_train_memory_is_its_own_class():
    t = sizeup.train(MODEL, gpus=8, zero=3)
    assert type(t.estimate.memory) is results.TrainMemoryPerGpu
    assert "activations_bytes" in t.estimate.memory
    assert "kv_cache_bytes" in sizeup.infer(MODEL).estimate.memory


def test_a_union_reads_as_its_variant():
    e = sizeup.infer(MODEL, context=1 << 20).estimate
    (w,) = e.warnings
    assert type(w) is results.EstimateWarningContextBeyondModel
    # llama-3.1-8b: max_position_embeddings 131072
    assert (w.kind, w.context, w.max_context) == ("context_beyond_model", 1 << 20, 131_072)
    card = sizeup.card(MODEL, workload="chat").card
    assert isinstance(card.bottleneck.reason, Result)
    assert card.bottleneck.reason.kind == card.bottleneck.kind


def test_a_flattened_enum_reads_as_optional_fields():
    s = sizeup.sweep(MODEL, vary="tp=1,3")
    ok, refused = s.points
    assert type(ok) is results.SweepPoint
    assert type(ok.serve) is results.ServePoint
    assert ok.train is None and ok.error is None
    assert ok.values == {"tp": 1}
    assert refused.serve is None and "tp" in refused.error
    assert type(s.settings) is results.SettingsServing


def test_an_absent_optional_field_reads_none():
    r = sizeup.infer(MODEL)
    assert "simulation" not in r
    assert r.simulation is None
    assert type(sizeup.infer(MODEL, rate=2, requests=20).simulation) is results.SimReport
    with pytest.raises(AttributeError, match="no field `no_such_field`"):
        r.no_such_field


def test_results_are_read_only():
    r = sizeup.params(MODEL)
    with pytest.raises(AttributeError, match="read-only"):
        r.params_total = 1
    d = r.to_dict()
    d["params_total"] = 1
    assert r.params_total == 8_030_261_248


def _walk(value, path, out):
    """Every object under `value` read by attribute: (path, class, undeclared keys)."""
    if isinstance(value, list):
        for i, v in enumerate(value):
            _walk(v, f"{path}[{i}]", out)
    elif isinstance(value, dict):
        for k, v in value.items():
            _walk(v, f"{path}[{k!r}]", out)
    elif isinstance(value, Result):
        undeclared = [k for k in value.keys() if k not in type(value)._fields]
        out.append((path, type(value), undeclared))
        for k in value.keys():
            _walk(getattr(value, k), f"{path}.{k}", out)


@pytest.mark.parametrize(
    "call",
    [
        lambda: sizeup.params("qwen3-30b-a3b"),
        lambda: sizeup.kv("gemma-3-27b", seq_len="32k"),
        lambda: sizeup.kv("mamba-2.8b"),
        lambda: sizeup.infer(MODEL, rate=4, requests=60),
        lambda: sizeup.infer("llama-3.1-70b", gpu="L4"),
        lambda: sizeup.train(MODEL, gpus=8, zero=3, max_seq_len=True),
        lambda: sizeup.train(MODEL, method="qlora", gpu="RTX-4090"),
        lambda: sizeup.card(MODEL, workload="chat"),
        lambda: sizeup.card(MODEL, workload="finetune"),
        lambda: sizeup.sweep(MODEL, vary=["batch=1..4*2", "gpu=H100-SXM,L4"]),
        lambda: sizeup.sweep(MODEL, mode="train", vary="tp=1,3", gpus=8),
        lambda: sizeup.plan(MODEL, gpus=8, global_batch=64, top=2),
        lambda: sizeup.models(filter="llama"),
        lambda: sizeup.gpus(),
    ],
)
def test_every_object_has_a_class_that_declares_its_fields(call):
    found = []
    _walk(call(), "r", found)
    assert len(found) > 1
    generic = [path for path, cls, _ in found if cls is Result]
    assert not generic, f"read as the bare Result: {generic}"
    undeclared = [(path, keys) for path, _, keys in found if keys]
    assert not undeclared, f"fields the classes do not declare: {undeclared}"


# --- the generated files -----------------------------------------------------------------


def _generator():
    spec = importlib.util.spec_from_file_location("gen_stubs", PY / "tools" / "gen_stubs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_classes_are_what_the_schemas_make_now():
    """Fails when a response changed and `tools/gen_stubs.py` was not run."""
    made = _generator().render()
    for name, text in made.items():
        committed = (PY / "python" / "sizeup" / name).read_text(encoding="utf-8")
        assert committed == text, f"python/sizeup/{name} is stale: run crates/sizeup-py/tools/gen_stubs.py"
    # and the installed package is the committed one
    assert Path(results.__file__).read_text(encoding="utf-8") == made["results.py"]


def test_a_schema_change_changes_the_stubs():
    gen = _generator()
    document = _sizeup.response_schemas()
    changed = copy.deepcopy(document)
    changed["$defs"]["Assumption"]["properties"]["unit"] = {"type": "string", "description": "A new field."}
    before, after = gen.render(document), gen.render(changed)
    assert before["results.pyi"] != after["results.pyi"]
    assert "def unit(self) -> Optional[str]:" in after["results.pyi"]
    assert "'unit': None" in after["results.py"]


def test_every_response_class_is_exported():
    for name in [c["response"] for c in _sizeup.response_schemas()["commands"]]:
        assert getattr(results, name).__mro__[-2] is Result
    for fn, cls in [
        (sizeup.params, sizeup.ParamsResponse),
        (sizeup.kv, sizeup.KvResponse),
        (sizeup.infer, sizeup.InferResponse),
        (sizeup.train, sizeup.TrainResponse),
        (sizeup.card, sizeup.CardResponse),
    ]:
        assert type(fn(MODEL)) is cls


def test_every_public_function_has_a_docstring_with_an_example():
    for name in ["params", "kv", "infer", "train", "card", "plan", "sweep", "models", "gpus"]:
        doc = getattr(sizeup, name).__doc__
        assert doc and "Example:" in doc and ">>> " in doc, name


MYPY_SNIPPET = """
import sizeup
r = sizeup.infer("llama-3.1-8b", context=8192)
kv: int = r.estimate.memory.kv_cache_bytes
fits: bool = r.estimate.fits
bound: sizeup.results.Bound = r.estimate.decode.bound
for w in r.estimate.warnings:
    if isinstance(w, sizeup.results.EstimateWarningNoPrice):
        gpu: str = w.gpu
t = sizeup.train("llama-3.1-8b")
act: int = t.estimate.memory.activations_bytes
rows = sizeup.plan("llama-3.1-8b", gpus=8, global_batch=64).rows
wrong: str = r.estimate.memory.kv_cache_bytes  # the one error
"""


@pytest.mark.skipif(
    shutil.which("mypy") is None and importlib.util.find_spec("mypy") is None and not os.environ.get("SIZEUP_REQUIRE_MYPY"),
    reason="mypy not installed",
)
def test_the_stubs_type_check(tmp_path):
    """mypy reads the stubs: nested fields have their types, and a wrong one is caught."""
    snippet = tmp_path / "use.py"
    snippet.write_text(MYPY_SNIPPET)
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(snippet)],
        capture_output=True,
        text=True,
    )
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1, done.stdout + done.stderr
    assert "use.py:13: error: Incompatible types in assignment" in errors[0]
    assert '"int"' in errors[0] and '"str"' in errors[0]


def test_the_docstring_examples_hold():
    """The examples in the functions' docstrings (and the module's) give what they show."""
    import doctest

    failures = []
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    tested = set()
    for test in finder.find(sizeup, "sizeup", globs={"sizeup": sizeup}):
        result = runner.run(test, out=failures.append)
        assert result.failed == 0, "".join(failures)
        if test.examples:
            tested.add(test.name)
    functions = {"params", "kv", "infer", "train", "card", "plan", "sweep", "models", "gpus"}
    assert tested == {"sizeup"} | {f"sizeup.{f}" for f in functions}
