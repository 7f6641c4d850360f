"""`meterline up` as a child process of a test, with the PIDs of the parts it reports starting.

Only the processes this helper started (and the parts their log names) are ever signalled.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner, Result

from meterline.cli import cli
from meterline.local import free_port

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
        self.process: subprocess.Popen[bytes] | None = None
        self.parts: list[int] = []
        self._offset = 0

    def text(self) -> str:
        return self.log.read_text(errors="replace")[self._offset :]

    def start(self, timeout: float = 120.0) -> UpProcess:
        self._offset = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "meterline", "up"],
                cwd=self.root,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while UP_LINE not in self.text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"meterline up did not come up:\n{self.text()}")
            time.sleep(0.2)
        self.parts = [int(pid) for pid in re.findall(r"pid (\d+)", self.text())]
        return self

    def interrupt(self, timeout: float = 90.0) -> int:
        """Ctrl-C (SIGINT) and wait for the exit; returns the exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout)

    def kill(self) -> None:
        """SIGKILL ``meterline up`` and every part it reported, as a power cut would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
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
