"""One line per configuration change: what it set, or which fields it changed. Pure."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["describe_change"]

_QUIET = {"updated_at"}
"""Fields every change touches; naming them says nothing."""


def _fmt(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ",".join(str(v) for v in value) + "]"
    return repr(value) if isinstance(value, str) else str(value)


def describe_change(op: str, old_value: str, new_value: str, id_field: str) -> str:
    """``delete``; ``a=1, b='x'`` for a new id; ``a: 1 → 2`` for the fields a change altered."""
    if op != "set":
        return "deleted"
    new = json.loads(new_value)
    skip = _QUIET | {id_field}
    if not old_value:
        return ", ".join(f"{k}={_fmt(v)}" for k, v in new.items() if k not in skip)
    old = json.loads(old_value)
    changed = [
        f"{k}: {_fmt(old.get(k))} → {_fmt(v)}"
        for k, v in new.items()
        if k not in skip and old.get(k) != v
    ]
    return ", ".join(changed) or "(no field changed)"
