"""Check a value against an AWS API shape from botocore's service model: ECS's own definition of each field.

Types are strict, as the API defines them ("60" is not an integer, "yes" is not a boolean, 5 is not a string);
enums, lengths, ranges and required members come from the model, so they follow ECS rather than a copy of it.
Patterns written for Java's regex dialect (\\p{L} and friends) are checked by character class.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

# The one pattern RunTask uses (tag keys and values): letters, spaces, numbers and _ . : / = + - @
_TAG_PATTERN = "([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)"
_TAG_PUNCTUATION = frozenset("_.:/=+-@")


@lru_cache(maxsize=8)
def operation_input(service: str, operation: str) -> Any:
    """The input shape of an operation, from the botocore model that ships with the SDK (loaded once).

    Only botocore's data loader and model classes: no session, no client, nothing that reaches AWS."""
    from botocore.loaders import create_loader
    from botocore.model import ServiceModel

    loader = create_loader()
    model = ServiceModel(loader.load_service_model(service, "service-2"), service_name=service)
    return model.operation_model(operation).input_shape


def _tag_text_ok(text: str) -> bool:
    return all(ch in _TAG_PUNCTUATION or unicodedata.category(ch)[0] in "LZN" for ch in text)


def _type_name(value: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "object"}.get(
        type(value), type(value).__name__
    )


def _quote(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _join(path: str, member: str) -> str:
    return f"{path}.{member}" if path else member


def _unknown(name: str, known: list[str]) -> str:
    lowered = {k.lower(): k for k in known}
    if name.lower() in lowered:
        close = [lowered[name.lower()]]
    else:  # an unknown field: only then is difflib worth its import (~2 ms of a cold start)
        import difflib

        close = difflib.get_close_matches(name, known, 1, 0.7)
    return (
        f"unknown field; did you mean {close[0]!r}?" if close else f"unknown field; expected one of {', '.join(known)}"
    )


HIDDEN = "(value hidden: the API marks this field, or one within it, sensitive)"


def holds_secret(shape: Any, _seen: frozenset[str] = frozenset()) -> bool:
    """Whether the model marks `shape` or anything beneath it sensitive: a value of it is never quoted, since a
    malformed one (an override given as a list, `containerOverrides` as an object) may hold the secret anywhere."""
    key = f"{getattr(shape, 'name', '')}:{shape.type_name}"
    if key in _SECRET_SHAPES:
        return _SECRET_SHAPES[key]
    if shape.metadata.get("sensitive"):
        found = True
    elif key in _seen:  # a recursive shape: what is beneath it is being looked at already
        return False
    elif shape.type_name == "structure":
        found = any(holds_secret(member, _seen | {key}) for member in shape.members.values())
    elif shape.type_name == "list":
        found = holds_secret(shape.member, _seen | {key})
    elif shape.type_name == "map":
        found = holds_secret(shape.key, _seen | {key}) or holds_secret(shape.value, _seen | {key})
    else:
        found = False
    _SECRET_SHAPES[key] = found
    return found


_SECRET_SHAPES: dict[str, bool] = {}


def check(
    shape: Any,
    value: Any,
    path: str = "",
    *,
    also_known: frozenset[str] = frozenset(),
    not_offered: frozenset[str] = frozenset(),
    reveal: bool = False,
    _secret: bool = False,
) -> Iterator[tuple[str, str]]:
    """Every (field path, message) for what is wrong with `value` as `shape`. `also_known` names top-level
    fields checked elsewhere, offered as suggestions for a misspelt one; `not_offered` names top-level fields
    never suggested nor listed (those the caller sets itself). Values under a member the model marks
    `sensitive` (container environment variables) are never quoted in a message unless `reveal` is set."""
    kind = shape.type_name
    meta = shape.metadata
    secret = _secret or (bool(meta.get("sensitive")) and not reveal)
    hidden = secret or (not reveal and holds_secret(shape))

    def _show(item: Any) -> str:
        return HIDDEN if hidden else _quote(item)

    if value is None:
        yield path or "(request)", "must not be null; leave the field out instead"
    elif kind == "structure":
        if not isinstance(value, dict):
            yield path or "(request)", f"must be an object; got {_type_name(value)} {_show(value)}"
            return
        for name in shape.required_members:
            if name not in value:
                yield _join(path, name), "required field is missing"
        for name, item in value.items():
            member = shape.members.get(name)
            if member is None:
                known = sorted((set(shape.members) | also_known) - not_offered)
                taken = [n for n in not_offered if n.lower() == str(name).lower()]
                if taken:
                    yield _join(path, str(name)), f"unknown field; {taken[0]!r} is set by ecsrun itself: leave it out"
                else:
                    yield _join(path, str(name)), _unknown(str(name), known)
            else:
                yield from check(member, item, _join(path, name), reveal=reveal, _secret=secret)
    elif kind == "list":
        if not isinstance(value, list):
            yield path, f"must be a list; got {_type_name(value)} {_show(value)}"
            return
        if "min" in meta and len(value) < meta["min"]:
            yield path, f"must have at least {meta['min']} items; got {len(value)}"
        if "max" in meta and len(value) > meta["max"]:
            yield path, f"must have at most {meta['max']} items; got {len(value)}"
        for index, item in enumerate(value):
            yield from check(shape.member, item, f"{path}[{index}]", reveal=reveal, _secret=secret)
    elif kind == "map":
        if not isinstance(value, dict):
            yield path, f"must be an object; got {_type_name(value)} {_show(value)}"
            return
        for key, item in value.items():
            yield from check(shape.key, key, f"{path}.{key}", reveal=reveal, _secret=secret)
            yield from check(shape.value, item, f"{path}.{key}", reveal=reveal, _secret=secret)
    elif kind == "string":
        if not isinstance(value, str):
            yield path, f"must be a string; got {_type_name(value)} {_show(value)}"
            return
        if shape.enum and value not in shape.enum:  # enums are never secret
            yield path, f"must be one of {', '.join(shape.enum)}; got {_show(value)}"
        if "min" in meta and len(value) < meta["min"]:
            yield path, f"must be at least {meta['min']} characters; got {len(value)}"
        if "max" in meta and len(value) > meta["max"]:
            yield path, f"must be at most {meta['max']} characters; got {len(value)}"
        if meta.get("pattern") == _TAG_PATTERN and not _tag_text_ok(value):
            yield path, f"may hold only letters, spaces, numbers and _ . : / = + - @; got {_show(value)}"
    elif kind in ("integer", "long"):
        if type(value) is not int:
            yield path, f"must be an integer; got {_type_name(value)} {_show(value)}"
            return
        if "min" in meta and value < meta["min"]:
            yield path, f"must be at least {meta['min']}; got {value}"
        if "max" in meta and value > meta["max"]:
            yield path, f"must be at most {meta['max']}; got {value}"
    elif kind == "boolean":
        if type(value) is not bool:
            yield path, f"must be true or false; got {_type_name(value)} {_show(value)}"
    elif kind in ("double", "float") and type(value) not in (int, float):
        yield path, f"must be a number; got {_type_name(value)} {_show(value)}"
