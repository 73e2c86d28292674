"""Type stubs for sizeup: the functions take the CLI's flags as keyword arguments."""

import os
from typing import Any, Dict, Iterator, KeysView, List, Mapping, Optional, Sequence, Union

__version__: str

# A catalog name, a path (config.json, checkpoint folder, .gguf), "hf:ORG/NAME",
# a config.json as a dict, or a transformers PretrainedConfig (anything with .to_dict()).
Model = Union[str, "os.PathLike[str]", Mapping[str, Any], Any]
# A flag's value: a bare flag for True, left out for False/None, repeated for a list.
Option = Union[str, int, float, bool, None, Sequence[Union[str, int, float]], Mapping[str, Union[str, int, float]]]

class SizeupError(ValueError):
    """A command line sizeup refused or a command that failed, with the CLI's message."""

    message: str
    """The whole message as the CLI prints it (`error: …`, `Caused by:`, `hint:` lines)."""
    hints: List[str]
    """The `hint:` lines' text."""
    usage: bool
    """True when the command line itself was refused."""
    def __init__(self, message: str, usage: bool = ...) -> None: ...

class Report:
    """A command's report; fields as attributes or items, `to_dict()` is the CLI's JSON."""

    def __getattr__(self, name: str) -> Any: ...
    def __getitem__(self, key: str) -> Any: ...
    def __contains__(self, key: object) -> bool: ...
    def __iter__(self) -> Iterator[str]: ...
    def keys(self) -> KeysView[str]: ...
    def to_dict(self) -> Dict[str, Any]: ...
    def to_json(self, indent: Optional[int] = ...) -> str: ...

class ParamsReport(Report):
    model: Any
    params_total: int
    params_active: int
    breakdown: Any
    assumptions: List[Any]

class KvReport(Report):
    model: Any
    assumptions: List[Any]

class InferReport(Report):
    model: Any
    estimate: Any
    model_assumptions: List[Any]

class TrainReport(Report):
    model: Any
    model_assumptions: List[Any]

class CardReport(Report):
    model: Any

class ModelsReport(Report):
    models: List[Any]

class GpusReport(Report):
    accelerators: List[Any]

class PlanReport(Report): ...

class SweepReport(Report):
    model: Any
    mode: str
    axes: List[Any]
    points: List[Any]
    assumptions: List[Any]
    def rows(self) -> List[Dict[str, Any]]: ...
    def to_pandas(self) -> Any: ...
    def to_dataframe(self) -> Any: ...

def params(model: Model, **options: Option) -> ParamsReport: ...
def kv(model: Model, **options: Option) -> KvReport: ...
def infer(model: Model, **options: Option) -> InferReport: ...
def train(model: Model, **options: Option) -> TrainReport: ...
def card(model: Model, **options: Option) -> CardReport: ...
def sweep(
    model: Model,
    vary: Union[str, Sequence[str], Mapping[str, Union[str, int, float]]],
    **options: Option,
) -> SweepReport: ...
def models(**options: Option) -> ModelsReport: ...
def gpus(**options: Option) -> GpusReport: ...
def run(*args: str) -> Dict[str, Any]: ...
def plan(model: Model, target: str = ..., **options: Option) -> PlanReport: ...
