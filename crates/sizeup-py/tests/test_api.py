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
    ("kv", MODEL, {"seq_len": "32k"}, ["kv", MODEL, "--seq-len", "32k"]),
    ("kv", "deepseek-v3", {"kv_dtype": "fp8", "tp": 8}, ["kv", "deepseek-v3", "--kv-dtype", "fp8", "--tp", "8"]),
    ("infer", MODEL, {}, ["infer", MODEL]),
    (
        "infer",
        "llama-3.1-70b",
        {"gpu": "H100-SXM", "tp": 4, "weights": "fp8", "context": 8192, "batch": 16},
        ["infer", "llama-3.1-70b", "--gpu", "H100-SXM", "--tp", "4", "--weights", "fp8", "--context", "8192", "--batch", "16"],
    ),
    ("infer", MODEL, {"keep_embeddings_16bit": True, "weights": "Q4_K_M"}, ["infer", MODEL, "--keep-embeddings-16bit", "--weights", "Q4_K_M"]),
    ("infer", MODEL, {"rate": 2, "requests": 40, "seed": 7}, ["infer", MODEL, "--rate", "2", "--requests", "40", "--seed", "7"]),
    ("train", MODEL, {}, ["train", MODEL]),
    (
        "train",
        MODEL,
        {"gpus": 8, "zero": 3, "seq_len": 4096, "lora_rank": 16, "lora_targets": ["q", "v"]},
        ["train", MODEL, "--gpus", "8", "--zero", "3", "--seq-len", "4096", "--lora-rank", "16", "--lora-targets", "q,v"],
    ),
    ("train", MODEL, {"tokens": 1e12, "price": 2.5, "flash_attention": False}, ["train", MODEL, "--tokens", "1000000000000", "--price", "2.5", "--flash-attention", "false"]),
    ("card", MODEL, {}, ["card", MODEL]),
    ("card", MODEL, {"workload": "finetune"}, ["card", MODEL, "--workload", "finetune"]),
    ("sweep", MODEL, {"vary": "seq_len=4k..32k*2"}, ["sweep", MODEL, "--vary", "seq_len=4k..32k*2"]),
    (
        "sweep",
        MODEL,
        {"vary": {"batch": "1..64*4", "tp": "1,3"}},
        ["sweep", MODEL, "--vary", "batch=1..64*4", "--vary", "tp=1,3"],
    ),
    ("sweep", MODEL, {"vary": ["micro_batch=1..4*2"], "mode": "train"}, ["sweep", MODEL, "--mode", "train", "--vary", "micro_batch=1..4*2"]),
    ("models", None, {}, ["models"]),
    ("models", None, {"filter": "qwen"}, ["models", "--filter", "qwen"]),
    ("gpus", None, {}, ["gpus"]),
]


@pytest.mark.parametrize("name,model,options,argv", CASES, ids=[" ".join(c[3]) for c in CASES])
def test_function_equals_cli_json(cli_json, name, model, options, argv):
    fn = getattr(sizeup, name)
    result = fn(model, **options) if model is not None else fn(**options)
    assert result.to_dict() == cli_json(*argv)


def test_plan_equals_cli_json(cli_json):
    argv = ["plan", "train", MODEL, "--gpus", "8,16", "--global-batch", "512", "--gpu", "H100-SXM,A100-SXM-80GB"]
    result = sizeup.plan(MODEL, gpus="8,16", global_batch=512, gpu=["H100-SXM", "A100-SXM-80GB"])
    assert isinstance(result, sizeup.PlanTrainResponse)
    ours, theirs = result.to_dict(), cli_json(*argv)
    # the search's own wall time and rate differ from run to run
    ours.pop("speed")
    theirs.pop("speed")
    assert ours == theirs


def test_false_and_none_leave_a_field_out(cli_json):
    assert sizeup.infer(MODEL, keep_embeddings_16bit=False, tp=None).to_dict() == cli_json("infer", MODEL)


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
    assert from_dict["model"].pop("name") == (config.get("_name_or_path") or "config.json")
    from_file["model"].pop("name")
    assert from_dict == from_file
    assert sizeup.kv(config, seq_len=4096).model.source == "config.json"


def test_pretrained_config_like_object():
    class FakePretrainedConfig:
        def __init__(self, d):
            self._d = d

        def to_dict(self):
            return dict(self._d, torch_dtype=object())  # what JSON cannot hold is read as its text

    folder = config_dirs()[0]
    config = json.loads((folder / "config.json").read_text())
    config["_name_or_path"] = "my/model"
    r = sizeup.params(FakePretrainedConfig(config))
    assert r.model.name == "my/model"
    # shared/fixtures/models/bloom-1b1/expected.json (config_dirs()[0])
    assert folder.name == "bloom-1b1"
    assert r.params_total == 1_065_314_304


