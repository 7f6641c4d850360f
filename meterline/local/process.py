"""One way to run a child process: spawn with an environment, wait for an explicit readiness
signal, end it by PID (SIGTERM, then SIGKILL), and quote its log when something goes wrong.

Readiness is a probe the parent polls, and every probe here asks for a signal the child gives
on purpose: a *ready file* it writes once it serves (:func:`ready_file`, paired with
``METERLINE_READY_FILE``), an HTTP health endpoint (:func:`http_ok`), or the service's own
protocol (the Kafka probe of :mod:`meterline.local.tansu`). Never a grep of incidental log
lines: those change with a library's version.

Only the process a :class:`ChildProcess` started is ever signalled.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

__all__ = [
    "ChildProcess",
    "ProcessNotReady",
    "ReadyProbe",
    "StartStop",
    "http_ok",
    "ready_file",
    "terminate",
]

ReadyProbe = Callable[["ChildProcess"], bool]
"""True once the child signalled that it is ready; polled until then."""


class ProcessNotReady(RuntimeError):
    """The child exited, or gave no readiness signal in time; the message quotes its log."""


def terminate(
    process: subprocess.Popen[Any] | None,
    timeout: float,
    sig: signal.Signals = signal.SIGTERM,
) -> None:
    """Send ``process`` ``sig`` (SIGTERM), and SIGKILL it if it has not exited after ``timeout``
    seconds. Always reaps it; a process that already exited is left alone."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def ready_file(path: Path) -> ReadyProbe:
    """Ready once ``path`` holds the child's pid (so a file left by an earlier run never
    counts). The child learns the path from ``METERLINE_READY_FILE``."""

    def probe(child: ChildProcess) -> bool:
        try:
            return path.read_text().strip() == str(child.pid)
        except OSError:
            return False

    return probe


def http_ok(url: str, timeout: float = 1.0) -> ReadyProbe:
    """Ready once ``GET url`` answers 2xx (a health endpoint)."""

    def probe(_child: ChildProcess) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as answer:
                return 200 <= answer.status < 300
        except OSError:
            return False

    return probe


class StartStop:
    """``with`` for a class with ``start()`` (returning itself) and ``stop()``: entering starts
    it, leaving stops it, also on failure."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ChildProcess(StartStop):
    """``command`` as a child process in its own session, with ``env`` added to ours.

    ``start()`` returns once ``ready`` holds (no probe: at once) and raises
    :class:`ProcessNotReady` with the log tail when the child exits first or ``timeout``
    passes; the child is then killed. Output goes to ``log_path`` (appended, so a restart keeps
    the earlier run's lines), or with ``pipes=True`` stdin/stdout are text pipes the caller
    speaks over (stderr still goes to the log). ``stop()`` is SIGTERM-then-SIGKILL (or another
    first signal, such as SIGINT for Ctrl-C), ``kill()`` SIGKILL as a crash would; both are
    safe to call twice, and ``start()`` again restarts.
    """

    def __init__(
        self,
        command: Sequence[str],
        *,
        name: str,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
        ready: ReadyProbe | None = None,
        cwd: Path | None = None,
        pipes: bool = False,
        poll_interval: float = 0.05,
    ) -> None:
        self.command = list(command)
        self.name = name
        self.env = {**os.environ, **(env or {})}
        self.log_path = log_path
        self.ready = ready
        self.cwd = cwd
        self.pipes = pipes
        self.poll_interval = poll_interval
        self._process: subprocess.Popen[Any] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def stdin(self) -> IO[str] | None:
        return self._process.stdin if self._process else None

    @property
    def stdout(self) -> IO[str] | None:
        return self._process.stdout if self._process else None

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 60.0) -> ChildProcess:
        if self.running():
            return self
        log = self._open_log()
        try:
            output: IO[bytes] | int = subprocess.DEVNULL if log is None else log
            self._process = subprocess.Popen(
                self.command,
                stdin=subprocess.PIPE if self.pipes else subprocess.DEVNULL,
                stdout=subprocess.PIPE if self.pipes else output,
                # A piped child without a log keeps our stderr, so its errors are seen.
                stderr=None if self.pipes and log is None else output,
                text=self.pipes,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        finally:
            if log is not None:
                log.close()  # the child holds its own descriptor
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.kill()
            raise
        return self

    def _open_log(self) -> IO[bytes] | None:
        if self.log_path is None:
            return None
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        return open(self.log_path, "ab")  # closed once the child has it

    def _wait_ready(self, timeout: float) -> None:
        process = self._process
        assert process is not None
        if self.ready is None:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ProcessNotReady(
                    f"{self.name} exited with status {process.returncode} before it was "
                    f"ready; log:\n{self.log_tail()}"
                )
            if self.ready(self):
                return
            time.sleep(self.poll_interval)
        raise ProcessNotReady(f"{self.name} not ready in {timeout}s; log:\n{self.log_tail()}")

    def wait(self, timeout: float) -> int | None:
        """The exit status once the child exited within ``timeout``, else None."""
        if self._process is None:
            return None
        try:
            return self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def communicate(self, timeout: float) -> tuple[int, str]:
        """With ``pipes=True``: close stdin, read stdout until the child exits, within
        ``timeout`` seconds (else :class:`subprocess.TimeoutExpired`); its exit status and what
        it printed."""
        process = self._process
        if process is None:
            raise ProcessNotReady(f"{self.name} is not started")
        out, _ = process.communicate(timeout=timeout)
        return process.returncode, out or ""

    def send_signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the child (and nothing once it exited); ``wait()`` for its status."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(sig)

    def stop(self, timeout: float = 15.0, sig: signal.Signals = signal.SIGTERM) -> None:
        """``sig`` (SIGTERM), then SIGKILL after ``timeout`` seconds; reaps the child."""
        process, self._process = self._process, None
        self._close_pipes(process)
        terminate(process, timeout, sig)

    def kill(self) -> None:
        """SIGKILL, as a crash would: the child flushes nothing."""
        process, self._process = self._process, None
        self._close_pipes(process)
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    @staticmethod
    def _close_pipes(process: subprocess.Popen[Any] | None) -> None:
        if process is None:
            return
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None:
            return "(no log)"
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])
