"""A model base: plain dataclasses with the few pydantic-style methods ecsrun's models use.

The records, runs, tasks, verdicts and log checkpoints cross JSON edges (events, the run record in DynamoDB,
checkpoints in S3, the state machine's payloads) and are built in code. pydantic did that at ~65 ms of every
cold start (its import and its schema building); these shapes need far less: build a model from a mapping,
converting nested models, enums, lists and dicts by the field's type and refusing what does not fit; dump one
back to JSON-ready data; copy one with changes. Standard library only (dataclasses, typing, enum, json, decimal:
boto3 has imported them already).

    class Container(Model):
        name: str
        exitCode: int | None = None

Subclasses are dataclasses with keyword-only fields; unknown keys in the data are ignored, as they were.
`_prepare(data)` (a classmethod) may rewrite the data before the fields are read.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import json
import types
import typing
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar, Self, dataclass_transform


class ModelError(ValueError):
    """Data that does not fit a model: says where (Model.field[index]) and what was expected."""


@dataclasses.dataclass(frozen=True)
class FieldInfo:
    """A field as `Model.model_fields` describes it: its type, its default, the name it is read under."""

    annotation: Any
    default: Any
    alias: str | None = None


class _Fields:
    """`model_fields` on a class: each field's FieldInfo, by name (pydantic's class attribute of the same name).
    Works on any dataclass: a field's `alias` is read from its metadata."""

    def __get__(self, instance: Any, owner: type[Any]) -> Any:
        if not dataclasses.is_dataclass(owner):  # while @dataclass reads the class's attributes
            return self
        hints = typing.get_type_hints(owner)
        return {
            f.name: FieldInfo(
                annotation=hints[f.name],
                default=None if f.default is dataclasses.MISSING else f.default,
                alias=f.metadata.get("alias"),
            )
            for f in dataclasses.fields(owner)
        }


def model_fields_of() -> Any:
    """A `model_fields` class attribute for a plain dataclass (Settings)."""
    return _Fields()


@dataclass_transform(kw_only_default=True, field_specifiers=(dataclasses.field,))
class Model:
    _hints: ClassVar[dict[str, Any] | None] = None
    model_fields: ClassVar[Any] = _Fields()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._hints = None
        # Only __init__ is generated per class (dataclasses exec each method they make: a cold start's time);
        # __eq__ and __repr__ are Model's own, for every model.
        dataclasses.dataclass(kw_only=True, eq=False, repr=False)(cls)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, f.name) == getattr(other, f.name) for f in dataclasses.fields(self))  # type: ignore[arg-type]

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value: unhashable, as dataclasses make them

    def __repr__(self) -> str:
        fields = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self))  # type: ignore[arg-type]
        return f"{self.__class__.__name__}({fields})"

    @classmethod
    def _prepare(cls, data: dict[str, Any]) -> dict[str, Any]:
        return data

    @classmethod
    def _fields(cls) -> dict[str, Any]:
        if cls.__dict__.get("_hints") is None:  # resolved once per class, at first use (not at import)
            hints = typing.get_type_hints(cls)
            cls._hints = {f.name: hints[f.name] for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return cls._hints  # type: ignore[return-value]

    @classmethod
    def model_validate(cls, data: Any) -> Self:
        """The model from a mapping (or the model itself); ModelError when the data does not fit."""
        return cls._validate(data, cls.__name__)

    @classmethod
    def _validate(cls, data: Any, where: str) -> Self:
        if isinstance(data, cls):
            return data
        if not isinstance(data, Mapping):
            raise ModelError(f"{where}: expected an object, got {type(data).__name__}")
        data = cls._prepare(dict(data))
        values = {}
        for name, hint in cls._fields().items():
            if name in data:
                values[name] = _convert(hint, data[name], f"{where}.{name}")
        try:
            return cls(**values)
        except TypeError as exc:  # a required field is missing
            raise ModelError(f"{where}: {exc}") from None

    @classmethod
    def model_validate_json(cls, text: str | bytes) -> Self:
        return cls.model_validate(json.loads(text))

    def model_dump(
        self, *, mode: str = "python", exclude_none: bool = False, exclude: set[str] | None = None
    ) -> dict[str, Any]:
        """The fields (but those named in `exclude`) as plain data: nested models as dicts, enums as their values
        (in both modes: they are StrEnums, so the JSON is the same)."""
        dumped = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if not (exclude_none and value is None) and f.name not in (exclude or ()):
                dumped[f.name] = _dump(value, exclude_none)
        return dumped

    def model_dump_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), separators=(",", ":"))

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with `update`'s fields replaced (not converted, as pydantic's model_copy did not either)."""
        made = copy.deepcopy(self) if deep else copy.copy(self)
        for name, value in (update or {}).items():
            setattr(made, name, value)
        return made


def _dump(value: Any, exclude_none: bool) -> Any:
    if isinstance(value, Model):
        return value.model_dump(exclude_none=exclude_none)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [_dump(item, exclude_none) for item in value]
    if isinstance(value, dict):
        return {key: _dump(item, exclude_none) for key, item in value.items()}
    return value


def _convert(hint: Any, value: Any, where: str) -> Any:
    """`value` as `hint` says it must be: Any, None, str, int, float, bool, an Enum, a Model, list[...],
    dict[str, ...], or a union of those."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return value
    if origin is typing.Union or origin is types.UnionType:
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(option, value, where)
            except ModelError as exc:
                errors.append(str(exc))
        raise ModelError("; ".join(errors))
    if origin is list:
        if not isinstance(value, list | tuple):
            raise ModelError(f"{where}: expected a list, got {type(value).__name__}")
        (item,) = typing.get_args(hint) or (Any,)
        return [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ModelError(f"{where}: expected an object, got {type(value).__name__}")
        _, item = typing.get_args(hint) or (str, Any)
        return {k: _convert(item, v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(hint, type):
        if issubclass(hint, Model):
            return hint._validate(value, where)
        if issubclass(hint, enum.Enum):
            try:
                return hint(value)
            except ValueError:
                raise ModelError(f"{where}: {value!r} is not one of {[m.value for m in hint]}") from None
        if hint is bool:
            if isinstance(value, bool):
                return value
        elif hint is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
                return int(value)  # DynamoDB's numbers
        elif hint is float:
            if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
                return float(value)
        elif hint is str:
            if isinstance(value, str):
                return value
        else:
            return value
        raise ModelError(f"{where}: expected {hint.__name__}, got {type(value).__name__} {value!r:.60}")
    return value