def test_a_list_that_holds_itself_is_refused_not_a_crash():
    loop = []
    loop.append(loop)
    with pytest.raises(sizeup.SizeupError):
        sizeup.params("llama-3.1-8b", lora_targets=loop)


def test_path_objects(cli_json):
    folder = config_dirs()[0]
    assert sizeup.params(folder).to_dict() == cli_json("params", str(folder))


def test_sweep_rows_and_dataframe():
    s = sizeup.sweep(MODEL, vary="seq_len=4k..32k*2")
    rows = s.rows()
    assert [r["seq_len"] for r in rows] == [4096, 8192, 16384, 32768]
    # 131,072 bytes per token (32 layers · 2 · 8 KV heads · 128 · 2 bytes) × the context
    assert [r["memory.kv_cache_bytes"] for r in rows] == [131_072 * n for n in (4096, 8192, 16384, 32768)]
    pandas = pytest.importorskip("pandas")
    df = s.to_pandas()
    assert isinstance(df, pandas.DataFrame)
    assert list(df["memory.kv_cache_bytes"]) == [r["memory.kv_cache_bytes"] for r in rows]
    # columns in the order the CLI writes the fields: the varied input, then the point
    assert list(df.columns[:2]) == ["seq_len", "params_total"]


def test_sweep_chart_is_the_clis(cli, tmp_path):
    ours, theirs = tmp_path / "ours.svg", tmp_path / "theirs.svg"
    sizeup.sweep(MODEL, vary="seq_len=4k..32k*2", chart=ours)
    done = cli("sweep", MODEL, "--vary", "seq_len=4k..32k*2", "--chart", str(theirs))
    assert done.returncode == 0, done.stderr
    assert ours.read_bytes() == theirs.read_bytes()
    assert ours.read_bytes().startswith(b"<svg")


def test_plan_serve_chart_is_the_clis(cli, tmp_path):
    ours, theirs = tmp_path / "ours.svg", tmp_path / "theirs.svg"
    flags = {"rate": "4", "prompt": "512", "output": "128", "ttft": "2", "tpot": "0.1", "gpu": "L4", "gpus": "1,2"}
    sizeup.plan(MODEL, "serve", chart=ours, **flags)
    argv = [a for k, v in flags.items() for a in (f"--{k}", v)]
    done = cli("plan", "serve", MODEL, *argv, "--chart", str(theirs))
    assert done.returncode == 0, done.stderr
    assert ours.read_bytes() == theirs.read_bytes()
    assert ours.read_bytes().startswith(b"<svg")


def test_version_matches_cli(cli):
    assert cli("--version").stdout.strip() == f"sizeup {sizeup.__version__}"


# --- errors ---------------------------------------------------------------------------


def stderr_of(cli, *argv):
    done = cli(*argv)
    assert done.returncode == 2
    return done.stderr


@pytest.mark.parametrize(
    "call,argv,field",
    [
        # refused by a flag's door: the CLI's first line, the field named
        (lambda: sizeup.infer(MODEL, tp=0), ["infer", MODEL, "--tp", "0"], "tp"),
        (lambda: sizeup.infer(MODEL, weights="int3"), ["infer", MODEL, "--weights", "int3"], "weights"),
        (lambda: sizeup.kv(MODEL, seq_len="lots"), ["kv", MODEL, "--seq-len", "lots"], "seq_len"),
        # a required group: no one field is at fault
        (lambda: sizeup.infer(MODEL, requests=10), ["infer", MODEL, "--requests", "10"], None),
    ],
)
def test_a_refused_value_carries_the_clis_first_line(cli, call, argv, field):
    with pytest.raises(sizeup.SizeupError) as info:
        call()
    err = info.value
    assert isinstance(err, ValueError)
    assert err.field == field
    stderr = stderr_of(cli, *argv, "--format", "json")
    # clap's first paragraph (`not provided:` goes on with the flags, one a line)
    paragraph = " ".join(line.strip() for line in stderr.split("\n\n")[0].splitlines())
    assert err.message.splitlines()[0] == paragraph
    assert err.message == f"error: {err.error}" + "".join(f"\n\nhint: {h}" if i == 0 else f"\nhint: {h}" for i, h in enumerate(err.hints))
    for hint in err.hints:
        assert f"tip: {hint}" in stderr


