"""Counters of a running sink: what it stored, how fast, and how far behind the topics it is."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["SinkStats"]


@dataclass
class SinkStats:
    started_at: float
    """Monotonic clock at start."""
    rows_stored: int = 0
    """usage_events rows inserted (duplicates of stored events not counted)."""
    duplicates_skipped: int = 0
    alerts_stored: int = 0
    dead_letters_stored: int = 0
    config_changes_stored: int = 0
    """Rows appended to ``config_history``."""
    rows_rejected: int = 0
    """Rows the database refused; each became a dead letter."""
    batches: int = 0
    last_batch_messages: int = 0
    last_flush_s: float = 0.0
    first_consumed_at: float | None = None
    """Monotonic clock when the first record arrived (after the group join)."""
    lag: dict[str, int] = field(default_factory=dict)
    """Per ``topic:partition``: the high watermark minus the next offset to consume."""

    def rows_per_s(self, now: float) -> float:
        elapsed = now - self.started_at
        return self.rows_stored / elapsed if elapsed > 0 else 0.0

    def snapshot(self, now: float) -> dict:
        """A JSON-ready view (the ``/stats`` endpoint and the periodic log line)."""
        return {
            "rows_stored": self.rows_stored,
            "duplicates_skipped": self.duplicates_skipped,
            "alerts_stored": self.alerts_stored,
            "dead_letters_stored": self.dead_letters_stored,
            "config_changes_stored": self.config_changes_stored,
            "rows_rejected": self.rows_rejected,
            "batches": self.batches,
            "last_batch_messages": self.last_batch_messages,
            "last_flush_s": round(self.last_flush_s, 4),
            "rows_per_s": round(self.rows_per_s(now), 1),
            "lag_total": sum(self.lag.values()),
            "lag": dict(self.lag),
            "uptime_s": round(now - self.started_at, 3),
        }
