"""Every function against the CLI's JSON for the same inputs, and the CLI's errors."""

from __future__ import annotations

import json

import pytest

import sizeup
from conftest import FIXTURES

MODEL = "llama-3.1-8b"

# (function, model or None, keyword arguments, the same command line)
CASES = [
    ("params", MODEL, {}, ["params", MODEL]),
    ("params", "qwen3-30b-a3b", {}, ["params", "qwen3-30b-a3b"]),
    ("kv", MODEL, {"seq_len": 32768, "batch": 4}, ["kv", MODEL, "--seq-len", "32768", "--batch", "4"]),
    ("kv", "deepseek-v3", {"kv_dtype": "fp8", "tp": 8}, ["kv", "deepseek-v3", "--kv-dtype", "fp8", "--tp", "8"]),
    ("infer", MODEL, {}, ["infer", MODEL]),
    (
        "infer",
        "llama-3.1-70b",
        {"gpu": "H100-SXM", "tp": 4, "weights": "fp8", "context": 8192, "batch": 16},
        ["infer", "llama-3.1-70b", "--gpu", "H100-SXM", "--tp", "4", "--weights", "fp8", "--context", "8192", "--batch", "16"],
    ),
    ("train", MODEL, {}, ["train", MODEL]),
    (
        "train",
        MODEL,
        {"gpus": 8, "zero": 3, "seq_len": 4096, "lora_rank": 16, "lora_targets": ["q", "v"]},
        ["train", MODEL, "--gpus", "8", "--zero", "3", "--seq-len", "4096", "--lora-rank", "16", "--lora-targets", "q,v"],
    ),
    ("card", MODEL, {}, ["card", MODEL]),
    ("sweep", MODEL, {"vary": "seq_len=4k..32k*2"}, ["sweep", MODEL, "--vary", "seq_len=4k..32k*2"]),
    (
        "sweep",
        MODEL,
        {"vary": {"batch": "1..64*4", "tp": "1,2"}},
        ["sweep", MODEL, "--vary", "batch=1..64*4", "--vary", "tp=1,2"],
    ),
    ("sweep", MODEL, {"vary": ["micro_batch=1..4*2"], "mode": "train"}, ["sweep", MODEL, "--mode", "train", "--vary", "micro_batch=1..4*2"]),
    ("models", None, {}, ["models"]),
    ("gpus", None, {}, ["gpus"]),
]


@pytest.mark.parametrize("name,model,options,argv", CASES, ids=[" ".join(c[3]) for c in CASES])
def test_function_equals_cli_json(cli_json, name, model, options, argv):
    fn = getattr(sizeup, name)
    result = fn(model, **options) if model is not None else fn(**options)
    assert result.to_dict() == cli_json(*argv)


def test_attribute_access():
    r = sizeup.params(MODEL)
    # llama-3.1-8b: 8,030,261,248 parameters (shared/fixtures/models/llama-3.1-8b/expected.json)
    assert r.params_total == 8_030_261_248
    assert r["params_total"] == r.params_total
    assert r.model.name == MODEL
    assert isinstance(r, sizeup.ParamsReport)
    with pytest.raises(AttributeError, match="no field"):
        r.no_such_field
    infer = sizeup.infer(MODEL, context=8192)
    assert infer.estimate.memory.total_bytes > 0


def test_booleans_are_bare_flags_and_false_is_left_out(cli_json):
    assert sizeup.infer(MODEL, si=True).to_dict() == cli_json("infer", MODEL, "--si")
    assert sizeup.infer(MODEL, si=False, tp=None).to_dict() == cli_json("infer", MODEL)


def config_dirs():
    dirs = sorted(p for p in FIXTURES.glob("*") if (p / "config.json").is_file())
    return dirs[:6]


@pytest.mark.skipif(not FIXTURES.is_dir(), reason="shared fixtures not present")
@pytest.mark.parametrize("folder", config_dirs(), ids=lambda p: p.name)
def test_config_dict_equals_the_file(cli_json, folder):
    """A config as a dict gives the file's report, but for the name."""
    config = json.loads((folder / "config.json").read_text())
    from_dict = sizeup.params(config).to_dict()
    from_file = cli_json("params", str(folder / "config.json"))
    assert from_dict["model"].pop("name") == config.get("_name_or_path", "config.json")
    from_file["model"].pop("name")
    assert from_dict == from_file
    assert sizeup.kv(config, seq_len=4096).to_dict()["model"]["source"] == "config.json"


