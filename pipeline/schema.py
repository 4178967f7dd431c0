"""Build frozen dataclasses from parsed YAML, strictly.

Recipes are user input: a typo must fail loudly with the file, the key path and the
valid keys, never be ignored. This is a tiny typed builder instead of a schema
library because the recipe dataclasses are the schema.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, Union, get_args, get_origin, get_type_hints

from catalog.errors import SdgcubeError


class RecipeError(SdgcubeError, ValueError):
    """A recipe that cannot be used; the message says where and how to fix it."""


_FLOAT = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)[eE][-+]?\d+")


def _describe(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def build(cls: type, data: Any, where: str, source: str) -> Any:
    """Build dataclass ``cls`` from ``data``; ``where`` is the key path for messages."""
    if not isinstance(data, Mapping):
        raise RecipeError(f"{source}: '{where}' must be a mapping with keys "
                          f"{', '.join(f.name for f in dataclasses.fields(cls))}; got {_describe(data)}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init and not f.metadata.get("internal")}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        path = ", ".join(f"'{_join(where, k)}'" for k in unknown)
        raise RecipeError(f"{source}: unknown key {path}; valid keys under '{where or '<top>'}': "
                          f"{', '.join(fields)}")
    hints = get_type_hints(cls)
    kwargs = {}
    for name, field in fields.items():
        key = _join(where, name)
        if name not in data:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise RecipeError(f"{source}: missing key '{key}' ({_type_name(hints[name])}); "
                                  f"required keys under '{where or '<top>'}': "
                                  f"{', '.join(n for n, f in fields.items() if _required(f))}")
            continue
        kwargs[name] = convert(hints[name], data[name], key, source)
    try:
        return cls(**kwargs)
    except RecipeError:
        raise
    except (TypeError, ValueError) as exc:
        raise RecipeError(f"{source}: invalid '{where or '<top>'}': {exc}") from None


def _required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _join(where: str, key: Any) -> str:
    return f"{where}.{key}" if where else str(key)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def convert(tp: Any, value: Any, where: str, source: str) -> Any:
    """Convert ``value`` to type ``tp`` or raise a RecipeError naming ``where``."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return convert(option, value, where, source)
            except RecipeError as exc:
                errors.append(str(exc))
        raise RecipeError(errors[-1] if len(errors) == 1 else
                          f"{source}: '{where}' = {_describe(value)} matches none of {_type_name(tp)}")
    if origin is typing.Literal:
        if value not in get_args(tp):
            raise RecipeError(f"{source}: '{where}' = {value!r} is not one of "
                              f"{', '.join(map(repr, get_args(tp)))}")
        return value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):  # a dataclass type, never an instance
        return build(tp, value, where, source)
    if origin is tuple:
        args = get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise RecipeError(f"{source}: '{where}' must be a list; got {_describe(value)}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(convert(args[0], v, f"{where}[{i}]", source) for i, v in enumerate(value))
        if len(value) != len(args):
            raise RecipeError(f"{source}: '{where}' must have {len(args)} items; got {len(value)}")
        return tuple(convert(a, v, f"{where}[{i}]", source) for i, (a, v) in enumerate(zip(args, value, strict=True)))
    if origin in (dict, Mapping, typing.Mapping) or tp is dict:
        args = get_args(tp) or (str, Any)
        if not isinstance(value, Mapping):
            raise RecipeError(f"{source}: '{where}' must be a mapping; got {_describe(value)}")
        return types.MappingProxyType({convert(args[0], k, where, source):
                                       convert(args[1], v, _join(where, k), source)
                                       for k, v in value.items()})
    if tp is Any:
        return value
    if tp is float:
        if isinstance(value, str) and _FLOAT.fullmatch(value.strip()):
            return float(value)  # YAML 1.1 reads 1e9 (no dot) as a string: it is still the number meant
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RecipeError(f"{source}: '{where}' must be a number; got {_describe(value)}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise RecipeError(f"{source}: '{where}' must be an integer; got {_describe(value)}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise RecipeError(f"{source}: '{where}' must be true or false; got {_describe(value)}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise RecipeError(f"{source}: '{where}' must be a string; got {_describe(value)}")
        return value
    raise TypeError(f"schema type {tp!r} at '{where}' is not supported")
