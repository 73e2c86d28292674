"""The base of every result class: read-only attribute access over a response.

The classes themselves (``sizeup.results``) are generated from the responses'
JSON Schemas (``tools/gen_stubs.py``); each names its fields and, for a field
that holds objects, the class to read them as. A field the schema marks as
optional reads ``None`` when the response leaves it out.
"""

from __future__ import annotations

from typing import Any, ClassVar, Dict, Iterator, KeysView, List, Mapping, Optional, Tuple, Type

# How a field's value is read: None (as is), a class name, or ("list" | "map" |
# "union", inner) where a union's inner is a tuple of class names tried in turn.
Spec = Any

_classes: "Dict[str, Type[Result]]" = {}


def register(namespace: Mapping[str, Any]) -> None:
    """Make the result classes of ``namespace`` the ones specs name."""
    for name, value in namespace.items():
        if isinstance(value, type) and issubclass(value, Result):
            _classes[name] = value


def wrap(value: Any, spec: Spec) -> Any:
    """``value`` read as ``spec`` says."""
    if spec is None or value is None:
        return value
    if isinstance(spec, str):
        return _classes[spec](value) if isinstance(value, dict) else value
    kind, inner = spec
    if kind == "list":
        return [wrap(v, inner) for v in value]
    if kind == "map":
        return {k: wrap(v, inner) for k, v in value.items()}
    # "union": the first variant whose tags and required fields the object has
    if isinstance(value, dict):
        for name in inner:
            cls = _classes[name]
            if cls._matches(value):
                return cls(value)
    return value


class Result:
    """A response or a part of one: fields as attributes (``r.estimate.memory``)
    or items (``r["estimate"]``); ``to_dict()`` is the CLI's ``--format json``."""

    __slots__ = ("_data",)
    _data: Dict[str, Any]
    _fields: ClassVar[Dict[str, Spec]] = {}
    # a variant of a union: the constant fields that tell it apart, and the
    # fields it always has
    _tags: ClassVar[Dict[str, Any]] = {}
    _required: ClassVar[Tuple[str, ...]] = ()

    def __init__(self, data: Dict[str, Any]) -> None:
        object.__setattr__(self, "_data", data)

    @classmethod
    def _matches(cls, data: Mapping[str, Any]) -> bool:
        return all(data.get(k) == v for k, v in cls._tags.items()) and all(k in data for k in cls._required)

    def __getattr__(self, name: str) -> Any:
        try:
            value = self._data[name]
        except KeyError:
            if name in self._fields:
                return None  # an optional field the response left out
            raise AttributeError(
                f"{type(self).__name__} has no field `{name}` (fields: {', '.join(self._data)})"
            ) from None
        return wrap(value, self._fields.get(name))

    def __getitem__(self, key: str) -> Any:
        return wrap(self._data[key], self._fields.get(key))

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("sizeup results are read-only; use .to_dict() for a copy")

    def __dir__(self) -> List[str]:
        return sorted(set(self._data) | set(super().__dir__()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Result):
            return type(self) is type(other) and self._data == other._data
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        text = repr(self._data)
        return f"{type(self).__name__}({text[:300]}{'…' if len(text) > 300 else ''})"

    def keys(self) -> KeysView[str]:
        """The field names the response holds."""
        return self._data.keys()

    def to_dict(self) -> Dict[str, Any]:
        """A copy of the data: equal to the CLI's ``--format json`` output."""
        import json

        copy: Dict[str, Any] = json.loads(json.dumps(self._data))
        return copy

    def to_json(self, indent: Optional[int] = 2) -> str:
        """The data as JSON text, as ``sizeup … --format json`` prints it."""
        import json

        return json.dumps(self._data, indent=indent, ensure_ascii=False)


class SweepFrame:
    """Tables of a sweep's points: ``rows()`` and ``to_pandas()``."""

    __slots__ = ()
    _data: Dict[str, Any]

    def rows(self) -> List[Dict[str, Any]]:
        """One flat ``dict`` per point: the varied inputs, then the estimate's
        fields with nested objects joined by ``.`` (``memory.kv_cache_bytes``);
        a point the estimate refused has its message under ``error``."""
        mode = self._data.get("mode", "serve")
        out = []
        for point in self._data["points"]:
            row: Dict[str, Any] = dict(point.get("values", {}))
            estimate = point.get(mode)
            if estimate is None:
                estimate = {k: v for k, v in point.items() if k != "values"}
            _flatten(estimate, "", row)
            out.append(row)
        return out

    def to_pandas(self) -> Any:
        """The points as a ``pandas.DataFrame``, one row per point, columns as
        :meth:`rows` names them (needs pandas: ``pip install "sizeup[pandas]"``)."""
        try:
            import pandas  # type: ignore[import-untyped,unused-ignore]
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError('SweepResponse.to_pandas() needs pandas: pip install "sizeup[pandas]"') from e
        return pandas.DataFrame(self.rows())

    to_dataframe = to_pandas


def _flatten(value: Any, prefix: str, into: Dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _flatten(v, f"{prefix}{k}.", into)
    else:
        into[prefix[:-1]] = value
