"""A ``BudgetGuard`` in its own process (``python -m producers.testing``), so a test can check
enforcement from a separate gateway process."""

from __future__ import annotations

import json
import sys

from meterline.local.process import ChildProcess, StartStop

__all__ = ["GuardProcess"]


class GuardProcess(StartStop):
    """A guard subprocess; ``check(key)`` asks it. Stopped by PID on exit, also on failure."""

    def __init__(self, *, bootstrap: str, topic_prefix: str, fail_mode: str = "open") -> None:
        self._child = ChildProcess(
            [sys.executable, "-m", "producers.testing"],
            name="guard process",
            env={
                "METERLINE_KAFKA_BOOTSTRAP": bootstrap,
                "METERLINE_TOPIC_PREFIX": topic_prefix,
                "METERLINE_GUARD_FAIL_MODE": fail_mode,
            },
            pipes=True,
        )

    def start(self) -> GuardProcess:
        self._child.start()
        stdout = self._child.stdout
        assert stdout is not None
        # The child prints this line on purpose once its guard has started.
        line = stdout.readline().strip()
        if line != "ready":
            self.stop()
            raise RuntimeError(f"guard process did not start: {line!r}")
        return self

    def check(self, api_key_id: str) -> dict:
        stdin, stdout = self._child.stdin, self._child.stdout
        if not self._child.running() or stdin is None or stdout is None:
            raise RuntimeError("guard process is not running")
        stdin.write(api_key_id + "\n")
        stdin.flush()
        return json.loads(stdout.readline())

    def stop(self) -> None:
        # End of input is the child's cue to stop its guard; SIGTERM only if it does not.
        stdin = self._child.stdin
        if stdin is not None:
            stdin.close()
        if self._child.wait(10) is None:
            self._child.kill()
        self._child.stop()
