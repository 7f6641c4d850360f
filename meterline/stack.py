"""The local stack behind ``meterline up`` and the demo: a Tansu broker (unless a Kafka already
answers), the contract's topics, a stream worker and the sink, which owns the embedded ClickHouse
directory and answers queries for every other process.

Each part is a child process this object started; ``stop()`` ends them in reverse order, by PID,
also after a failure half-way through ``start()``.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from aiokafka.errors import KafkaError

from meterline.drain import GroupInput, backlog, drain
from meterline.kafka_admin import create_topics
from meterline.local.process import ChildProcess, ProcessNotReady, http_ok
from meterline.local.sink import SinkProcess
from meterline.local.stream import StreamWorker
from meterline.local.tansu import TansuBroker, kafka_answers
from meterline.opening import wait_for_states
from meterline.restore import restore_before_workers
from schemas.config import CONFIG_TOPICS
from schemas.topics import Topics
from stream.config import StreamSettings

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

    sink_batch_seconds: float = 0.2
    """The sink's flush interval. With the in-memory local broker it bounds how long an
    acknowledged event exists only on the broker (see docs/restart-safety.md)."""
    stream_app_id: str = "meterline-stream"
    budget_late_grace_s: int = 300
    restored_policies: set[str] = field(default_factory=set)
    """Policies whose budget window the last ``start()`` rebuilt from the store."""

    api_port: int | None = None
    """Serve the report API on 127.0.0.1:``api_port`` (None: no API)."""
    api_token: str = ""

    broker: TansuBroker | None = None
    worker: StreamWorker | None = None
    sink: SinkProcess | None = None
    api: ChildProcess | None = None

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
                batch_seconds=self.sink_batch_seconds,
                extra_env=self.extra_env,
            ).start()
            self.say(f"sink       pid {self.sink.pid}, ClickHouse (chDB) in {self.paths.chdb}")
            since = datetime.now(UTC)
            self.restored_policies = asyncio.run(
                restore_before_workers(
                    self.bootstrap, self.topics, self.sink.client, self.database,
                    app_id=f"{self.topic_prefix}{self.stream_app_id}",
                    grace_s=self.budget_late_grace_s, now=since, say=self.say,
                )
            )  # fmt: skip
            self.worker = StreamWorker(
                bootstrap=self.bootstrap,
                topic_prefix=self.topic_prefix,
                data_dir=self.paths.stream,
                log_path=self.paths.logs / "stream.log",
                extra_env=self.extra_env,
            )
            self.worker.start()
            self.say(f"stream     pid {self.worker.pid}, logs in {self.paths.logs}")
            if self.restored_policies:
                self._await_budget_states(since)
            if self.api_port is not None:
                self._start_api(self.api_port)
        except BaseException:
            self.stop()
            raise
        return self

    def _await_budget_states(self, since: datetime, timeout: float = 60.0) -> None:
        """Block until the stream evaluated every rebuilt window (bounded): gateways then see
        the same budget state as before the restart."""
        wanted = self.restored_policies
        done = asyncio.run(
            wait_for_states(self.bootstrap, self.topics, wanted, since, timeout_s=timeout)
        )
        if done:
            self.say(f"budgets    {len(wanted)} budget states published")
        else:
            self.say(f"budgets    warning: not every rebuilt budget was evaluated in {timeout}s")

    def _start_broker(self) -> None:
        host, _, port = self.bootstrap.rpartition(":")
        if "," in self.bootstrap or kafka_answers(host, int(port)):
            # A list of addresses is a real cluster: never start a local broker for it.
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
        api = ChildProcess(
            [sys.executable, "-m", "meterline", "api", "--host", "127.0.0.1", "--port", str(port)],
            name="report API",
            env={
                **self.extra_env,
                "METERLINE_CLICKHOUSE_URL": f"chdb://{self.paths.chdb.resolve()}",
                "METERLINE_CLICKHOUSE_DATABASE": self.database,
                "METERLINE_REPORT_API_TOKEN": self.api_token,
                # The console's budget pages follow this stack's topics.
                "METERLINE_KAFKA_BOOTSTRAP": self.bootstrap,
                "METERLINE_TOPIC_PREFIX": self.topic_prefix,
            },
            log_path=self.paths.logs / "api.log",
            ready=http_ok(f"http://127.0.0.1:{port}/healthz"),
            poll_interval=0.2,
        )
        try:
            self.api = api.start(timeout)
        except ProcessNotReady as exc:
            raise RuntimeError(f"report API did not start: {exc}") from exc
        self.say(f"api        pid {api.pid}, console http://127.0.0.1:{port}/ (docs /docs)")

    def serve_api(self, port: int, token: str, env: dict[str, str] | None = None) -> None:
        """Start the report API and console on a running stack (``env``: extra settings for
        it, e.g. a plans file)."""
        self.api_token = token
        self.extra_env = {**self.extra_env, **(env or {})}
        self._start_api(port)

    def drain(self, timeout: float = 60.0, cancelled: Callable[[], bool] = lambda: False) -> bool:
        """Stop serving the API, then wait (bounded, with a progress line) until the stream
        and the sink have consumed and committed everything on the broker; True when they
        did. A KeyboardInterrupt (a second Ctrl-C) or ``cancelled()`` ends the wait early."""
        self._stop_api()
        if self.worker is None or self.sink is None:
            return False
        topics = self.topics
        groups = (
            GroupInput("stream", f"{self.topic_prefix}{self.stream_app_id}",
                       (topics.usage_raw, topics.usage_enriched, topics.budget_deltas)),
            GroupInput("sink", self.extra_env.get("METERLINE_SINK_GROUP_ID", "meterline-sink"),
                       (topics.usage_enriched, topics.usage_dlq, topics.budget_alerts,
                        *(topics.name(c.spec) for c in CONFIG_TOPICS))),
        )  # fmt: skip
        try:
            return drain(
                lambda: asyncio.run(backlog(self.bootstrap, groups)),
                timeout_s=timeout, say=self.say, cancelled=cancelled,
            )  # fmt: skip
        except KeyboardInterrupt:
            self.say("drain      interrupted: stopping now")
            return False
        except (KafkaError, OSError, ValueError) as exc:
            self.say(f"drain      cannot measure the backlog ({exc}): stopping now")
            return False

    def _stop_api(self) -> None:
        api, self.api = self.api, None
        if api is not None:
            api.stop(10)

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
        try:
            if exc_type is KeyboardInterrupt:
                self.say("stopping: draining first (Ctrl-C again to stop now)")
                self.drain()
        finally:
            self.stop()
