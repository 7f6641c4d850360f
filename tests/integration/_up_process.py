"""`meterline up` as a child process of a test, with the PIDs of the parts it reports starting.

Only the processes this helper started (and the parts their log names) are ever signalled.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from pathlib import Path

from click.testing import CliRunner, Result

from meterline.cli import cli
from meterline.local import ChildProcess, ProcessNotReady, free_port

UP_LINE = "meterline is up"


def up_env(root: Path) -> dict[str, str]:
    return {
        **os.environ,
        "METERLINE_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
        "METERLINE_CLICKHOUSE_URL": f"chdb://{root / 'chdb'}",
        "METERLINE_STREAM_DATA_DIR": str(root / "stream"),
        "METERLINE_REPORT_API_PORT": str(free_port()),
        "METERLINE_REPORT_API_TOKEN": "t0ken",
        "METERLINE_SPOOL_DIR": str(root / "spool"),
    }


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class UpProcess:
    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env
        self.log = root / "up.log"
        self.child = ChildProcess(
            [sys.executable, "-m", "meterline", "up"],
            name="meterline up",
            env=env,
            cwd=root,
            log_path=self.log,  # appended: each start reads on from its own offset
            ready=lambda _: UP_LINE in self.text(),
            poll_interval=0.2,
        )
        self.parts: list[int] = []
        self._offset = 0

    def text(self) -> str:
        return self.log.read_text(errors="replace")[self._offset :]

    def start(self, timeout: float = 120.0) -> UpProcess:
        self._offset = self.log.stat().st_size if self.log.exists() else 0
        try:
            self.child.start(timeout)
        except ProcessNotReady:
            self.kill()
            raise AssertionError(f"meterline up did not come up:\n{self.text()}") from None
        self.parts = [int(pid) for pid in re.findall(r"pid (\d+)", self.text())]
        return self

    def interrupt(self, timeout: float = 90.0) -> int:
        """Ctrl-C (SIGINT) and wait for the exit; returns the exit status."""
        self.child.send_signal(signal.SIGINT)
        status = self.child.wait(timeout)
        assert status is not None, f"meterline up still running {timeout}s after Ctrl-C"
        return status

    def kill(self) -> None:
        """SIGKILL ``meterline up`` and every part it reported, as a power cut would."""
        self.child.kill()
        for pid in self.parts:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in self.parts) and time.monotonic() < deadline:
            time.sleep(0.05)

    def cli(self, *args: str) -> Result:
        """A ``meterline`` command against this stack, run in the test process (no interpreter
        start per command)."""
        overrides = {k: v for k, v in self.env.items() if k.startswith("METERLINE_")}
        return CliRunner().invoke(cli, list(args), env=overrides)
