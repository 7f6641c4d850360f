"""Restore, export/import, history text and drain rules (pure parts of issue 13)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from meterline.config_changes import Change, TopicRecord
from meterline.config_diff import describe_change
from meterline.config_file import (
    MAX_FILE_BYTES,
    ConfigFileError,
    parse_config_file,
    render_config_file,
)
from meterline.config_store import HistoryEntry, StoredConfig
from meterline.drain import Backlog, drain
from meterline.opening import tally_start
from meterline.restore import plan_restore
from schemas.budgets import BudgetPolicy
from schemas.keys import KeyBinding
from schemas.limits import LimitPolicy

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def stored(entity: str, change_id: str, value: str = '{"v":1}', op: str = "set") -> StoredConfig:
    return StoredConfig("keys", entity, 2, op, value if op == "set" else "", change_id, NOW)


def test_restore_republishes_what_the_topic_lacks_or_holds_older_and_leaves_newer() -> None:
    rows = [
        stored("missing", "m2"),
        stored("deleted-missing", "d2", op="delete"),
        stored("in-sync", "s2"),
        stored("behind", "b2", '{"v":2}'),
        stored("behind-deleted", "x2", op="delete"),
        stored("ahead", "a1"),
    ]
    on_topic = {
        "in-sync": TopicRecord(b'{"v":1}', "s2"),
        "behind": TopicRecord(b'{"v":1}', "b1"),
        "behind-deleted": TopicRecord(b'{"v":1}', "x1"),
        "ahead": TopicRecord(b'{"v":9}', "a9-not-recorded-yet"),
        "unknown-to-store": TopicRecord(b"{}", "u1"),
    }
    plan = plan_restore(rows, on_topic, known={"s2", "b1", "x1"})
    assert plan == [
        Change("missing", b'{"v":1}', "m2"),
        Change("behind", b'{"v":2}', "b2"),
        Change("behind-deleted", None, "x2"),
    ]


def test_restore_of_an_empty_topic_republishes_every_live_id_with_its_change_id() -> None:
    rows = [stored("a", "1"), stored("b", "2"), stored("c", "3", op="delete")]
    assert [(c.key, c.change_id) for c in plan_restore(rows, {}, set())] == [("a", "1"), ("b", "2")]


def _policy(limit: str = "50") -> BudgetPolicy:
    return BudgetPolicy(policy_id="p1", scope="customer", subject="acme", limit=limit,
                        updated_at=NOW)  # fmt: skip


def test_export_then_import_gives_back_the_same_models() -> None:
    binding = KeyBinding(api_key_id="k1", team_id="t", owner_customer="acme", updated_at=NOW)
    limit = LimitPolicy(scope="customer", subject="acme", rpm=60, updated_at=NOW)
    config = {"keys": [binding], "budgets": [_policy()], "limits": [limit]}
    text = render_config_file(config, NOW)
    assert parse_config_file(text.encode(), NOW + timedelta(days=1)) == config


def test_import_fills_updated_at_and_keeps_money_exact() -> None:
    doc = {"budgets": [{"policy_id": "p1", "scope": "key", "subject": "k", "limit": "0.1"}]}
    [policy] = parse_config_file(yaml.safe_dump(doc).encode(), NOW)["budgets"]
    assert str(policy.limit) == "0.1" and policy.updated_at == NOW


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("- just a list", "mapping"),
        ("quotas: []", "unknown sections"),
        ("meterline_config: 2", "version"),
        ("keys: [{api_key_id: k1}, {api_key_id: k1}]", "duplicate"),
        ("budgets: [{policy_id: p, scope: planet, subject: s, limit: '-1'}]", "budgets[0].scope"),
        ("keys: [{api_key_id: k1, secret: x}]", "keys[0].secret"),
        ("keys: !!python/object/apply:os.system ['true']", "not YAML"),
        ("keys: [1, 2]", "keys[0]: must be a mapping"),
    ],
)
def test_import_refuses_a_bad_file_as_a_whole(text: str, reason: str) -> None:
    with pytest.raises(ConfigFileError, match=re.escape(reason)):
        parse_config_file(text.encode(), NOW)


def test_import_refuses_an_oversized_file_before_parsing() -> None:
    with pytest.raises(ConfigFileError, match="larger"):
        parse_config_file(b"#" * (MAX_FILE_BYTES + 1), NOW)


def test_history_text_names_set_fields_then_only_what_changed() -> None:
    first = json.dumps({"api_key_id": "k", "team_id": "a", "updated_at": "x"})
    second = json.dumps({"api_key_id": "k", "team_id": "b", "updated_at": "y"})
    assert describe_change("set", "", first, "api_key_id") == "team_id='a'"
    assert describe_change("set", first, second, "api_key_id") == "team_id: 'a' → 'b'"
    assert describe_change("set", first, first, "api_key_id") == "(no field changed)"
    assert describe_change("delete", second, "", "api_key_id") == "deleted"


def _entry(version: int, op: str, at: datetime, **fields: str) -> HistoryEntry:
    value = {"scope": "customer", "subject": "acme", "unit": "usd", "window": "24h", **fields}
    return HistoryEntry(version, f"c{version}", op, "", json.dumps(value) if op == "set" else "",
                        "user:x", "cli", at, at)  # fmt: skip


def test_tally_starts_at_creation_and_restarts_on_delete_or_a_new_basis_only() -> None:
    t = [NOW + timedelta(minutes=i) for i in range(6)]
    assert tally_start([]) is None
    assert tally_start([_entry(1, "set", t[0]), _entry(2, "set", t[1], limit="9")]) == t[0]
    assert tally_start([_entry(1, "set", t[0]), _entry(2, "set", t[1], window="7d")]) == t[1]
    history = [_entry(1, "set", t[0]), _entry(2, "delete", t[1]), _entry(3, "set", t[2])]
    assert tally_start(history) == t[2]
    assert tally_start([*history, _entry(4, "delete", t[3])]) is None


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_drain_waits_until_nothing_is_behind_and_says_progress_once_per_change() -> None:
    clock, lines = FakeClock(), []
    backlogs = iter(Backlog({"stream": s, "sink": k}) for s, k in [(9, 3), (9, 3), (0, 2), (0, 0)])
    assert drain(lambda: next(backlogs), timeout_s=10, say=lines.append, clock=clock,
                 sleep=clock.sleep)  # fmt: skip
    assert [line.split(" (")[0] for line in lines] == [
        "draining   stream 9 behind, sink 3 behind",
        "draining   stream 0 behind, sink 2 behind",
        "drained    stream and sink consumed everything on the broker",
    ]


def test_drain_is_bounded_and_a_second_ctrl_c_ends_it() -> None:
    clock, lines = FakeClock(), []
    stuck = Backlog({"stream": 1, "sink": 0})
    assert not drain(lambda: stuck, timeout_s=3, say=lines.append, clock=clock, sleep=clock.sleep)
    assert "gave up after 3 s" in lines[-1] and clock.now <= 3.5
    assert not drain(lambda: stuck, timeout_s=60, say=lines.append, cancelled=lambda: True)
    assert "skipped" in lines[-1]
