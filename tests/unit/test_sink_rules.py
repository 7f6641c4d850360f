"""Pure sink rules: error classification, owner file,
settings and the migration list."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from sinks.config import SinkSettings
from sinks.errors import clickhouse_error_code, is_data_error
from sinks.migrations import MIGRATIONS, validate_database_name
from sinks.owner import OWNER_FILE, OwnerInfo, read_owner, remove_owner, write_owner
from sinks.store import RetryPolicy


class _ChError(Exception):
    pass


@pytest.mark.parametrize(
    ("exc", "data"),
    [
        (_ChError("Code: 469. DB::Exception: Constraint `x` is violated"), True),
        (_ChError("Code: 53. DB::Exception: Type mismatch"), True),
        (_ChError("Code: 241. DB::Exception: Memory limit exceeded"), False),
        (_ChError("Code: 210. Connection refused"), False),
        (ConnectionError("reset by peer"), False),
        (TimeoutError(), False),
        (OverflowError("int too big"), True),
        (struct.error("argument out of range"), True),
    ],
)
def test_data_errors_are_told_from_database_trouble(exc, data):
    assert is_data_error(exc) is data


def test_error_code_prefers_the_attribute():
    exc = _ChError("Code: 1. whatever")
    exc.code = 469  # type: ignore[attr-defined]
    assert clickhouse_error_code(exc) == 469
    assert clickhouse_error_code(_ChError("no code here")) is None


def test_retry_backoff_doubles_up_to_the_cap():
    delays = RetryPolicy(first_s=0.1, max_s=0.5).delays()
    assert [round(next(delays), 3) for _ in range(6)] == [0.1, 0.2, 0.4, 0.5, 0.5, 0.5]


def test_owner_file_round_trip_private_and_stale_detection(tmp_path: Path):
    info = OwnerInfo(pid=os.getpid(), url="http://127.0.0.1:1234", token="s3cret")
    path = write_owner(tmp_path, info)
    assert path.name == OWNER_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    assert read_owner(tmp_path) == info and info.alive()
    remove_owner(tmp_path, pid=info.pid + 1)  # not ours: kept
    assert read_owner(tmp_path) == info
    remove_owner(tmp_path, pid=info.pid)
    assert read_owner(tmp_path) is None


def test_owner_of_a_dead_pid_is_stale(tmp_path: Path):
    # pid_max is below 2**22 on Linux; this pid cannot run.
    assert not OwnerInfo(pid=2**22 + 12345, url="http://x", token="t").alive()
    (tmp_path / OWNER_FILE).write_text("{not json")
    assert read_owner(tmp_path) is None


def test_settings_defaults_and_validation(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith("METERLINE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    settings = SinkSettings()
    assert settings.url == "chdb://.meterline/chdb"
    assert settings.embedded_dir == tmp_path / ".meterline" / "chdb"
    assert (settings.sink_batch_rows, settings.sink_batch_seconds) == (10_000, 1.0)
    monkeypatch.setenv("METERLINE_CLICKHOUSE_URL", "http://u:p@ch:8123")
    assert SinkSettings().embedded_dir is None
    assert "p@" not in repr(SinkSettings())
    monkeypatch.setenv("METERLINE_CLICKHOUSE_URL", "mysql://x")
    with pytest.raises(ValueError, match="chdb://"):
        SinkSettings()
    monkeypatch.setenv("METERLINE_CLICKHOUSE_URL", "chdb:///x")
    monkeypatch.setenv("METERLINE_CLICKHOUSE_DATABASE", "bad-name; DROP")
    with pytest.raises(ValueError):
        SinkSettings()


def test_migrations_are_ordered_unique_and_name_their_database():
    versions = [m.version for m in MIGRATIONS]
    assert versions == sorted(set(versions)) and versions[0] == 1
    for migration in MIGRATIONS:
        assert all("{db}." in statement for statement in migration.statements)
    with pytest.raises(Exception, match="letters"):
        validate_database_name("x; DROP DATABASE y")
