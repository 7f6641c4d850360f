"""Configuration records → history rows. Pure: no I/O.

A record of a compacted configuration topic (``schemas.config``) is one change of one id: a
value sets it, a null value deletes it. ``decode_change`` turns a record into a
``ConfigChange`` (or a dead letter when the value is not a valid model); ``history_rows``
numbers the changes of a batch per id after the latest stored version and pairs each with the
value it replaced.

Why the sink and not the admin commands writes the history: the topic is the one write path
every tool (and any Kafka client) already uses, so nothing can change configuration without
being recorded, and in embedded mode only the sink may open the store anyway.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from schemas.codec import encode_one
from schemas.config import ACTOR_HEADER, CHANGE_ID_HEADER, ORIGIN_HEADER, ConfigTopic
from schemas.dead_letters import DeadLetter, ErrorKind
from sinks import ddl
from sinks.rows import Item, Origin, TableSpec

__all__ = [
    "CONFIG_HISTORY",
    "ConfigChange",
    "Latest",
    "decode_change",
    "derived_change_id",
    "history_rows",
]

SET = "set"
DELETE = "delete"


@dataclass(frozen=True)
class ConfigChange:
    kind: str
    entity_id: str
    change_id: str
    op: str
    new_value: str
    """Canonical JSON of the validated model ('' for a delete)."""
    actor: str
    origin: str
    changed_at: datetime
    source: Origin


@dataclass(frozen=True)
class Latest:
    """The newest stored row of one id."""

    version: int
    op: str
    value: str


def derived_change_id(
    topic: str, partition: int, offset: int, timestamp_ms: int, key: bytes, value: bytes | None
) -> str:
    """Change id of a record written without the header (by a plain Kafka client)."""
    digest = hashlib.sha256()
    for part in (topic.encode(), str(partition).encode(), str(offset).encode(),
                 str(timestamp_ms).encode(), key, value or b"\x00null"):  # fmt: skip
        digest.update(len(part).to_bytes(4, "big") + part)
    return "kafka-" + digest.hexdigest()[:32]


def _header(headers: Sequence[tuple[str, bytes]], name: str) -> str:
    for key, value in headers:
        if key == name:
            return value.decode("utf-8", "replace")[:256]
    return ""


def decode_change(
    config: ConfigTopic,
    *,
    topic: str,
    partition: int,
    offset: int,
    timestamp_ms: int,
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes]],
    now: datetime,
) -> ConfigChange | DeadLetter:
    """The change one record makes, or a dead letter for a record no tool would write (no key,
    an invalid value, or a value whose id differs from the key). Never raises on input."""
    origin = Origin(topic, partition, offset, -1)

    def dead(reason: str) -> DeadLetter:
        return DeadLetter(
            dead_letter_id=f"sink:{topic}:{partition}:{offset}:-1",
            source_topic=topic,
            partition=partition,
            offset=offset,
            error_kind=ErrorKind.SCHEMA,
            reason=reason[:4096],
            raw=value or b"",
            received_at=now,
        )

    if not key:
        return dead(f"{config.kind} record without a key")
    entity_id = key.decode("utf-8", "replace")
    new_value = ""
    if value is not None:
        try:
            model = config.parse(value)
        except ValidationError as exc:
            return dead(f"invalid {config.kind} value: {exc.errors()[0]['msg']}")
        if config.entity_id(model) != entity_id:
            return dead(f"{config.id_field} {config.entity_id(model)!r} differs from key")
        new_value = encode_one(model).decode()
    change_id = _header(headers, CHANGE_ID_HEADER) or derived_change_id(
        topic, partition, offset, timestamp_ms, key, value
    )
    return ConfigChange(
        kind=config.kind,
        entity_id=entity_id,
        change_id=change_id,
        op=SET if value is not None else DELETE,
        new_value=new_value,
        actor=_header(headers, ACTOR_HEADER),
        origin=_header(headers, ORIGIN_HEADER) or "kafka",
        changed_at=datetime.fromtimestamp(timestamp_ms / 1000, UTC) if timestamp_ms > 0 else now,
        source=origin,
    )


def history_rows(
    changes: Iterable[ConfigChange], latest: dict[tuple[str, str], Latest]
) -> list[Item]:
    """History rows of ``changes`` (already free of stored change ids), in log order.

    Versions continue from ``latest`` per (kind, id); each row's ``old_value`` is the value the
    change replaced ('' after a delete or for a new id). ``latest`` is updated in place.
    """
    rows: list[Item] = []
    for change in changes:
        key = (change.kind, change.entity_id)
        before = latest.get(key)
        version = (before.version if before else 0) + 1
        old_value = before.value if before and before.op == SET else ""
        latest[key] = Latest(version, change.op, change.new_value)
        row: list[Any] = [
            change.change_id, change.kind, change.entity_id, version, change.op, old_value,
            change.new_value, change.actor, change.origin, change.changed_at,
            f"{change.source.topic}:{change.source.partition}:{change.source.offset}",
        ]  # fmt: skip
        rows.append(Item(change, row, change.source))
    return rows


CONFIG_HISTORY: TableSpec[Any] = TableSpec(
    "config_history", ddl.CONFIG_HISTORY_COLUMNS, DeadLetter, lambda m: []
)
"""Rows are built by ``history_rows``; ``model``/``to_row`` are never used for this table."""
