"""A fast path from enriched usage JSON to ``usage_events`` rows. Pure.

Validating ``EnrichedUsage`` with pydantic costs ~20 µs an event here, more than the insert.
The sink's input was validated by the stream already, so this path only confirms the plain,
canonical shape the stream writes and builds the rows directly. It is deliberately stricter
than the model: anything it is unsure of returns ``None`` and the caller validates with the
model (which then stores it or explains the dead letter). So it can only ever accept what the
model accepts, and yields the same row (``tests/unit/test_sink_fast_usage.py`` checks both).

Nothing here names a column: the decoder's fields, types, defaults and limits are derived from
``EnrichedUsage``'s own field constraints, and the row from ``sinks.usage_columns``. A field of
a kind this module does not know fails at import (add the case to ``_fast_type``).
"""

from __future__ import annotations

import json
import re
import types
import typing
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from operator import attrgetter
from typing import Annotated, Any, Literal

import annotated_types
import msgspec
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from schemas.usage import EnrichedUsage
from sinks.usage_columns import USAGE_COLUMNS, UsageColumn

__all__ = ["as_python", "fast_usage_row", "fast_usage_rows"]

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@/+=\-]{0,127}")
_MONEY = re.compile(r"\d{1,26}(?:\.\d{1,12})?")
_TAG = re.compile(r"[a-z0-9][a-z0-9_.\-]{0,63}:[^\x00\r\n]*[^\s\x00\r\n][^\x00\r\n]*")
_CURRENCY = re.compile(r"[A-Z]{3}")
_PATTERNS_CHECKED_HERE = frozenset({"currency"})
"""Fields with a pattern the row builder checks itself (the others via a column ``check``)."""


class _Unsure(Exception):
    """Not plainly valid; let the model decide."""


# Values that repeat across events (keys, tags, days) are checked once. Bounded: the caches are
# dropped when full, which only costs re-checking.
_CACHE_MAX = 50_000
_good_ids: set[str] = set()
_good_tags: set[str] = set()


def _remember(cache: set[str], value: str) -> None:
    if len(cache) >= _CACHE_MAX:
        cache.clear()
    cache.add(value)


# The decoder: msgspec decodes a record's JSON array into typed structs in C (types, lengths,
# literals, unknown token keys), with the types derived from the model's fields below.
def _constraints(metadata: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, FieldInfo):
            out.update(_constraints(item.metadata))
        elif isinstance(item, annotated_types.MinLen):
            out["min_length"] = item.min_length
        elif isinstance(item, annotated_types.MaxLen):
            out["max_length"] = item.max_length
        elif isinstance(item, annotated_types.Ge):
            out["ge"] = item.ge
        elif isinstance(item, annotated_types.Le):
            out["le"] = item.le
        elif getattr(item, "pattern", None) is not None:
            out["pattern"] = item.pattern
    return out


