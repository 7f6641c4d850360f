"""Validation of raw records: a batch (JSON array) or one event, checked event by event.

Pure: bytes and the record's source position in, good events and dead letters out. One bad
event of a batch becomes one :class:`DeadLetter`; the others proceed. Nothing here raises on
input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from schemas.dead_letters import DeadLetter, ErrorKind
from schemas.usage import USAGE_SCHEMA_VERSION, UsageEvent

__all__ = ["MAX_KEPT_RAW_BYTES", "ParsedRecord", "SourcePosition", "parse_record"]

MAX_KEPT_RAW_BYTES = 64 * 1024
"""A dead letter keeps at most this many bytes of the raw input (the reason says when it was
cut), so a dead letter always fits a Kafka record."""

_BATCH = TypeAdapter(list[UsageEvent])


@dataclass(frozen=True)
class SourcePosition:
    topic: str
    partition: int
    offset: int

    def dead_letter_id(self, index: int) -> str:
        """Deterministic in the position: reprocessing a record yields the same ids."""
        return f"{self.topic}/{self.partition}/{self.offset}/{index}"

    def __str__(self) -> str:
        return f"{self.partition}/{self.offset}"


@dataclass
class ParsedRecord:
    events: list[UsageEvent] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)


def _reason(exc: ValidationError, limit: int = 5) -> str:
    parts = []
    for error in exc.errors()[:limit]:
        where = ".".join(str(p) for p in error["loc"]) or "event"
        parts.append(f"{where}: {error['msg']}")
    more = exc.error_count() - limit
    if more > 0:
        parts.append(f"(+{more} more)")
    return "; ".join(parts)[:4000]


def _dead(
    position: SourcePosition,
    index: int,
    kind: ErrorKind,
    reason: str,
    raw: bytes,
    received_at: datetime,
    key: str,
    event_id: str = "",
) -> DeadLetter:
    if len(raw) > MAX_KEPT_RAW_BYTES:
        reason = f"{reason[:3900]} (raw cut to its first {MAX_KEPT_RAW_BYTES} of {len(raw)} bytes)"
        raw = raw[:MAX_KEPT_RAW_BYTES]
    return DeadLetter(
        dead_letter_id=position.dead_letter_id(index),
        source_topic=position.topic,
        partition=position.partition,
        offset=position.offset,
        index_in_record=index,
        event_id=event_id[:256],
        api_key_id=key[:256],
        error_kind=kind,
        reason=reason[:4096],
        raw=raw,
        received_at=received_at,
    )


def _check_one(
    element: Any, position: SourcePosition, index: int, key: str, received_at: datetime
) -> UsageEvent | DeadLetter:
    raw = orjson.dumps(element) if index >= 0 else b""
    event_id = ""
    if isinstance(element, dict):
        candidate = element.get("event_id")
        event_id = candidate if isinstance(candidate, str) else ""
        version = element.get("schema_version", USAGE_SCHEMA_VERSION)
        if version != USAGE_SCHEMA_VERSION:
            return _dead(
                position,
                index,
                ErrorKind.UNSUPPORTED_VERSION,
                f"schema_version {str(version)[:40]!r} is not supported "
                f"(this worker reads {USAGE_SCHEMA_VERSION})",
                raw,
                received_at,
                key,
                event_id,
            )
    try:
        return UsageEvent.model_validate(element)
    except ValidationError as exc:
        return _dead(
            position, index, ErrorKind.SCHEMA, _reason(exc), raw, received_at, key, event_id
        )


def parse_record(
    value: bytes | None,
    *,
    key: str,
    position: SourcePosition,
    received_at: datetime,
    max_record_bytes: int,
) -> ParsedRecord:
    """Good events of one raw record and a dead letter for everything else.

    Dead letter ids are ``topic/partition/offset/index``: ``index`` is the element's position in
    an array, ``-1`` when the whole record is refused (undecodable, oversized, not an event or an
    array, or a single-object record that fails validation, whose ``raw`` is then the record).
    """
    result = ParsedRecord()
    if value is None:
        result.dead_letters.append(
            _dead(
                position, -1, ErrorKind.DECODE, "empty record (null value)", b"", received_at, key
            )
        )
        return result
    if len(value) > max_record_bytes:
        result.dead_letters.append(
            _dead(
                position,
                -1,
                ErrorKind.OVERSIZED,
                f"record of {len(value)} bytes exceeds the bound of {max_record_bytes} bytes",
                value,
                received_at,
                key,
            )
        )
        return result
    # Fast path: a clean batch validates in one call.
    try:
        if value.lstrip()[:1] == b"[":
            result.events = _BATCH.validate_json(value)
            return result
    except ValidationError:
        pass
    try:
        decoded = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        result.dead_letters.append(
            _dead(position, -1, ErrorKind.DECODE, f"not UTF-8 JSON: {exc}", value, received_at, key)
        )
        return result
    if isinstance(decoded, list):
        for index, element in enumerate(decoded):
            checked = _check_one(element, position, index, key, received_at)
            if isinstance(checked, DeadLetter):
                result.dead_letters.append(checked)
            else:
                result.events.append(checked)
        return result
    checked = _check_one(decoded, position, -1, key, received_at)
    if isinstance(checked, DeadLetter):
        # Re-made rather than copied so the record bytes get the same size cap.
        result.dead_letters.append(
            _dead(
                position,
                -1,
                checked.error_kind,
                checked.reason,
                value,
                received_at,
                key,
                checked.event_id,
            )
        )
    else:
        result.events.append(checked)
    return result
