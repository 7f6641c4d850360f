"""Faust handles of the stream's topics (names from ``schemas.topics`` under the prefix).

Values are raw bytes: decoding is the stream's own validation, so bad input becomes a dead
letter instead of a Faust decode error.
"""

from __future__ import annotations

from schemas.topics import KEYS, USAGE_DLQ
from stream.app import app, settings, topic_names

__all__ = ["dlq_topic", "enriched_topic", "keys_topic", "raw_topic"]

_RAW = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}

raw_topic = app.topic(topic_names.usage_raw, partitions=settings.usage_partitions, **_RAW)
enriched_topic = app.topic(
    topic_names.usage_enriched, partitions=settings.usage_partitions, **_RAW
)
dlq_topic = app.topic(topic_names.usage_dlq, partitions=USAGE_DLQ.partitions, **_RAW)
keys_topic = app.topic(topic_names.keys, partitions=KEYS.partitions, compacting=True, **_RAW)
