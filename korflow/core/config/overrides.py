"""``--set KEY=VALUE`` read into nested settings: each value a YAML scalar (with YAML 1.1's
``1e-3`` read as the number it is), a single value where a list is expected made that list, and
the merge of overrides onto defaults."""

from __future__ import annotations

import re
from dataclasses import is_dataclass
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

import yaml
from pydantic import BaseModel


class ConfigError(ValueError):
    pass


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def parse_overrides(pairs: list[str], stage: str | None = None) -> dict[str, Any]:
    """``["clean.keep_digits=true", "wiki_max_docs=500"]`` -> nested dict, each value read as
    a YAML scalar (``true``, ``3``, ``1e-3``, ``null``; anything else stays a string). On a
    stage's own command the stage-prefixed key of ``pipeline`` works too
    (``korflow corpus --set corpus.wiki_max_docs=200``)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, eq, raw = pair.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"--set {pair!r}: write KEY=VALUE, e.g. --set train.epochs=5")
        try:
            value = yaml.safe_load(raw) if raw.strip() else raw
        except yaml.YAMLError:
            value = raw  # not YAML (an unbalanced bracket in a path): the text itself
        if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
            value = float(value)  # YAML 1.1 reads 1e-3 as text; a learning rate is a number
        parts = key.strip().split(".")
        if stage and parts[0] == stage and len(parts) > 1:
            parts = parts[1:]
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return out


def lists_where_expected(schema: Any, data: Any) -> Any:
    """A single value where the schema wants a list becomes that list: ``levels=jamo`` is
    ``["jamo"]``, and ``drop_pos=J,E`` is ``["J", "E"]`` (the comma form the README shows)."""
    if not isinstance(data, dict) or not (
        isinstance(schema, type) and (issubclass(schema, BaseModel) or is_dataclass(schema))
    ):
        return data
    hints = get_type_hints(schema)
    out = dict(data)
    for key, value in data.items():
        kind = _without_none(hints.get(key))
        wants_list = get_origin(kind) in (list, tuple)
        if wants_list and isinstance(value, str):
            out[key] = [v.strip() for v in value.split(",") if v.strip()]
        elif wants_list and value is not None and not isinstance(value, list):
            out[key] = [value]
        else:
            out[key] = lists_where_expected(kind, value)
    return out


def _without_none(kind: Any) -> Any:
    """``X | None`` -> ``X``."""
    if get_origin(kind) in (Union, UnionType):
        rest = [a for a in get_args(kind) if a is not type(None)]
        return rest[0] if len(rest) == 1 else kind
    return kind
