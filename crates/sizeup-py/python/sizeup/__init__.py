"""sizeup: what a transformer language model costs before you train or serve it.

The numbers come from the same Rust code as the ``sizeup`` command line: each
function here builds that command line from its keyword arguments, runs it
in-process and returns the JSON report as a result object, so a flag's checks,
defaults and conflicts are exactly the CLI's.

>>> import sizeup
>>> r = sizeup.params("llama-3.1-8b")
>>> r.params_total
8030261248

Keyword arguments are the CLI's flags with ``_`` for ``-``: ``seq_len=4096`` is
``--seq-len 4096``; ``True`` is a bare flag (``si=True`` is ``--si``), ``False`` or
``None`` leave the flag out; a list or tuple repeats it (``vary=["seq_len=4k..32k",
"batch=1..64*2"]``). ``as_`` is ``--as``. The model is a catalog name, a path to a
``config.json``, a checkpoint folder or a ``.gguf`` file, ``"hf:ORG/NAME"``, a
``dict`` holding a ``config.json`` or a ``transformers`` ``PretrainedConfig``.

Errors raise :class:`SizeupError` (a ``ValueError``) with the CLI's message.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

from . import _sizeup

__version__: str = _sizeup.__version__

__all__ = [
    "SizeupError",
    "Report",
    "ParamsReport",
    "KvReport",
    "InferReport",
    "TrainReport",
    "CardReport",
    "SweepReport",
    "PlanReport",
    "ModelsReport",
    "GpusReport",
    "params",
    "kv",
    "infer",
    "train",
    "card",
    "sweep",
    "models",
    "gpus",
    "plan",
    "run",
    "__version__",
]


class SizeupError(ValueError):
    """A command line sizeup refused or a command that failed.

    ``str(err)`` and ``err.message`` are the message as the CLI prints it on
    stderr (``error: …``, the ``Caused by:`` chain and the ``hint:`` lines);
    ``err.hints`` holds the hints' text; ``err.usage`` is true when the command line itself was refused (an
    unknown flag or a bad value), false when a command ran and failed.
    """

    def __init__(self, message: str, usage: bool = False) -> None:
        self.message: str = message.rstrip("\n")
        self.usage: bool = usage
        self.hints: List[str] = [
            line.strip().split(": ", 1)[1]
            for line in self.message.splitlines()
            if line.strip().startswith(("hint: ", "tip: "))
        ]
        super().__init__(self.message)


class _Node:
    """Attribute access over a JSON object: ``r.memory.total_bytes``."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_data", data)

    def __getattr__(self, name: str) -> Any:
        try:
            return _wrap(self._data[name])
        except KeyError:
            raise AttributeError(
                f"{type(self).__name__} has no field `{name}` (fields: {', '.join(self._data)})"
            ) from None

    def __getitem__(self, key: str) -> Any:
        return _wrap(self._data[key])

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("sizeup results are read-only; use .to_dict() for a copy")

    def __dir__(self) -> List[str]:
        return sorted(set(self._data) | set(super().__dir__()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Node):
            return self._data == other._data
        return NotImplemented

    def __repr__(self) -> str:
        return f"{type(self).__name__}({json.dumps(self._data)[:200]})"

    def keys(self) -> Any:
        """The field names."""
        return self._data.keys()

    def to_dict(self) -> Dict[str, Any]:
        """A copy of the data: equal to the CLI's ``--format json`` output."""
        return json.loads(json.dumps(self._data))


def _wrap(value: Any) -> Any:
    if isinstance(value, dict):
        return _Node(value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


class Report(_Node):
    """A command's report: its inputs, results in base units and assumptions.

    Fields are attributes (``r.params_total``) and items (``r["params_total"]``);
    nested objects are reports too; ``to_dict()`` gives the CLI's JSON.
    """

    __slots__ = ()

    def to_json(self, indent: Optional[int] = 2) -> str:
        """The report as JSON text."""
        return json.dumps(self._data, indent=indent)


class ParamsReport(Report):
    """``sizeup params``: the exact parameter count and where the parameters sit."""

    __slots__ = ()


class KvReport(Report):
    """``sizeup kv``: KV cache per token, per sequence, per batch and per GPU."""

    __slots__ = ()


class InferReport(Report):
    """``sizeup infer``: serving memory per GPU, prefill and decode speed, concurrency, cost."""

    __slots__ = ()


class TrainReport(Report):
    """``sizeup train``: training memory per GPU, FLOPs, step time, MFU, wall time, cost."""

    __slots__ = ()


class CardReport(Report):
    """``sizeup card``: the evidence card (params, training, inference, bottleneck, decision)."""

    __slots__ = ()


class ModelsReport(Report):
    """``sizeup models``: the embedded model catalog (``r.models``)."""

    __slots__ = ()


class GpusReport(Report):
    """``sizeup gpus``: the accelerator catalog, every figure with its source (``r.accelerators``)."""

    __slots__ = ()


class PlanReport(Report):
    """``sizeup plan``: the configurations of a job that fit, ranked."""

    __slots__ = ()


class SweepReport(Report):
    """``sizeup sweep``: one or two inputs varied; ``r.points`` holds one estimate per point."""

    __slots__ = ()

    def rows(self) -> List[Dict[str, Any]]:
        """One flat ``dict`` per point: the varied inputs, then the estimate's fields
        with nested objects joined by ``.`` (``memory.total_bytes``)."""
        mode = self._data.get("mode", "serve")
        out = []
        for point in self._data["points"]:
            row: Dict[str, Any] = dict(point.get("values", {}))
            estimate = point.get(mode)
            if estimate is None:
                # the other shape of point, should the mode's key differ
                estimate = {k: v for k, v in point.items() if k != "values"}
            _flatten(estimate, "", row)
            out.append(row)
        return out

    def to_pandas(self) -> Any:
        """The points as a ``pandas.DataFrame``, one row per point (needs pandas)."""
        try:
            import pandas
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("SweepReport.to_pandas() needs pandas: pip install pandas") from e
        return pandas.DataFrame(self.rows())

    to_dataframe = to_pandas


def _flatten(value: Any, prefix: str, into: Dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _flatten(v, f"{prefix}{k}.", into)
    else:
        into[prefix[:-1]] = value


# --- building the command line ---------------------------------------------------

_Model = Any  # str | os.PathLike | dict | transformers.PretrainedConfig


def _flag(name: str) -> str:
    if name == "as_":
        return "--as"
    return "--" + name.rstrip("_").replace("_", "-")


def _value(v: Any) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**63:
        return str(int(v))
    return str(v)


def _flags(options: Mapping[str, Any]) -> List[str]:
    argv: List[str] = []
    for name, v in options.items():
        if name == "format":
            raise SizeupError(
                "error: `format` is not an option of the Python functions: they always read the JSON report\n\n"
                "hint: use `.to_dict()`, or run the `sizeup` command for tables, CSV or Markdown",
                usage=True,
            )
        if v is None or v is False:
            continue
        flag = _flag(name)
        if v is True:
            argv.append(flag)
        elif isinstance(v, Mapping):
            # vary={"seq_len": "4k..128k"} -> --vary seq_len=4k..128k
            for k, spec in v.items():
                argv += [flag, f"{k}={_value(spec)}"]
        elif isinstance(v, (list, tuple)):
            for item in v:
                argv += [flag, _value(item)]
        else:
            argv += [flag, _value(v)]
    return argv


def _model(model: _Model) -> Tuple[str, Optional[str]]:
    """The MODEL argument, and the config text when the model is held in memory."""
    if isinstance(model, (str, os.PathLike)):
        return os.fspath(model), None
    config = model
    if not isinstance(config, Mapping) and hasattr(config, "to_dict"):
        config = config.to_dict()  # a transformers PretrainedConfig
    if not isinstance(config, Mapping):
        raise SizeupError(
            f"error: a model is a catalog name, a path, `hf:ORG/NAME`, a dict or a PretrainedConfig, "
            f"not `{type(model).__name__}`",
            usage=True,
        )
    name = config.get("_name_or_path") or config.get("name_or_path") or "config.json"
    return f"{name}", json.dumps(config, default=_json_default)


def _json_default(v: Any) -> Any:
    # torch.dtype and similar values a PretrainedConfig may hold
    return str(v)


def _run(command: List[str], model: Optional[_Model] = None, **options: Any) -> Dict[str, Any]:
    config_name = config_text = None
    argv = list(command)
    if model is not None:
        config_name, config_text = _model(model)
        argv.append(config_name)
        if config_text is None:
            config_name = None
    argv += _flags(options)
    ok, text, usage = _sizeup.run_json(argv, config_name, config_text)
    if not ok:
        raise SizeupError(text, usage=usage)
    return json.loads(text)


def run(*args: str) -> Dict[str, Any]:
    """Run any command line (``sizeup.run("validate")``) and return its JSON as a ``dict``."""
    return _run(list(args))


# --- the commands -------------------------------------------------------------------


def params(model: _Model, **options: Any) -> ParamsReport:
    """Exact parameter count and where the parameters sit (``sizeup params``).

    >>> sizeup.params("llama-3.1-8b").params_total
    8030261248
    """
    return ParamsReport(_run(["params"], model, **options))


def kv(model: _Model, **options: Any) -> KvReport:
    """KV cache per token, per sequence, per batch and per GPU (``sizeup kv``).

    Options as ``sizeup kv --help``: ``seq_len``, ``batch``, ``kv_dtype``, ``tp``, …
    """
    return KvReport(_run(["kv"], model, **options))


def infer(model: _Model, **options: Any) -> InferReport:
    """Serving: memory per GPU, prefill and decode speed, concurrency and cost (``sizeup infer``).

    Options as ``sizeup infer --help``: ``gpu``, ``tp``, ``weights``, ``context``,
    ``batch``, ``engine``, ``rate``, …
    """
    return InferReport(_run(["infer"], model, **options))


def train(model: _Model, **options: Any) -> TrainReport:
    """Training: memory per GPU, FLOPs, step time, MFU, wall time and cost (``sizeup train``).

    Options as ``sizeup train --help``: ``gpus``, ``tp``, ``pp``, ``zero``,
    ``seq_len``, ``micro_batch``, ``tokens``, ``lora_rank``, …
    """
    return TrainReport(_run(["train"], model, **options))


def card(model: _Model, **options: Any) -> CardReport:
    """The evidence card: params, training cost, inference cost, bottleneck, decision (``sizeup card``)."""
    return CardReport(_run(["card"], model, **options))


def sweep(model: _Model, vary: Any, **options: Any) -> SweepReport:
    """Vary one or two inputs of an estimate (``sizeup sweep``).

    ``vary`` is ``"NAME=SPEC"``, a list of them (a grid), or a dict
    ``{"seq_len": "4k..128k*2"}``. ``mode="train"`` sweeps training; ``chart="x.svg"``
    also writes the CLI's chart. ``.to_pandas()`` gives one row per point.
    """
    if isinstance(vary, str):
        vary = [vary]
    return SweepReport(_run(["sweep"], model, vary=vary, **options))


def models(**options: Any) -> ModelsReport:
    """The embedded model catalog (``sizeup models``)."""
    return ModelsReport(_run(["models"], **options))


def gpus(**options: Any) -> GpusReport:
    """The accelerator catalog, every figure with its source (``sizeup gpus``)."""
    return GpusReport(_run(["gpus"], **options))


def plan(model: _Model, target: str = "train", **options: Any) -> PlanReport:
    """Search every configuration of a job and rank those that fit (``sizeup plan TARGET``).

    ``target`` is the job, ``"train"`` or ``"serve"``; options as ``sizeup plan TARGET --help``.
    Training: ``gpus="64..1024"`` and ``global_batch=512`` (required), ``gpu=["H100-SXM", "H200"]``,
    ``by="cost"``, … Serving: ``rate=20`` (or ``users=64``), ``prompt``, ``output``, ``ttft``
    and ``tpot`` (seconds) required, ``percentile=95``, ``gpu=[…]``, ``gpus="1..64"``, …

    >>> best = sizeup.plan("llama-3.1-8b", gpus=8, global_batch=512)
    >>> cheapest = sizeup.plan("llama-3.1-8b", "serve", rate=20, prompt=2000, output=500, ttft=1, tpot=0.05)
    """
    return PlanReport(_run(["plan", target], model, **options))
