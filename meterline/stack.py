"""The local stack behind ``meterline up`` and the demo: a Tansu broker (unless a Kafka already
answers), the contract's topics, a stream worker and the sink, which owns the embedded ClickHouse
directory and answers queries for every other process.

Each part is a child process this object started; ``stop()`` ends them in reverse order, by PID,
also after a failure half-way through ``start()``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from meterline.kafka_admin import create_topics
from meterline.local.process import terminate
from meterline.local.tansu import TansuBroker, kafka_answers
from schemas.topics import Topics
from sinks.testing import SinkProcess
from stream.config import StreamSettings
from stream.testing import StreamWorker

__all__ = ["LocalStack", "StackPaths"]


@dataclass(frozen=True)
class StackPaths:
    root: Path
    chdb_dir: Path | None = None

    @property
    def chdb(self) -> Path:
        return self.chdb_dir or self.root / "chdb"

    @property
    def stream(self) -> Path:
        return self.root / "stream"

    @property
    def logs(self) -> Path:
        return self.root / "logs"


@dataclass
class LocalStack:
    root: Path
    chdb_dir: Path | None = None
    bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = ""
    database: str = "meterline"
    start_broker: bool = True
    """Start a Tansu broker on ``bootstrap`` when no Kafka answers there."""
    say: Callable[[str], None] = print
    extra_env: dict[str, str] = field(default_factory=dict)
    prepare: Callable[[LocalStack], None] | None = None
    """Runs once the topics exist and before the sink and the stream worker start (bind keys,
    set budgets: the worker then loads them before its first event)."""

    api_port: int | None = None
    """Serve the report API on 127.0.0.1:``api_port`` (None: no API)."""
    api_token: str = ""

    broker: TansuBroker | None = None
    worker: StreamWorker | None = None
    sink: SinkProcess | None = None
    api: subprocess.Popen[bytes] | None = None

    @property
    def paths(self) -> StackPaths:
        return StackPaths(self.root, self.chdb_dir)

    @property
    def topics(self) -> Topics:
        return Topics(self.topic_prefix)

    def start(self) -> LocalStack:
        try:
            self._start_broker()
            partitions = StreamSettings().usage_partitions
            created = asyncio.run(
                create_topics(self.bootstrap, self.topics, usage_partitions=partitions)
            )
            fresh = sum(1 for state in created.values() if state == "created")
            self.say(f"topics     {len(created)} ready ({fresh} created)")
            if self.prepare is not None:
                self.prepare(self)
            self.sink = SinkProcess(
                bootstrap=self.bootstrap,
                topic_prefix=self.topic_prefix,
                data_dir=self.paths.chdb,
                log_path=self.paths.logs / "sink.log",
                database=self.database,
                batch_seconds=0.5,
                extra_env=self.extra_env,
            ).start()
            self.say(f"sink       pid {self.sink.pid}, ClickHouse (chDB) in {self.paths.chdb}")
            self.worker = StreamWorker(
                bootstrap=self.bootstrap,
                topic_prefix=self.topic_prefix,
                data_dir=self.paths.stream,
                log_path=self.paths.logs / "stream.log",
                extra_env=self.extra_env,
            )
            self.worker.start()
            self.say(f"stream     pid {self.worker.pid}, logs in {self.paths.logs}")
            if self.api_port is not None:
                self._start_api(self.api_port)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_broker(self) -> None:
        host, _, port = self.bootstrap.rpartition(":")
        if "," not in self.bootstrap and kafka_answers(host, int(port)):
            self.say(f"kafka      using the broker at {self.bootstrap}")
            return
        if not self.start_broker or host not in ("127.0.0.1", "localhost"):
            raise RuntimeError(f"no Kafka broker answers at {self.bootstrap}")
        self.broker = TansuBroker(
            port=int(port), host="127.0.0.1", log_path=self.paths.logs / "tansu.log"
        ).start()
        self.say(f"kafka      Tansu broker pid {self.broker.pid} on {self.bootstrap} (memory)")

    def _start_api(self, port: int, timeout: float = 30.0) -> None:
        """``meterline api`` as a child: it reads the store through the sink's endpoint."""
        env = {
            **os.environ,
            **self.extra_env,
            "METERLINE_CLICKHOUSE_URL": f"chdb://{self.paths.chdb.resolve()}",
            "METERLINE_CLICKHOUSE_DATABASE": self.database,
            "METERLINE_REPORT_API_TOKEN": self.api_token,
        }
        log = open(self.paths.logs / "api.log", "ab")  # noqa: SIM115 - the child keeps it
        try:
            self.api = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "meterline",
                    "api",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.api.poll() is not None:
                raise RuntimeError(f"report API exited; see {self.paths.logs / 'api.log'}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"report API did not answer on port {port} in {timeout}s")
        self.say(f"api        pid {self.api.pid}, http://127.0.0.1:{port}/docs")

    def _stop_api(self) -> None:
        api, self.api = self.api, None
        terminate(api, 10)

    def stop(self) -> None:
        self._stop_api()
        for part in (self.worker, self.sink, self.broker):
            if part is not None:
                part.stop()
        self.worker = self.sink = self.broker = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
