"""Faust tables of the stream.

* ``seen_table``: dedupe memory, one entry per raw record (``"partition/offset"`` ->
  ``{"ids": [...], "at": iso}``), written once per record, changelog-backed (so it survives a
  restart and follows its partition on a rebalance), deleted past the dedupe horizon.
* ``keys_table``: a GlobalTable over the compacted ``meterline.keys`` topic itself (raw
  ``KeyBinding`` JSON values; a null value unbinds). Every worker holds all bindings.
"""

from __future__ import annotations

import faust

from schemas.topics import KEYS
from stream.app import app, settings
from stream.topics import keys_topic

__all__ = ["keys_table", "seen_table"]

seen_table = app.Table(
    "seen",
    partitions=settings.usage_partitions,
    # No key/value types: Faust would try to revive a ``dict`` type as a model on recovery.
    schema=faust.Schema(key_serializer="json", value_serializer="json"),
    help="event ids per raw record position, for dedupe",
)


class _TopicGlobalTable(faust.GlobalTable):
    """A GlobalTable whose changelog is an existing topic of ours.

    Faust's assignor looks a global table's changelog up by the default name
    (``<app id>-<table>-changelog``) even when ``changelog_topic`` is given, fails to find it
    and never finishes the assignment; naming the real topic here avoids that.
    """

    def _changelog_topic_name(self) -> str:
        return keys_topic.get_topic_name()


keys_table = app.tables.add(
    _TopicGlobalTable(
        app,
        name="keys",
        beacon=app.tables.beacon,
        partitions=KEYS.partitions,
        changelog_topic=keys_topic,
        schema=faust.Schema(
            key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
        ),
        is_global=True,
        # Apply binding changes as they come; Faust's advice for a GlobalTable read by
        # several workers.
        standby_buffer_size=1,
        recovery_buffer_size=1,
        help="api_key_id -> KeyBinding JSON",
    )
)
