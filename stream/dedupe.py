"""Dedupe rules: which events of a record were seen before, and when memory of them ends.

Pure and in memory; the agent persists one entry per raw record (``position -> event ids``) in
a changelog-backed table and feeds it back here on recovery.

Horizon: an entry is forgotten ``horizon`` after it was first seen (processing time), or
earlier when more than ``max_events`` ids are held (oldest first). A duplicate arriving after
that is enriched again; the sink's ``ReplacingMergeTree`` keyed by ``event_id`` still collapses
it, so reports count it once. Gateways retry within seconds, so 48 h is generous.

Replays: after a crash the worker re-reads records whose offsets were not committed. An event
first seen *at the same position* is not a duplicate but the same record again; it is reported
as new, and the agent decides from the enriched topic whether that record's output already
went out (see ``stream.agents``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

__all__ = ["SeenEntry", "SeenIndex"]

T = TypeVar("T")


@dataclass(frozen=True)
class SeenEntry:
    """What the table stores per raw record: its new event ids and when they were seen."""

    event_ids: tuple[str, ...]
    seen_at: datetime


@dataclass
class SeenIndex:
    horizon: timedelta
    max_events: int = 1_000_000
    _first_seen: dict[str, str] = field(default_factory=dict)
    """event_id -> position (``"partition/offset"``) of the record it was first seen in."""
    _order: dict[int, deque[tuple[str, SeenEntry]]] = field(default_factory=dict)
    """Per partition, entries in the order they were added."""
    _size: int = 0

    def __len__(self) -> int:
        return self._size

    def split(
        self, position: str, items: Sequence[T], event_id_of: Callable[[T], str]
    ) -> tuple[list[T], list[T]]:
        """``(new, duplicates)`` of one record's items, order kept. New: never seen, or first
        seen at this very ``position`` (a replay). A second copy inside the record is a
        duplicate."""
        new: list[T] = []
        duplicates: list[T] = []
        in_record: set[str] = set()
        first_seen = self._first_seen
        for item in items:
            event_id = event_id_of(item)
            where = first_seen.get(event_id)
            if event_id in in_record or (where is not None and where != position):
                duplicates.append(item)
            else:
                in_record.add(event_id)
                new.append(item)
        return new, duplicates

    def add(self, partition: int, position: str, entry: SeenEntry) -> None:
        """Remember a record's new ids (idempotent for the same position)."""
        first_seen = self._first_seen
        added = 0
        for event_id in entry.event_ids:
            if event_id not in first_seen:
                first_seen[event_id] = position
                added += 1
        if added:
            self._order.setdefault(partition, deque()).append((position, entry))
            self._size += added

    def expire(self, partition: int, now: datetime) -> list[str]:
        """Forget this partition's entries older than the horizon (or over ``max_events``);
        returns their positions so the caller can delete them from the table."""
        queue = self._order.get(partition)
        if not queue:
            return []
        cutoff = now - self.horizon
        expired: list[str] = []
        while queue and (queue[0][1].seen_at < cutoff or self._size > self.max_events):
            position, entry = queue.popleft()
            self._forget(position, entry.event_ids)
            expired.append(position)
        return expired

    def _forget(self, position: str, event_ids: Iterable[str]) -> None:
        first_seen = self._first_seen
        for event_id in event_ids:
            if first_seen.get(event_id) == position:
                del first_seen[event_id]
                self._size -= 1

    def drop_partition(self, partition: int) -> None:
        """Forget a partition this worker no longer owns (its table part moves too)."""
        for position, entry in self._order.pop(partition, deque()):
            self._forget(position, entry.event_ids)
