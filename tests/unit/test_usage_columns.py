"""``sinks.usage_columns`` and ``EnrichedUsage`` describe the same row: these fail on drift."""

from __future__ import annotations

import re
import types
import typing
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any

import annotated_types
import pytest
from pydantic import BaseModel

from schemas._types import MONEY_SCALE
from schemas.usage import EnrichedUsage
from sinks.ddl import USAGE_EVENT_COLUMNS, USAGE_EVENTS
from sinks.usage_columns import USAGE_COLUMNS, UsageColumn

NOT_STORED = {"schema_version"}
"""Model fields with no column, on purpose."""

UNSIGNED_MAX = {"UInt32": 2**32 - 1, "UInt64": 2**64 - 1}


def _leaves(model: type[BaseModel], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out.update(_leaves(annotation, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = info
    return out


FIELDS = _leaves(EnrichedUsage)


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(the base annotation, whether None is allowed)."""
    if typing.get_origin(annotation) is Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(args[0])[0], True
    return annotation, False


def test_every_model_field_has_exactly_one_column() -> None:
    sources = [c.source for c in USAGE_COLUMNS]
    assert len(sources) == len(set(sources)), "a field is stored twice"
    assert set(sources) == set(FIELDS) - NOT_STORED
    names = [c.name for c in USAGE_COLUMNS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("column", USAGE_COLUMNS, ids=lambda c: c.name)
def test_column_type_holds_the_model_type(column: UsageColumn) -> None:
    info = FIELDS[column.source]
    annotation, optional = _unwrap(info.annotation)
    assert column.nullable == optional
    base = column.base_type
    if annotation is datetime:
        assert column.is_timestamp
    elif annotation is Decimal:
        assert column.is_money
        assert base == f"Decimal(38, {MONEY_SCALE})"
    elif annotation is bool:
        assert base == "Bool"
    elif annotation is int:
        assert base in UNSIGNED_MAX
        bounds = {type(m): m for m in info.metadata}
        assert bounds[annotated_types.Ge].ge >= 0
        assert bounds[annotated_types.Le].le <= UNSIGNED_MAX[base]
    elif typing.get_origin(annotation) is list:
        assert base == "Array(String)"
    elif annotation is str or (isinstance(annotation, type) and issubclass(annotation, Enum)):
        assert base in ("String", "LowCardinality(String)")
    else:
        pytest.fail(f"{column.name}: no rule for {annotation!r}; extend this test")


def test_the_ddl_creates_exactly_these_columns() -> None:
    body = USAGE_EVENTS[USAGE_EVENTS.index("(") + 1 : USAGE_EVENTS.index("\n)\nENGINE")]
    lines = [line.strip().rstrip(",") for line in body.strip().splitlines()]
    declared = [re.match(r"(\w+) (.+)", line).groups() for line in lines]  # type: ignore[union-attr]
    assert declared[:-1] == [(c.name, c.ch_type) for c in USAGE_COLUMNS]
    assert declared[-1][0] == "inserted_at"
    assert list(USAGE_EVENT_COLUMNS) == [c.name for c in USAGE_COLUMNS]
