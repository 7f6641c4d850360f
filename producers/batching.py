"""Grouping of queued events into batch records: pure, no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from schemas.codec import join_encoded

__all__ = ["BatchRecord", "plan_records"]


@dataclass(frozen=True)
class BatchRecord:
    key: bytes
    value: bytes
    lines: list[bytes]
    """The events of the record as spool lines (``key\\tjson``), to spool it on failure."""

    @property
    def count(self) -> int:
        return len(self.lines)


def plan_records(
    items: Iterable[tuple[str, bytes]], max_events: int, max_bytes: int
) -> list[BatchRecord]:
    """Group ``(api_key_id, event_json)`` pairs into records keyed by ``api_key_id``.

    Order within a key is kept. A record holds at most ``max_events`` events and, unless a single
    event is larger on its own, at most ``max_bytes`` of JSON.
    """
    by_key: dict[str, list[bytes]] = {}
    for key, encoded in items:
        by_key.setdefault(key, []).append(encoded)

    records: list[BatchRecord] = []
    for key, encoded_events in by_key.items():
        key_bytes = key.encode()
        chunk: list[bytes] = []
        size = 2
        for encoded in encoded_events:
            grows = len(encoded) + 1
            if chunk and (len(chunk) >= max_events or size + grows > max_bytes):
                records.append(_record(key_bytes, chunk))
                chunk, size = [], 2
            chunk.append(encoded)
            size += grows
        if chunk:
            records.append(_record(key_bytes, chunk))
    return records


def _record(key: bytes, chunk: list[bytes]) -> BatchRecord:
    return BatchRecord(key, join_encoded(chunk), [key + b"\t" + e for e in chunk])
