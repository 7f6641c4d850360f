"""Configuration records become an append-only, numbered history (sinks.config_history)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from schemas.codec import encode_one
from schemas.config import (
    ACTOR_HEADER,
    CHANGE_ID_HEADER,
    CONFIG_TOPICS,
    ORIGIN_HEADER,
    config_topic,
)
from schemas.dead_letters import DeadLetter
from schemas.keys import KeyBinding
from sinks.config_history import ConfigChange, Latest, decode_change, history_rows

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
KEYS = config_topic("keys")


def binding(team: str, key: str = "k1") -> bytes:
    return encode_one(KeyBinding(api_key_id=key, team_id=team, updated_at=NOW))


def record(value: bytes | None, *, key: bytes = b"k1", offset: int = 0, headers=None):  # type: ignore[no-untyped-def]
    return decode_change(
        KEYS, topic="meterline.keys", partition=0, offset=offset, timestamp_ms=1_764_590_400_000,
        key=key, value=value, headers=headers if headers is not None else [], now=NOW,
    )  # fmt: skip


def test_every_config_topic_is_compacted_and_keyed_by_its_id_field() -> None:
    for entry in CONFIG_TOPICS:
        assert entry.spec.cleanup_policy == "compact"
        assert entry.id_field in entry.model.model_fields or hasattr(entry.model, entry.id_field)
    assert len({e.kind for e in CONFIG_TOPICS}) == len(CONFIG_TOPICS)


def test_a_change_carries_who_how_and_when_from_its_headers() -> None:
    headers = [(CHANGE_ID_HEADER, b"c-1"), (ACTOR_HEADER, b"user:ana"), (ORIGIN_HEADER, b"cli")]
    change = record(binding("t1"), headers=headers)
    assert isinstance(change, ConfigChange)
    assert (change.change_id, change.actor, change.origin, change.op) == ("c-1", "user:ana",
                                                                         "cli", "set")  # fmt: skip
    assert change.changed_at == datetime(2025, 12, 1, 12, 0, tzinfo=UTC)
    assert json.loads(change.new_value)["team_id"] == "t1"


def test_a_plain_kafka_record_is_recorded_with_a_stable_derived_id() -> None:
    first, again = record(binding("t1"), offset=7), record(binding("t1"), offset=7)
    other = record(binding("t1"), offset=8)
    assert isinstance(first, ConfigChange) and isinstance(other, ConfigChange)
    assert first == again and first.change_id != other.change_id
    assert (first.actor, first.origin) == ("", "kafka")


def test_a_tombstone_is_a_delete() -> None:
    change = record(None)
    assert isinstance(change, ConfigChange)
    assert (change.op, change.new_value) == ("delete", "")


def test_records_no_tool_writes_become_dead_letters() -> None:
    assert isinstance(record(b"{not json"), DeadLetter)
    assert isinstance(record(binding("t1", key="other")), DeadLetter)  # id differs from key
    assert isinstance(record(binding("t1"), key=b""), DeadLetter)


def _change(change_id: str, value: bytes | None, entity: str = "k1") -> ConfigChange:
    got = record(value, key=entity.encode(), headers=[(CHANGE_ID_HEADER, change_id.encode())])
    assert isinstance(got, ConfigChange)
    return got


def test_history_numbers_changes_per_id_after_the_stored_version_with_old_values() -> None:
    latest = {("keys", "k1"): Latest(3, "set", binding("t0").decode())}
    changes = [
        _change("a", binding("t1")),
        _change("b", binding("x", key="k2"), entity="k2"),
        _change("c", None),
        _change("d", binding("t2")),
    ]
    rows = history_rows(changes, latest)
    by_col = [dict(zip(("change_id", "kind", "entity_id", "version", "op", "old_value"),
                       item.row[:6], strict=True)) for item in rows]  # fmt: skip
    assert [(r["change_id"], r["entity_id"], r["version"], r["op"]) for r in by_col] == [
        ("a", "k1", 4, "set"), ("b", "k2", 1, "set"), ("c", "k1", 5, "delete"),
        ("d", "k1", 6, "set"),
    ]  # fmt: skip
    assert json.loads(by_col[0]["old_value"])["team_id"] == "t0"
    assert json.loads(by_col[2]["old_value"])["team_id"] == "t1"
    assert by_col[3]["old_value"] == ""  # after a delete there is nothing to replace
    assert latest[("keys", "k1")] == Latest(6, "set", rows[3].row[6])
