"""Faust handles of the budget topics (names from ``schemas.topics`` under the prefix).

Values are raw bytes, as in ``stream.topics``: the budget agents decode and validate them.
"""

from __future__ import annotations

from schemas.topics import BUDGET_ALERTS, BUDGET_DELTAS, BUDGET_STATE
from stream.app import app, topic_names

__all__ = ["alerts_topic", "deltas_topic", "state_topic"]

_BYTES = {
    "key_type": bytes,
    "value_type": bytes,
    "key_serializer": "raw",
    "value_serializer": "raw",
}

deltas_topic = app.topic(topic_names.budget_deltas, partitions=BUDGET_DELTAS.partitions, **_BYTES)
alerts_topic = app.topic(topic_names.budget_alerts, partitions=BUDGET_ALERTS.partitions, **_BYTES)
state_topic = app.topic(
    topic_names.budget_state, partitions=BUDGET_STATE.partitions, compacting=True, **_BYTES
)
