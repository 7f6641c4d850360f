"""A stream worker as a child process, for the local stack, benchmarks and tests."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from meterline.local.process import ChildProcess, ProcessNotReady, StartStop, ready_file

__all__ = ["StreamWorker", "WorkerNotReady"]


class WorkerNotReady(ProcessNotReady):
    pass


class StreamWorker(StartStop):
    """``python -m stream worker`` with ``METERLINE_*`` settings in its environment.

    ``start()`` returns once the worker wrote its ready file (partitions assigned, tables
    recovered). ``stop()`` ends it gracefully, ``kill()`` with SIGKILL as a crash would; both only
    touch the process this object started.
    """

    def __init__(
        self,
        *,
        bootstrap: str,
        topic_prefix: str,
        data_dir: Path,
        log_path: Path,
        extra_env: dict[str, str] | None = None,
        loglevel: str = "info",
        launcher: Sequence[str] = (),
    ) -> None:
        """``launcher``: interpreter arguments before ``-m stream`` (a profiler, say)."""
        self.log_path = log_path
        self.ready_path = log_path.with_name(f"{log_path.name}.ready")
        self._child = ChildProcess(
            [sys.executable, *launcher, "-m", "stream", "worker", "--without-web", "-l", loglevel],
            name="stream worker",
            env={
                "METERLINE_KAFKA_BOOTSTRAP": bootstrap,
                "METERLINE_TOPIC_PREFIX": topic_prefix,
                "METERLINE_STREAM_DATA_DIR": str(data_dir),
                **(extra_env or {}),
                "METERLINE_READY_FILE": str(self.ready_path),
            },
            log_path=log_path,
            ready=ready_file(self.ready_path),
            poll_interval=0.1,
        )

    @property
    def env(self) -> dict[str, str]:
        return self._child.env

    @property
    def pid(self) -> int | None:
        return self._child.pid

    def start(self, timeout: float = 60.0) -> StreamWorker:
        try:
            self._child.start(timeout)
        except ProcessNotReady as exc:
            raise WorkerNotReady(str(exc)) from exc
        return self

    def log_tail(self, lines: int = 40) -> str:
        return self._child.log_tail(lines)

    def stop(self, timeout: float = 15.0) -> None:
        self._child.stop(timeout)

    def kill(self) -> None:
        self._child.kill()