@pytest.mark.parametrize(
    "call,argv,field",
    [
        # refused by the command: the CLI's whole message
        (lambda: sizeup.params("llama-3.1-8bb"), ["params", "llama-3.1-8bb"], None),
        (lambda: sizeup.train(MODEL, gpus=8, tp=3), ["train", MODEL, "--gpus", "8", "--tp", "3"], "gpus"),
        (lambda: sizeup.infer(MODEL, tp=3), ["infer", MODEL, "--tp", "3"], "tp"),
        (lambda: sizeup.infer(MODEL, gpu="H1000"), ["infer", MODEL, "--gpu", "H1000"], None),
        (
            lambda: sizeup.sweep(MODEL, vary="seq_len=4k..8k", chart_kind="latency-throughput", chart="x.svg"),
            ["sweep", MODEL, "--vary", "seq_len=4k..8k", "--chart-kind", "latency-throughput", "--chart", "x.svg"],
            "chart_kind",
        ),
    ],
)
def test_a_failed_command_carries_the_clis_message(cli, call, argv, field):
    with pytest.raises(sizeup.SizeupError) as info:
        call()
    err = info.value
    assert err.field == field
    assert str(err) + "\n" == stderr_of(cli, *argv, "--format", "json")
    assert err.message.startswith(f"error: {err.error}\n")
    assert err.hints and all(f"\nhint: {h}" in err.message for h in err.hints)


def test_a_config_the_readers_refuse():
    with pytest.raises(sizeup.SizeupError) as info:
        sizeup.params({"model_type": "llama"})
    assert info.value.message.startswith("error: ")
    assert info.value.causes or info.value.hints


def test_an_unknown_keyword_names_itself_and_the_fields():
    with pytest.raises(sizeup.SizeupError) as info:
        sizeup.kv(MODEL, seq_lne=4096)
    err = info.value
    assert err.field == "seq_lne"
    assert err.error == "`seq_lne` is not a field of `kv`"
    assert err.hints[0] == "did you mean `seq_len`?"
    assert "seq_len, batch, kv_dtype, tp" in err.hints[1]


def test_format_is_not_a_field():
    with pytest.raises(sizeup.SizeupError, match="`format` is not a field of `params`"):
        sizeup.params(MODEL, format="table")


def test_a_value_json_cannot_hold_is_refused():
    with pytest.raises(sizeup.SizeupError) as info:
        sizeup.kv(MODEL, seq_len={4096})
    assert info.value.field == "seq_len"
    assert "not a `set`" in info.value.error


def test_a_list_for_a_single_flag_is_refused():
    with pytest.raises(sizeup.SizeupError) as info:
        sizeup.kv(MODEL, seq_len=[1, 2])
    assert info.value.field == "seq_len"
    assert info.value.error == "`seq_len` takes one value, not a list"


def test_bad_model_type():
    with pytest.raises(sizeup.SizeupError, match="a catalog name") as info:
        sizeup.params(42)
    assert info.value.field == "model"


def test_an_unknown_plan_target():
    with pytest.raises(sizeup.SizeupError) as info:
        sizeup.plan(MODEL, target="inference", gpus=8, global_batch=64)
    assert info.value.field == "target"
    assert info.value.hints == ["use one of: train, serve"]


def test_plan_serve_equals_the_cli(cli_json):
    options = {"rate": 5, "prompt": 1000, "output": 200, "ttft": 1, "tpot": 0.05, "gpu": ["H100-SXM"], "top": 2}
    got = sizeup.plan(MODEL, "serve", **options).to_dict()
    want = cli_json(
        "plan", "serve", MODEL, "--rate", "5", "--prompt", "1000", "--output", "200",
        "--ttft", "1", "--tpot", "0.05", "--gpu", "H100-SXM", "--top", "2",
    )
    # the search's own timing differs run to run; everything else is the same
    for report in (got, want):
        report.pop("speed")
        report["plan"]["tally"].pop("seconds", None)
    assert got == want
    assert isinstance(sizeup.plan(MODEL, "serve", **options), sizeup.PlanServeResponse)


def test_plan_without_its_required_field_is_refused_as_the_cli_refuses_it(cli):
    with pytest.raises(sizeup.SizeupError) as info:
        sizeup.plan(MODEL, gpus=8)
    assert "--global-batch" in info.value.message
    first = cli("plan", "train", MODEL, "--gpus", "8").stderr.splitlines()[0]
    assert info.value.message.startswith(first)
