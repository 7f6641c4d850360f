"""The batch buffer: decoded records accumulate until a size or age bound, then drain as one
batch with the offsets to commit after it is stored. Pure: time is a parameter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from schemas.dead_letters import DeadLetter
from sinks.rows import Item

__all__ = ["Batch", "BatchBuffer", "dedup_token", "unique_by_key"]

TopicPartition = tuple[str, int]


@dataclass
class Batch:
    """Everything consumed since the last flush. ``offsets`` maps each topic-partition to the
    (first, last) record offsets it covers; committing ``last + 1`` is safe once it is stored."""

    usage: list[Item] = field(default_factory=list)
    alerts: list[Item] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    config: list[Any] = field(default_factory=list)
    """``sinks.config_history.ConfigChange`` of the configuration topics, in log order."""
    offsets: dict[TopicPartition, tuple[int, int]] = field(default_factory=dict)

    @property
    def messages(self) -> int:
        return len(self.usage) + len(self.alerts) + len(self.dead_letters) + len(self.config)

    def commit_offsets(self) -> dict[TopicPartition, int]:
        """The next offset to read per topic-partition (Kafka's commit convention)."""
        return {tp: last + 1 for tp, (_first, last) in self.offsets.items()}

    def ranges(self) -> str:
        return ",".join(f"{t}:{p}:{a}-{b}" for (t, p), (a, b) in sorted(self.offsets.items()))


class BatchBuffer:
    """Collects decoded records; ``due(now)`` says when to flush, ``drain()`` hands the batch
    over and starts a new one. Records of one partition must be added in offset order."""

    def __init__(self, max_rows: int, max_seconds: float) -> None:
        self.max_rows = max_rows
        self.max_seconds = max_seconds
        self._batch = Batch()
        self._opened_at: float | None = None

    def add(
        self,
        topic: str,
        partition: int,
        offset: int,
        now: float,
        usage: Iterable[Item] = (),
        alerts: Iterable[Item] = (),
        dead_letters: Iterable[DeadLetter] = (),
        config: Iterable[Any] = (),
    ) -> None:
        if self._opened_at is None:
            self._opened_at = now
        batch = self._batch
        batch.usage.extend(usage)
        batch.alerts.extend(alerts)
        batch.dead_letters.extend(dead_letters)
        batch.config.extend(config)
        first, _ = batch.offsets.get((topic, partition), (offset, offset))
        batch.offsets[(topic, partition)] = (first, offset)

    @property
    def pending(self) -> int:
        return self._batch.messages

    @property
    def empty(self) -> bool:
        return not self._batch.offsets

    def due(self, now: float) -> bool:
        if self.empty:
            return False
        if self._batch.messages >= self.max_rows:
            return True
        return self._opened_at is not None and now - self._opened_at >= self.max_seconds

    def drain(self) -> Batch:
        batch, self._batch, self._opened_at = self._batch, Batch(), None
        return batch


def unique_by_key(items: Sequence[Item], seen: set[str] | frozenset[str] = frozenset()):
    """Items whose key is neither in ``seen`` nor earlier in ``items`` (first wins)."""
    taken = set(seen)
    out: list[Item] = []
    for item in items:
        key = item.key
        if key in taken:
            continue
        taken.add(key)
        out.append(item)
    return out


def dedup_token(table: str, ranges: str, keys: Iterable[str]) -> str:
    """``insert_deduplication_token`` of one insert: the source ranges plus a digest of the
    rows' ids, so a retry of the same rows is dropped by the database and a different set of
    rows from the same ranges (after a replay) is not mistaken for it."""
    digest = hashlib.sha256()
    for key in keys:
        digest.update(key.encode())
        digest.update(b"\x00")
    return f"{table}|{ranges}|{digest.hexdigest()[:32]}"
