"""Faust handles of the stream's topics (names from ``schemas.topics`` under the prefix).

Values are raw bytes: decoding is the stream's own validation, so bad input becomes a dead
letter instead of a Faust decode error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust

from schemas.topics import (
    BUDGET_ALERTS,
    BUDGET_DELTAS,
    BUDGET_STATE,
    KEYS,
    USAGE_DLQ,
    USAGE_RAW,
    Topics,
)

__all__ = ["StreamTopics"]

_RAW: dict[str, Any] = {
    "key_type": bytes,
    "value_type": bytes,
    "key_serializer": "raw",
    "value_serializer": "raw",
}


@dataclass(frozen=True)
class StreamTopics:
    names: Topics
    raw: faust.TopicT
    enriched: faust.TopicT
    dlq: faust.TopicT
    keys: faust.TopicT
    deltas: faust.TopicT
    alerts: faust.TopicT
    state: faust.TopicT

    @classmethod
    def declare(
        cls, app: faust.App, names: Topics, usage_partitions: int = USAGE_RAW.partitions
    ) -> StreamTopics:
        """The stream's topics; raw and enriched with ``usage_partitions`` (the count they
        were created with, ``METERLINE_USAGE_PARTITIONS``)."""
        return cls(
            names=names,
            raw=app.topic(names.usage_raw, partitions=usage_partitions, **_RAW),
            enriched=app.topic(names.usage_enriched, partitions=usage_partitions, **_RAW),
            dlq=app.topic(names.usage_dlq, partitions=USAGE_DLQ.partitions, **_RAW),
            keys=app.topic(names.keys, partitions=KEYS.partitions, compacting=True, **_RAW),
            deltas=app.topic(names.budget_deltas, partitions=BUDGET_DELTAS.partitions, **_RAW),
            alerts=app.topic(names.budget_alerts, partitions=BUDGET_ALERTS.partitions, **_RAW),
            state=app.topic(
                names.budget_state, partitions=BUDGET_STATE.partitions, compacting=True, **_RAW
            ),
        )
