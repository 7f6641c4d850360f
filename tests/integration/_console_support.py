"""Support for the console tests: ``meterline demo --serve`` as a child process, SQL over the
store it owns, and the system Chromium (skipped with a reason where it is missing, a failure
where ``METERLINE_REQUIRE_BROWSER=1`` says it must be there, as in CI)."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from meterline.local.ports import free_port
from reports.invoice_math import to_cents
from sinks.config import SinkSettings
from sinks.query_client import open_query_client

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
_READY_LINE = "The console is up"


@dataclass
class ServedDemo:
    url: str
    token: str
    port: int
    cwd: Path
    env: dict[str, str]
    process: subprocess.Popen[str]
    output: list[str]

    @property
    def chdb_dir(self) -> Path:
        return self.cwd / ".meterline/demo/chdb"


def _pump(stream: Any, lines: queue.Queue[str | None], keep: list[str]) -> None:
    for line in stream:
        keep.append(line)
        lines.put(line)
    lines.put(None)


@contextmanager
def served_demo(cwd: Path, timeout: float = 300.0) -> Iterator[ServedDemo]:
    """Run ``meterline demo --serve`` in ``cwd`` until its console is up; on exit Ctrl-C it
    (SIGINT, as a person would) and make sure it is gone."""
    port, token = free_port(), "console-test-token"
    env = {
        **os.environ,
        "METERLINE_REPORT_API_PORT": str(port),
        "METERLINE_REPORT_API_TOKEN": token,
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("METERLINE_KAFKA_BOOTSTRAP", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "meterline", "demo", "--serve"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, lines, output), daemon=True).start()
    try:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("demo --serve did not come up:\n" + "".join(output[-40:]))
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError("demo --serve exited:\n" + "".join(output[-40:]))
            if _READY_LINE in line:
                break
        yield ServedDemo(f"http://127.0.0.1:{port}", token, port, cwd, env, process, output)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class Store:
    """SQL over the served demo's store, through the sink that owns it."""

    def __init__(self, chdb_dir: Path) -> None:
        self._client = open_query_client(SinkSettings(clickhouse_url=f"chdb://{chdb_dir}"))

    def rows(self, sql: str, **parameters: Any) -> list[dict[str, Any]]:
        result = self._client.query(sql, parameters=parameters or None)
        return [dict(zip(result.column_names, r, strict=True)) for r in result.result_rows]

    def close(self) -> None:
        self._client.close()


def shown_money(value: Decimal) -> str:
    """How the console shows an amount (cents, thousands separators)."""
    return f"{to_cents(value):,.2f}"


def chromium_or_skip() -> str:
    """The system Chromium's path; skip (or fail under METERLINE_REQUIRE_BROWSER=1) without it."""
    required = os.environ.get("METERLINE_REQUIRE_BROWSER") == "1"
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    reason = ""
    if path is None:
        reason = "no system Chromium (as root: apt-get install -y chromium chromium-driver)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright package is not installed (pip install -e '.[dev]')"
    if reason:
        if required:
            pytest.fail(f"METERLINE_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(f"browser tests need Debian's chromium: {reason}")
    assert path is not None
    return path
