"""Test helpers shipped with the producers: a ``BudgetGuard`` in its own process.

``python -m producers.testing`` starts a ``SyncBudgetGuard`` from ``METERLINE_*`` settings,
prints ``ready``, then answers each api_key_id read on stdin with one JSON decision line.
``GuardProcess`` drives it, so a test can check enforcement from a separate gateway process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import TracebackType

__all__ = ["GuardProcess"]


class GuardProcess:
    """A guard subprocess; ``check(key)`` asks it. Stopped by PID on exit, also on failure."""

    def __init__(self, *, bootstrap: str, topic_prefix: str, fail_mode: str = "open") -> None:
        self.env = {
            **os.environ,
            "METERLINE_KAFKA_BOOTSTRAP": bootstrap,
            "METERLINE_TOPIC_PREFIX": topic_prefix,
            "METERLINE_GUARD_FAIL_MODE": fail_mode,
        }
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> GuardProcess:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "producers.testing"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=self.env,
            start_new_session=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().strip()
        if line != "ready":
            self.stop()
            raise RuntimeError(f"guard process did not start: {line!r}")
        return self

    def check(self, api_key_id: str) -> dict:
        process = self._process
        if process is None or process.stdin is None or process.stdout is None:
            raise RuntimeError("guard process is not running")
        process.stdin.write(api_key_id + "\n")
        process.stdin.flush()
        return json.loads(process.stdout.readline())

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> GuardProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main() -> None:
    from producers.guard_sync import SyncBudgetGuard

    with SyncBudgetGuard() as guard:
        print("ready", flush=True)
        for line in sys.stdin:
            decision = guard.check(line.strip())
            print(
                json.dumps(
                    {
                        "allowed": decision.allowed,
                        "reason": decision.reason,
                        "policy_id": decision.policy_id,
                        "available": guard.available,
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