def _fast_type(annotation: Any, metadata: list[Any], where: str) -> Any:
    """The msgspec type that accepts at most what the model's field accepts. Timestamps and
    money stay strings (checked by pattern below, parsed exactly by the store's encoder)."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        inner, *extra = typing.get_args(annotation)
        return _fast_type(inner, [*extra, *metadata], where)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"{where}: only Optional[X] unions are supported")
        return _fast_type(args[0], metadata, where) | None
    limits = _constraints(metadata)
    if "pattern" in limits and where not in _PATTERNS_CHECKED_HERE and where not in _CHECKED:
        raise TypeError(f"{where}: a pattern the fast path does not check (add a column check)")
    limits.pop("pattern", None)
    if origin is Literal:
        return annotation
    if origin is list:
        (item,) = typing.get_args(annotation)
        meta = msgspec.Meta(**limits) if limits else None
        item_type = _fast_type(item, [], where)
        return Annotated[list[item_type], meta] if meta else list[item_type]  # type: ignore[valid-type]  # built at run time
    if annotation in (datetime, Decimal):
        return str
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return Literal[tuple(m.value for m in annotation)]
    if annotation is bool:
        return bool
    if annotation in (int, str):
        return Annotated[annotation, msgspec.Meta(**limits)] if limits else annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _struct(annotation, forbid_unknown_fields=True)
    raise TypeError(f"{where}: no fast-path type for {annotation!r} (add it to _fast_type)")


def _struct(model: type[BaseModel], forbid_unknown_fields: bool = False) -> type[msgspec.Struct]:
    fields = []
    for name, info in model.model_fields.items():
        kind = _fast_type(info.annotation, info.metadata, name)
        if info.default_factory is not None:
            factory = info.default_factory
            if isinstance(factory, type) and issubclass(factory, BaseModel):
                factory = typing.get_args(kind)[0] if typing.get_origin(kind) else kind
            default: Any = msgspec.field(default_factory=factory)  # type: ignore[arg-type]  # no data-taking factories here
        elif info.default is PydanticUndefined:
            default = msgspec.NODEFAULT
        else:
            value = info.default
            default = value.value if isinstance(value, Enum) else value
        fields.append((name, kind, default))
    return msgspec.defstruct(
        f"_Fast{model.__name__}",
        fields,
        kw_only=True,
        gc=False,
        forbid_unknown_fields=forbid_unknown_fields,
    )


_CHECKED = frozenset(c.source for c in USAGE_COLUMNS if c.check in ("id", "key"))
_BATCH_DECODER = msgspec.json.Decoder(list[_struct(EnrichedUsage)])  # type: ignore[misc]  # a Struct built at run time
_money_match = _MONEY.fullmatch
_id_match = _ID.fullmatch


# Time and offset fields are range-checked by the pattern; the date (month length, leap years)
# by ``date.fromisoformat`` once per distinct day, as days repeat across events and times do not.
# ASCII [0-9] keeps it stricter than the model.
_TS_STRICT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)
_ts_match = _TS_STRICT.fullmatch
_good_days: set[str] = set()


def _timestamp(value: str) -> str:
    if not _ts_match(value):
        raise _Unsure
    day = value[:10]
    if day not in _good_days:
        date.fromisoformat(day)  # a real date (raises ValueError otherwise)
        _remember(_good_days, day)
    return value


def _identifier(value: str) -> str:
    if not _id_match(value):
        raise _Unsure
    return value


def _key(value: str) -> str:
    if value not in _good_ids:
        if not _id_match(value):
            raise _Unsure
        _remember(_good_ids, value)
    return value


def _check_tags(tags: list[str]) -> list[str]:
    for tag in tags:
        if tag not in _good_tags:
            if not _TAG.fullmatch(tag):
                raise _Unsure
            _remember(_good_tags, tag)
    return tags


def _amount(value: str) -> str:
    if not _money_match(value):
        raise _Unsure
    return value


def _optional(check: Any) -> Any:
    return lambda value: value if value is None else check(value)


def _column_check(column: UsageColumn) -> Any:
    check = {"id": _identifier, "key": _key, "tags": _check_tags}.get(column.check or "")
    if check is None and column.is_timestamp:
        check = _timestamp
    if check is None and column.is_money:
        check = _amount
    if check is not None and column.nullable:
        check = _optional(check)
    return check


_ROW = attrgetter(*(c.source for c in USAGE_COLUMNS))
_CHECKS = tuple(
    (i, check) for i, c in enumerate(USAGE_COLUMNS) if (check := _column_check(c)) is not None
)


def fast_usage_rows(value: bytes) -> list[list[Any]] | None:
    """Rows of every element of a record holding a JSON array of plainly valid
    ``EnrichedUsage``; ``None`` if any element is not (then decode element by element).

    Timestamps and money stay the validated JSON strings they arrived as (RFC 3339, plain
    decimals): the store's encoder parses them exactly (in C++, per column), so no
    ``datetime``/``Decimal`` is built per event on the hot path."""
    try:
        events = _BATCH_DECODER.decode(value)
        rows: list[list[Any]] = []
        append = rows.append
        for e in events:
            # The model's cross-field and pattern rules the decoder cannot express.
            t = e.tokens
            if t.reasoning > t.output or (
                e.currency != "USD" and not _CURRENCY.fullmatch(e.currency)
            ):
                return None
            row = list(_ROW(e))
            for i, check in _CHECKS:
                check(row[i])
            append(row)
        return rows
    except (_Unsure, msgspec.ValidationError, msgspec.DecodeError, ValueError):
        return None


def fast_usage_row(element: Any) -> list[Any] | None:
    """The ``usage_events`` row of one decoded JSON element if it is a plainly valid
    ``EnrichedUsage`` in canonical JSON form (timestamps and money as Python values, as the
    model path makes them); ``None`` when unsure."""
    if type(element) is not dict:
        return None
    try:
        # The stdlib encoder, not orjson: orjson writes NaN and infinity as null, which would
        # turn a value the model refuses into one it accepts.
        value = json.dumps([element], allow_nan=False).encode()
    except (TypeError, ValueError):
        return None
    rows = fast_usage_rows(value)
    return None if rows is None else as_python(rows[0])


_TS_COLUMNS = tuple(i for i, c in enumerate(USAGE_COLUMNS) if c.is_timestamp)
_MONEY_COLUMNS = tuple(i for i, c in enumerate(USAGE_COLUMNS) if c.is_money)


def as_python(row: list[Any]) -> list[Any]:
    """A fast-path row with its timestamp and money strings turned into the ``datetime`` and
    ``Decimal`` values the model path puts there (both insert the same data)."""
    out = list(row)
    for i in _TS_COLUMNS:
        if isinstance(out[i], str):
            out[i] = datetime.fromisoformat(out[i]).astimezone(UTC)
    for i in _MONEY_COLUMNS:
        if isinstance(out[i], str):
            out[i] = Decimal(out[i])
    return out