def test_pretrained_config_like_object():
    class FakePretrainedConfig:
        def __init__(self, d):
            self._d = d

        def to_dict(self):
            return dict(self._d)

    folder = config_dirs()[0]
    config = json.loads((folder / "config.json").read_text())
    config["_name_or_path"] = "my/model"
    r = sizeup.params(FakePretrainedConfig(config))
    assert r.model.name == "my/model"
    assert r.params_total == sizeup.params(config).params_total


def test_path_and_as(cli_json):
    folder = config_dirs()[0]
    assert sizeup.params(folder).to_dict() == cli_json("params", str(folder))


def test_sweep_rows_and_dataframe():
    s = sizeup.sweep(MODEL, vary="seq_len=4k..32k*2")
    rows = s.rows()
    assert [r["seq_len"] for r in rows] == [4096, 8192, 16384, 32768]
    assert "memory.kv_cache_bytes" in rows[0]
    pandas = pytest.importorskip("pandas")
    df = s.to_pandas()
    assert isinstance(df, pandas.DataFrame)
    assert len(df) == 4
    assert list(df["memory.kv_cache_bytes"]) == [r["memory.kv_cache_bytes"] for r in rows]
    assert s.to_dataframe is not None


def stderr_of(cli, *argv):
    done = cli(*argv)
    assert done.returncode == 2
    return done.stderr


@pytest.mark.parametrize(
    "call,argv,usage",
    [
        (lambda: sizeup.params("llama-3.1-8bb"), ["params", "llama-3.1-8bb"], False),
        (lambda: sizeup.infer(MODEL, tp=0), ["infer", MODEL, "--tp", "0"], True),
        (lambda: sizeup.infer(MODEL, weights="int3"), ["infer", MODEL, "--weights", "int3"], True),
        (lambda: sizeup.kv(MODEL, no_such_flag=1), ["kv", MODEL, "--no-such-flag", "1"], True),
        (lambda: sizeup.train(MODEL, gpus=8, tp=3), ["train", MODEL, "--gpus", "8", "--tp", "3"], None),
        (lambda: sizeup.params({"model_type": "llama"}), None, False),
    ],
)
def test_errors_carry_the_cli_message(cli, call, argv, usage):
    with pytest.raises(sizeup.SizeupError) as info:
        call()
    err = info.value
    assert isinstance(err, ValueError)
    assert err.message.startswith("error: ")
    if usage is not None:
        assert err.usage is usage
    if argv is not None:
        stderr = stderr_of(cli, *argv, "--format", "json")
        # the whole message as the CLI prints it (clap's usage lines aside)
        assert stderr.startswith(err.message.split("\n\nUsage:")[0]), (stderr, err.message)
        for hint in err.hints:
            assert f"hint: {hint}" in stderr or f"tip: {hint}" in stderr


def test_format_is_not_an_option():
    with pytest.raises(sizeup.SizeupError, match="format"):
        sizeup.params(MODEL, format="table")


def test_bad_model_type():
    with pytest.raises(sizeup.SizeupError, match="a model is"):
        sizeup.params(42)


def test_version_matches_cli(cli):
    assert cli("--version").stdout.strip() == f"sizeup {sizeup.__version__}"


def test_plan_equals_cli_json(cli_json):
    argv = ["plan", "train", MODEL, "--gpus", "8,16", "--global-batch", "512", "--gpu", "H100-SXM,A100-SXM-80GB"]
    result = sizeup.plan(MODEL, gpus="8,16", global_batch=512, gpu=["H100-SXM", "A100-SXM-80GB"])
    assert isinstance(result, sizeup.PlanReport)
    ours, theirs = result.to_dict(), cli_json(*argv)
    # the search's own wall time and rate differ from run to run
    ours.pop("speed")
    theirs.pop("speed")
    assert ours == theirs


def test_plan_without_its_required_flag_is_refused_as_the_cli_refuses_it(cli):
    with pytest.raises(sizeup.SizeupError) as info:
        sizeup.plan(MODEL, gpus=8)
    assert info.value.usage
    assert "--global-batch" in info.value.message
    assert cli("plan", "train", MODEL, "--gpus", "8").stderr.startswith(info.value.message.split("\n")[0])
