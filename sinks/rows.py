"""Kafka record values → table rows, and undecodable input → dead letters. Pure: no I/O.

Each record value is a JSON array of messages (or one object). Elements are validated one by
one when the fast whole-array path fails, so one bad event dead-letters alone and its siblings
are stored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from operator import attrgetter
from typing import Any, Generic, NamedTuple, TypeVar

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError

from schemas.budgets import BudgetAlert
from schemas.codec import encode_one
from schemas.dead_letters import DeadLetter, ErrorKind
from schemas.usage import EnrichedUsage
from sinks import ddl
from sinks.encoding import ArrowRows, Col, JsonRows, RowEncoder
from sinks.fast_usage import fast_usage_row, fast_usage_rows
from sinks.usage_columns import USAGE_COLUMNS, UsageColumn

__all__ = [
    "ALERTS",
    "DEAD_LETTERS",
    "USAGE",
    "Decoded",
    "Item",
    "Origin",
    "RecordElement",
    "TableSpec",
    "decode_record",
    "rejected_dead_letter",
    "sink_dead_letter_id",
]

M = TypeVar("M", bound=BaseModel)

JSON_ROWS = JsonRows()


class Origin(NamedTuple):
    """Where a message came from: topic, partition, offset and index inside the record."""

    topic: str
    partition: int
    offset: int
    index: int  # type: ignore[assignment]  # a field named like tuple.index, on purpose


class Item(NamedTuple):
    """One message ready to insert: the message (a model, or the JSON object the fast path
    accepted), its row (column order of its table) and origin."""

    message: Any
    row: list[Any]
    origin: Origin

    @property
    def key(self) -> str:
        """The idempotency id of the message (event_id, dead_letter_id, alert_id)."""
        return self.row[0]


@dataclass(frozen=True)
class TableSpec(Generic[M]):
    table: str
    columns: tuple[str, ...]
    model: type[M]
    to_row: Callable[[M], list[Any]]
    fast_row: Callable[[Any], list[Any] | None] | None = None
    """Row of a decoded JSON element that is plainly valid, None to validate with ``model``."""
    fast_rows: Callable[[bytes], list[list[Any]] | None] | None = None
    """Rows of a whole record value if every element is plainly valid, else None."""
    encoder: RowEncoder = JSON_ROWS
    """How rows travel to the database in an insert."""

    def adapter(self) -> TypeAdapter[list[M]]:
        return _adapter(self.model)


_ADAPTERS: dict[type, TypeAdapter] = {}


def _adapter(model: type[M]) -> TypeAdapter[list[M]]:
    if model not in _ADAPTERS:
        _ADAPTERS[model] = TypeAdapter(list[model])  # type: ignore[valid-type]  # run-time model
    return _ADAPTERS[model]


def _model_field(path: str) -> Any:
    """The annotation of ``EnrichedUsage`` at an attribute path such as ``tokens.input``."""
    model: Any = EnrichedUsage
    annotation: Any = None
    for part in path.split("."):
        annotation = model.model_fields[part].annotation
        model = annotation
    return annotation


_USAGE_VALUES = attrgetter(*(c.source for c in USAGE_COLUMNS))
_USAGE_ENUMS = tuple(
    i
    for i, c in enumerate(USAGE_COLUMNS)
    if isinstance(_model_field(c.source), type) and issubclass(_model_field(c.source), Enum)
)
_USAGE_LISTS = tuple(i for i, c in enumerate(USAGE_COLUMNS) if c.is_array)


def usage_row(e: EnrichedUsage) -> list[Any]:
    """The ``usage_events`` row of a validated event (``sinks.usage_columns`` order)."""
    row = list(_USAGE_VALUES(e))
    for i in _USAGE_ENUMS:
        row[i] = row[i].value
    for i in _USAGE_LISTS:
        row[i] = list(row[i])
    return row


def dead_letter_row(d: DeadLetter) -> list[Any]:
    return [
        d.dead_letter_id, d.source_topic, d.partition, d.offset, d.index_in_record, d.event_id,
        d.api_key_id, d.error_kind.value, d.reason, d.raw.decode("utf-8", "replace"),
        d.received_at,
    ]  # fmt: skip


def alert_row(a: BudgetAlert) -> list[Any]:
    return [
        a.alert_id, a.policy_id, a.scope.value, a.subject, a.threshold, a.spend, a.limit,
        a.unit.value, a.window.value, a.window_start, a.action.value, a.event_id,
        a.occurred_at, a.emitted_at,
    ]  # fmt: skip


_ARROW_KINDS = {
    "String": Col.STRING,
    "LowCardinality(String)": Col.STRING,
    "UInt64": Col.UINT64,
    "UInt32": Col.UINT32,
    "Bool": Col.BOOL,
    "Array(String)": Col.STRINGS,
}


def _arrow_kind(column: UsageColumn) -> Col:
    if column.is_timestamp:
        return Col.TIMESTAMP
    if column.is_money:
        return Col.MONEY
    try:
        return _ARROW_KINDS[column.base_type]
    except KeyError:
        raise TypeError(
            f"usage column {column.name}: no Arrow kind for {column.ch_type} (add it here and "
            "in sinks.encoding.Col)"
        ) from None


USAGE = TableSpec(
    "usage_events",
    ddl.USAGE_EVENT_COLUMNS,
    EnrichedUsage,
    usage_row,
    fast_usage_row,
    fast_usage_rows,
    ArrowRows([(c.name, _arrow_kind(c)) for c in USAGE_COLUMNS]),
)


class RecordElement(NamedTuple):
    """Stands for the JSON element at ``index`` of a record ``value`` that took the whole-record
    fast path; parsed again only if its row is refused and must become a dead letter."""

    value: bytes
    index: int  # type: ignore[assignment]  # a field named like tuple.index, on purpose

    def element(self) -> Any:
        return orjson.loads(self.value)[self.index]


DEAD_LETTERS = TableSpec("dead_letters", ddl.DEAD_LETTER_COLUMNS, DeadLetter, dead_letter_row)
ALERTS = TableSpec("budget_alerts", ddl.BUDGET_ALERT_COLUMNS, BudgetAlert, alert_row)


@dataclass
class Decoded(Generic[M]):
    items: list[Item]
    dead_letters: list[DeadLetter]


def sink_dead_letter_id(origin: Origin) -> str:
    """Deterministic in the source position, so reprocessing yields the same id."""
    return f"sink:{origin.topic}:{origin.partition}:{origin.offset}:{origin.index}"


def _dead_letter(
    origin: Origin, kind: ErrorKind, reason: str, raw: bytes, now: datetime, element: Any = None
) -> DeadLetter:
    fields = element if isinstance(element, dict) else {}
    return DeadLetter(
        dead_letter_id=sink_dead_letter_id(origin),
        source_topic=origin.topic,
        partition=origin.partition,
        offset=origin.offset,
        index_in_record=origin.index,
        event_id=str(fields.get("event_id", ""))[:256],
        api_key_id=str(fields.get("api_key_id", ""))[:256],
        error_kind=kind,
        reason=reason[:4096],
        raw=raw,
        received_at=now,
    )


def _short(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(value)'}: {err['msg']}"
        for err in exc.errors()[:5]
    )


def decode_record(
    spec: TableSpec[M], topic: str, partition: int, offset: int, value: bytes | None, now: datetime
) -> Decoded[M]:
    """Rows of every valid message in one record value and a dead letter for each invalid one.

    Never raises on input: bad bytes become one dead letter for the record (index -1), a bad
    element one dead letter at its index.
    """
    record = Origin(topic, partition, offset, -1)
    if not value:
        return Decoded([], [_dead_letter(record, ErrorKind.DECODE, "empty record", b"", now)])
    stripped = value.lstrip()
    if spec.fast_rows is not None and stripped.startswith(b"["):
        rows = spec.fast_rows(value)
        if rows is not None:
            # tuple.__new__ skips the namedtuples' Python-level __new__: a third of this
            # path's per-event cost outside decoding.
            new = tuple.__new__
            return Decoded(
                [
                    new(
                        Item,
                        (
                            new(RecordElement, (value, i)),
                            row,
                            new(Origin, (topic, partition, offset, i)),
                        ),
                    )
                    for i, row in enumerate(rows)
                ],
                [],
            )
    if spec.fast_row is None and stripped.startswith(b"["):
        try:
            messages = spec.adapter().validate_json(value)
        except ValidationError:
            pass  # fall through to element-by-element validation below
        else:
            return Decoded(
                [
                    Item(m, spec.to_row(m), Origin(topic, partition, offset, i))
                    for i, m in enumerate(messages)
                ],
                [],
            )
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        reason = f"not UTF-8 JSON: {exc}"
        return Decoded([], [_dead_letter(record, ErrorKind.DECODE, reason, value, now)])
    elements: Sequence[Any] = parsed if isinstance(parsed, list) else [parsed]
    is_batch = isinstance(parsed, list)
    out: Decoded[M] = Decoded([], [])
    for i, element in enumerate(elements):
        origin = Origin(topic, partition, offset, i if is_batch else -1)
        if spec.fast_row is not None:
            row = spec.fast_row(element)
            if row is not None:
                out.items.append(Item(element, row, origin))
                continue
        try:
            message = spec.model.model_validate(element)
        except ValidationError as exc:
            raw = orjson.dumps(element) if is_batch else value
            out.dead_letters.append(
                _dead_letter(origin, ErrorKind.SCHEMA, _short(exc), raw, now, element)
            )
            continue
        out.items.append(Item(message, spec.to_row(message), origin))
    return out


def rejected_dead_letter(item: Item, reason: str, now: datetime) -> DeadLetter:
    """The dead letter for a row the database refused; ``raw`` is the message as JSON."""
    message = item.message
    if isinstance(message, RecordElement):
        message = message.element()
    if isinstance(message, dict):
        return _dead_letter(
            item.origin, ErrorKind.SINK_REJECTED, reason, orjson.dumps(message), now, message
        )
    fields = {
        "event_id": getattr(message, "event_id", ""),
        "api_key_id": getattr(message, "api_key_id", ""),
    }
    return _dead_letter(
        item.origin, ErrorKind.SINK_REJECTED, reason, encode_one(message), now, fields
    )
