"""sizeup: what a transformer language model costs before you train or serve it.

Each function runs one command of sizeup's Rust library in-process: its keyword
arguments are the command's request fields, named as the CLI's flags without the
dashes (``seq_len=4096`` is ``--seq-len 4096``), read through the same flag
definitions as the command line, so every check, default and conflict rule is the
CLI's. The answer is a typed result object (``sizeup.results``) over exactly the
data ``sizeup COMMAND --format json`` prints: ``.to_dict()`` is that JSON.

>>> import sizeup
>>> sizeup.params("llama-3.1-8b").params_total
8030261248
>>> sizeup.infer("llama-3.1-8b", context=8192).estimate.memory.kv_cache_bytes
1073741824

A model is a catalog name (``sizeup.models()``), a path to a ``config.json``, a
checkpoint folder or a ``.gguf`` file, ``"hf:ORG/NAME"``, a ``config.json`` as a
``dict``, or a ``transformers`` ``PretrainedConfig``. Keyword values: numbers as
numbers or as the flags write them (``"32k"``, ``"15.6T"``), ``True``/``False`` for
switches, ``None`` to leave a field out, a list for a flag given several times
(``lora_targets=["q", "v"]``); ``as_`` is ``--as``.

Bad input raises :class:`SizeupError` (a ``ValueError``) with the CLI's message.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from . import _sizeup
from .results import (
    CardResponse,
    GpusResponse,
    InferResponse,
    KvResponse,
    ModelsResponse,
    ParamsResponse,
    PlanServeResponse,
    PlanTrainResponse,
    SweepResponse,
    TrainResponse,
)

__version__: str = _sizeup.__version__

__all__ = [
    "SizeupError",
    "params",
    "kv",
    "infer",
    "train",
    "card",
    "plan",
    "sweep",
    "models",
    "gpus",
    "ParamsResponse",
    "KvResponse",
    "InferResponse",
    "TrainResponse",
    "CardResponse",
    "PlanTrainResponse",
    "PlanServeResponse",
    "SweepResponse",
    "ModelsResponse",
    "GpusResponse",
    "__version__",
]

# A catalog name, a path, "hf:ORG/NAME", a config.json as a dict, or a
# transformers PretrainedConfig (anything with .to_dict()).
Model = Any


class SizeupError(ValueError):
    """Bad input or a failed estimate, with the message the CLI prints.

    ``str(err)`` and ``err.message`` are the whole text (``error: …``, the
    ``Caused by:`` chain, the ``hint:`` lines); ``err.error`` is the headline
    without ``error:``, ``err.field`` the keyword argument at fault (``"tp"``) when
    one is, ``err.causes`` the chain and ``err.hints`` what to do.
    """

    def __init__(
        self,
        message: str,
        error: Optional[str] = None,
        field: Optional[str] = None,
        causes: Sequence[str] = (),
        hints: Sequence[str] = (),
    ) -> None:
        self.message: str = message.rstrip("\n")
        self.error: str = error if error is not None else self.message.split("\n", 1)[0].removeprefix("error: ")
        self.field: Optional[str] = field
        self.causes: List[str] = list(causes)
        self.hints: List[str] = list(hints)
        super().__init__(self.message)


def _fields(model: Optional[Model], options: Mapping[str, Any]) -> Dict[str, Any]:
    """The request fields: the keyword arguments (``as_`` is ``as``) and the model."""
    fields = {name[:-1] if name.endswith("_") else name: value for name, value in options.items()}
    if model is None:
        return fields
    if isinstance(model, (str, os.PathLike)):
        fields["model"] = model
        return fields
    config = model
    if not isinstance(config, Mapping) and callable(getattr(config, "to_dict", None)):
        config = config.to_dict()  # a transformers PretrainedConfig
    if not isinstance(config, Mapping):
        raise SizeupError(
            f"error: `model` is a catalog name, a path, `hf:ORG/NAME`, a dict or a PretrainedConfig, "
            f"not a `{type(model).__name__}`",
            field="model",
        )
    # the name the report shows, as the CLI shows a config.json's folder
    name = config.get("_name_or_path") or config.get("name_or_path")
    if name:
        fields["model"] = str(name)
    fields["config"] = dict(config)
    return fields


def _call(command: str, model: Optional[Model], options: Mapping[str, Any]) -> Dict[str, Any]:
    ok, answer = _sizeup.estimate(command, _fields(model, options))
    if not ok:
        raise SizeupError(**answer)
    return answer


def params(model: Model, **options: Any) -> ParamsResponse:
    """The exact parameter count and where the parameters sit (``sizeup params``).

    Counts every tensor of the architecture as transformers builds it: total and
    active per token (MoE), by component (``breakdown``), plus the checkpoint's own
    count when the model is a folder or file with weights.

    Args:
        model: a catalog name, a path, ``"hf:ORG/NAME"``, a config dict or a
            ``PretrainedConfig``.
        as_: read the config as this ``model_type`` (``"llama"``).

    Example:
        >>> r = sizeup.params("llama-3.1-8b")
        >>> r.params_total, r.params_active, r.breakdown.attention
        (8030261248, 8030261248, 1342177280)
    """
    return ParamsResponse(_call("params", model, options))


def kv(model: Model, **options: Any) -> KvResponse:
    """The KV cache (and recurrent state) in bytes, per token, per sequence, per
    batch and per GPU (``sizeup kv``).

    Args:
        model: as for :func:`params`.
        seq_len: tokens per sequence (default 4096; ``"32k"`` works).
        batch: sequences held at once (default 1).
        kv_dtype: cache precision: ``"fp16"``, ``"bf16"``, ``"fp8"``, ``"int8"``,
            ``"q8_0"``, ``"q4_0"``.
        tp: tensor-parallel ranks the KV heads are split over.
        block_size: tokens per page of a paged cache (vLLM: 16).

    Example:
        >>> sizeup.kv("llama-3.1-8b", seq_len=8192, batch=4).bytes_total
        4294967296
    """
    return KvResponse(_call("kv", model, options))


def infer(model: Model, **options: Any) -> InferResponse:
    """Serving: memory per GPU in bytes, prefill and decode time in seconds,
    tokens per second, concurrency and cost in USD (``sizeup infer``).

    Args:
        model: as for :func:`params`.
        gpu: the accelerator (``sizeup.gpus()``; default ``"H100-SXM"``).
        tp: tensor-parallel GPUs per replica; ``gpus``: GPUs in all.
        weights: weight format (``"bf16"``, ``"fp8"``, ``"awq-int4-g128"``, ``"Q4_K_M"``…).
        context: tokens per request the KV cache is sized for; ``prompt`` and
            ``output``: tokens per request.
        batch / concurrency: requests decoded together.
        engine: ``"vllm"``, ``"sglang"``, ``"llama.cpp"``, ``"trt-llm"``…
        price: USD per GPU-hour (default: the catalog's).
        rate: requests per second, to simulate serving under load.

    Example:
        >>> e = sizeup.infer("llama-3.1-70b", gpu="H100-SXM", tp=4, weights="fp8").estimate
        >>> e.fits, e.memory.weights_bytes, e.decode.bound
        (True, 18166071856, 'memory_bandwidth')
    """
    return InferResponse(_call("infer", model, options))


def train(model: Model, **options: Any) -> TrainResponse:
    """Training: memory per GPU in bytes, FLOPs, step time in seconds, MFU, wall
    time and cost in USD (``sizeup train``).

    Args:
        model: as for :func:`params`.
        gpu, gpus: the accelerator and how many.
        tp, pp, cp, ep, dp: parallel sizes; ``zero``: ZeRO stage 0-3; ``fsdp``.
        seq_len: tokens per sequence; ``micro_batch``, ``global_batch``: sequences.
        tokens: training tokens (``"1T"``); ``recompute``: ``"none"``,
            ``"selective"``, ``"full"``.
        method: ``"full"``, ``"lora"``, ``"qlora"``; ``lora_rank``,
            ``lora_targets=["q", "v"]``.
        max_seq_len: search the longest sequence that fits.

    Example:
        >>> e = sizeup.train("llama-3.1-8b", gpus=8, zero=3, seq_len=8192).estimate
        >>> e.fits, e.memory.weights_bytes  # ZeRO-3: 2 bytes × 8,030,261,248 / 8 GPUs
        (True, 2007565312)
    """
    return TrainResponse(_call("train", model, options))


def card(model: Model, **options: Any) -> CardResponse:
    """The evidence card: parameters, training and serving cost, the bottleneck and
    what would change the decision (``sizeup card``).

    Args:
        model: as for :func:`params`.
        workload: ``"chat"``, ``"batch"``, ``"rag"``, ``"train"``, ``"finetune"``.
        gpu, tp, weights, context, ttft_target (seconds), tpot_target_ms: serving.
        train_gpu, train_gpus, tokens, method: training.

    Example:
        >>> c = sizeup.card("llama-3.1-8b", workload="chat").card
        >>> c.params.total, c.bottleneck.kind
        (8030261248, 'throughput')
    """
    return CardResponse(_call("card", model, options))


# The jobs `plan` searches, by target: the command and its response class.
_PLANS = {
    "train": ("plan train", PlanTrainResponse),
    "serve": ("plan serve", PlanServeResponse),
}


def plan(
    model: Model, target: str = "train", **options: Any
) -> Union[PlanTrainResponse, PlanServeResponse]:
    """Search every configuration of a job and rank those that fit (``sizeup plan
    TARGET``): for ``"train"``, every layout (tp, pp, cp, ep, dp, micro-batch,
    recompute, ZeRO) on each GPU count and accelerator, ranked by wall time or cost;
    for ``"serve"``, the cheapest setups (GPU, tp, replicas, weight and KV formats,
    engine caps) that carry a load within latency targets, confirmed by simulation.

    Args:
        model: as for :func:`params`.
        target: the job: ``"train"`` or ``"serve"``.
        gpus: GPU counts to try (``8``, ``"8,16"``, ``"64..512"``); required to train.
        global_batch: sequences per optimizer step; required to train.
        rate, users: the load to serve (requests/s, or users with one request each).
        prompt, output: tokens per request; ``ttft``, ``tpot``: targets in seconds.
        gpu: accelerators to try (``["H100-SXM", "H200-SXM"]``).
        by: ``"time"`` or ``"cost"`` (train), ``"cost"`` or ``"throughput"`` (serve);
            ``top``: rows kept.

    Example:
        >>> p = sizeup.plan("llama-3.1-8b", gpus="8,16", global_batch=512, by="cost", top=3)
        >>> [row.rank for row in p.rows], p.rows[0].estimate.fits
        ([1, 2, 3], True)
    """
    if target not in _PLANS:
        raise SizeupError(
            f"error: `target` = `{target}` is not a job `plan` searches\n\nhint: use one of: {', '.join(_PLANS)}",
            field="target",
            hints=[f"use one of: {', '.join(_PLANS)}"],
        )
    command, response = _PLANS[target]
    return response(_call(command, model, options))


def sweep(
    model: Model,
    vary: Union[str, Sequence[str], Mapping[str, Union[str, int, float]]],
    **options: Any,
) -> SweepResponse:
    """One estimate per point of one or two varied inputs (``sizeup sweep``);
    ``.to_pandas()`` gives a DataFrame, one row per point.

    Args:
        model: as for :func:`params`.
        vary: ``"NAME=START..END[:STEP|*FACTOR]"`` or ``"NAME=V1,V2"`` (k = 1024),
            a list of two for a grid, or a dict ``{"seq_len": "4k..128k*2"}``.
        mode: ``"serve"`` (as :func:`infer`, whose keyword arguments apply) or
            ``"train"`` (as :func:`train`).
        chart: also write the CLI's chart to this ``.svg`` or ``.png`` file.

    Example:
        >>> df = sizeup.sweep("llama-3.1-8b", vary="seq_len=4k..32k*2").to_pandas()
        >>> list(df["memory.kv_cache_bytes"])
        [536870912, 1073741824, 2147483648, 4294967296]
    """
    if isinstance(vary, str):
        vary = [vary]
    elif isinstance(vary, Mapping):
        vary = [f"{name}={spec}" for name, spec in vary.items()]
    return SweepResponse(_call("sweep", model, {**options, "vary": list(vary)}))


def models(**options: Any) -> ModelsResponse:
    """The embedded model catalog (``sizeup models``): each model's name, family,
    parameters and source.

    Args:
        filter: keep the names that contain this text.

    Example:
        >>> [m.name for m in sizeup.models(filter="llama-3.1").models]
        ['llama-3.1-405b', 'llama-3.1-70b', 'llama-3.1-8b']
    """
    return ModelsResponse(_call("models", None, options))


def gpus(**options: Any) -> GpusResponse:
    """The accelerator catalog (``sizeup gpus``): memory in bytes, bandwidth in
    bytes/s, peak FLOP/s per precision, price per hour, every figure with its source.

    Args:
        filter: keep the accelerators whose name contains this text.
        gpu_file: a TOML file of more accelerators.

    Example:
        >>> sizeup.gpus(filter="H100-SXM").accelerators[0].memory_bytes
        85899345920
    """
    return GpusResponse(_call("gpus", None, options))
