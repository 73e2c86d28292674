"""Type stubs for sizeup: keyword arguments are the CLI's flags without the dashes;
results are typed field by field in `sizeup.results` (generated from the schemas)."""

import os
from typing import Any, List, Mapping, Optional, Sequence, Union

from . import results as results
from .results import (
    CardResponse as CardResponse,
    GpusResponse as GpusResponse,
    InferResponse as InferResponse,
    KvResponse as KvResponse,
    ModelsResponse as ModelsResponse,
    ParamsResponse as ParamsResponse,
    PlanServeResponse as PlanServeResponse,
    PlanTrainResponse as PlanTrainResponse,
    SweepResponse as SweepResponse,
    TrainResponse as TrainResponse,
)

__version__: str

# A catalog name, a path (config.json, checkpoint folder, .gguf), "hf:ORG/NAME",
# a config.json as a dict, or a transformers PretrainedConfig (anything with .to_dict()).
Model = Union[str, "os.PathLike[str]", Mapping[str, Any], Any]
# A field's value: numbers also as the flags write them ("32k"), True/False for a
# switch, None to leave it out, a list for a flag given once per item.
Option = Union[str, int, float, bool, None, "os.PathLike[str]", Sequence[Union[str, int, float]]]

class SizeupError(ValueError):
    """Bad input or a failed estimate, with the message the CLI prints."""

    message: str
    """The whole message as the CLI prints it (`error: …`, `Caused by:`, `hint:` lines)."""
    error: str
    """The headline, without `error: `."""
    field: Optional[str]
    """The keyword argument at fault (`"tp"`), when one is."""
    causes: List[str]
    """The `Caused by:` chain."""
    hints: List[str]
    """What to do: the `hint:` lines' text."""
    def __init__(
        self,
        message: str,
        error: Optional[str] = ...,
        field: Optional[str] = ...,
        causes: Sequence[str] = ...,
        hints: Sequence[str] = ...,
    ) -> None: ...

def params(model: Model, **options: Option) -> ParamsResponse:
    """The exact parameter count and where the parameters sit (`sizeup params`)."""

def kv(model: Model, **options: Option) -> KvResponse:
    """The KV cache in bytes per token, sequence, batch and GPU (`sizeup kv`)."""

def infer(model: Model, **options: Option) -> InferResponse:
    """Serving memory, speed, concurrency and cost (`sizeup infer`)."""

def train(model: Model, **options: Option) -> TrainResponse:
    """Training memory, FLOPs, step time, MFU, wall time and cost (`sizeup train`)."""

def card(model: Model, **options: Option) -> CardResponse:
    """The evidence card (`sizeup card`)."""

def plan(
    model: Model, target: str = ..., **options: Option
) -> Union[PlanTrainResponse, PlanServeResponse]:
    """Every configuration of a job that fits, ranked (`sizeup plan TARGET`)."""

def sweep(
    model: Model,
    vary: Union[str, Sequence[str], Mapping[str, Union[str, int, float]]],
    **options: Option,
) -> SweepResponse:
    """One estimate per point of one or two varied inputs (`sizeup sweep`)."""

def models(**options: Option) -> ModelsResponse:
    """The embedded model catalog (`sizeup models`)."""

def gpus(**options: Option) -> GpusResponse:
    """The accelerator catalog (`sizeup gpus`)."""
