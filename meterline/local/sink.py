"""The sink as a child process with its own chDB directory, for the local stack, benchmarks
and tests.

``SinkProcess(...).start()`` returns once the sink migrated its schema and its query endpoint
listens (it writes its ready file); ``query(sql)`` asks it over that endpoint (the caller keeps
its own chDB dir); ``kill()`` ends it with SIGKILL as a crash would, ``stop()`` with SIGTERM
(last batch stored and committed), and ``start()`` again restarts it on the same directory.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from meterline.local.process import ChildProcess, ProcessNotReady, StartStop, ready_file
from sinks.owner import read_owner
from sinks.query_client import RemoteQueryClient, RemoteResult

__all__ = ["SinkNotReady", "SinkProcess"]


class SinkNotReady(ProcessNotReady):
    pass


class SinkProcess(StartStop):
    def __init__(
        self,
        *,
        bootstrap: str,
        topic_prefix: str,
        data_dir: Path,
        log_path: Path | None = None,
        database: str = "meterline",
        group_id: str = "meterline-sink",
        batch_rows: int = 10_000,
        batch_seconds: float = 0.5,
        extra_env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.log_path = log_path or self.data_dir.parent / f"{self.data_dir.name}-sink.log"
        self.ready_path = self.log_path.with_name(f"{self.log_path.name}.ready")
        self.database = database
        self._child = ChildProcess(
            [sys.executable, "-m", "sinks"],
            name="sink",
            env={
                "METERLINE_KAFKA_BOOTSTRAP": bootstrap,
                "METERLINE_TOPIC_PREFIX": topic_prefix,
                "METERLINE_CLICKHOUSE_URL": f"chdb://{self.data_dir.resolve()}",
                "METERLINE_CLICKHOUSE_DATABASE": database,
                "METERLINE_SINK_GROUP_ID": group_id,
                "METERLINE_SINK_BATCH_ROWS": str(batch_rows),
                "METERLINE_SINK_BATCH_SECONDS": str(batch_seconds),
                "METERLINE_SINK_STATS_INTERVAL_S": "2",
                **(extra_env or {}),
                "METERLINE_READY_FILE": str(self.ready_path),
            },
            log_path=self.log_path,
            ready=ready_file(self.ready_path),
            cwd=cwd,
        )
        self._client: RemoteQueryClient | None = None

    @property
    def env(self) -> dict[str, str]:
        return self._child.env

    @property
    def pid(self) -> int | None:
        return self._child.pid

    def running(self) -> bool:
        return self._child.running()

    def start(self, timeout: float = 60.0) -> SinkProcess:
        try:
            self._child.start(timeout)
        except ProcessNotReady as exc:
            raise SinkNotReady(str(exc)) from exc
        owner = read_owner(self.data_dir)
        if owner is None or owner.pid != self._child.pid:
            self._child.kill()
            raise SinkNotReady(f"the sink wrote no owner file; log:\n{self.log_tail()}")
        self._client = RemoteQueryClient(owner.url, owner.token)
        return self

    @property
    def client(self) -> RemoteQueryClient:
        if self._client is None:
            raise SinkNotReady("the sink is not running (start() it first)")
        return self._client

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> RemoteResult:
        """Read-only SQL through the sink's endpoint; ``{db}`` in ``sql`` is its database."""
        return self.client.query(sql.replace("{db}", self.database), parameters)

    def stats(self) -> dict:
        return self.client.stats()

    def wait_until(self, sql: str, expected: Any, timeout: float = 60.0) -> Any:
        """Poll ``sql`` (first column of the first row) until it equals ``expected``; returns
        the last value seen (which differs from ``expected`` on timeout)."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.query(sql).result_rows[0][0]
            if value == expected:
                return value
            time.sleep(0.2)
        return value

    def log_tail(self, lines: int = 40) -> str:
        return self._child.log_tail(lines)

    def _close_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def stop(self, timeout: float = 20.0) -> None:
        self._close_client()
        self._child.stop(timeout)

    def kill(self) -> None:
        """SIGKILL, as a crash would: nothing is flushed, the owner file is left stale."""
        self._close_client()
        self._child.kill()
