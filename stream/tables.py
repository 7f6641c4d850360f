"""Faust tables of the stream.

* ``seen``: dedupe memory, one entry per raw record (``"partition/offset"`` ->
  ``{"ids": [...], "at": iso}``), written once per record, changelog-backed (so it survives a
  restart and follows its partition on a rebalance), deleted past the dedupe horizon.
* ``keys``: a GlobalTable over the compacted ``meterline.keys`` topic itself (raw
  ``KeyBinding`` JSON values; a null value unbinds). Every worker holds all bindings.
* ``subjects``: budget state per ``scope:subject`` (``SubjectState.to_json()``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust

from schemas.topics import BUDGET_DELTAS, KEYS
from stream.budget_state import SUBJECTS_TABLE
from stream.topics import StreamTopics

__all__ = ["StreamTables"]


class _TopicGlobalTable(faust.GlobalTable):
    """A GlobalTable whose changelog is an existing topic of ours.

    Faust's assignor looks a global table's changelog up by the default name
    (``<app id>-<table>-changelog``) even when ``changelog_topic`` is given, fails to find it
    and never finishes the assignment; naming the real topic here avoids that.
    """

    def __init__(self, app: faust.App, *, changelog_topic: faust.TopicT, **kwargs: Any) -> None:
        self._source_topic_name = changelog_topic.get_topic_name()
        super().__init__(app, changelog_topic=changelog_topic, **kwargs)

    def _changelog_topic_name(self) -> str:
        return self._source_topic_name


@dataclass(frozen=True)
class StreamTables:
    seen: Any
    keys: Any
    subjects: Any

    @classmethod
    def declare(cls, app: faust.App, topics: StreamTopics) -> StreamTables:
        seen = app.Table(
            "seen",
            partitions=topics.raw.partitions,  # Faust wants a source's count for its changelog
            # No key/value types: Faust would try to revive a ``dict`` as a model on recovery.
            schema=faust.Schema(key_serializer="json", value_serializer="json"),
            help="event ids per raw record position, for dedupe",
        )
        keys = app.tables.add(
            _TopicGlobalTable(
                app,
                name="keys",
                beacon=app.tables.beacon,
                partitions=KEYS.partitions,
                changelog_topic=topics.keys,
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
        subjects = app.Table(
            SUBJECTS_TABLE,
            default=None,
            partitions=BUDGET_DELTAS.partitions,
            key_type=str,
        )
        return cls(seen=seen, keys=keys, subjects=subjects)
