"""Support for the console tests: ``meterline demo --serve`` as a child process, SQL over the
store it owns, and the system Chromium (skipped with a reason where it is missing, a failure
where ``METERLINE_REQUIRE_BROWSER=1`` says it must be there, as in CI)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from meterline.local.ports import free_port
from meterline.local.process import http_ok
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


@dataclass
class ServedDemo:
    url: str
    token: str
    port: int
    cwd: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]

    @property
    def chdb_dir(self) -> Path:
        return self.cwd / ".meterline/demo/chdb"


@contextmanager
def served_demo(cwd: Path, timeout: float = 300.0) -> Iterator[ServedDemo]:
    """Run ``meterline demo --serve`` in ``cwd`` until its console answers ``/healthz``; on
    exit Ctrl-C it (SIGINT, as a person would: it stops every process it started) and make
    sure it is gone."""
    port, token = free_port(), "console-test-token"
    env = {
        **os.environ,
        "METERLINE_REPORT_API_PORT": str(port),
        "METERLINE_REPORT_API_TOKEN": token,
    }
    env.pop("METERLINE_KAFKA_BOOTSTRAP", None)
    log = cwd / "demo.log"
    with open(log, "ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "meterline", "demo", "--serve"],
            cwd=cwd,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    served = ServedDemo(f"http://127.0.0.1:{port}", token, port, cwd, env, process)
    up = http_ok(f"{served.url}/healthz")
    try:
        deadline = time.monotonic() + timeout
        while not up(None):  # type: ignore[arg-type]  # the probe does not use the child
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
            assert process.poll() is None, f"demo --serve exited:\n{tail}"
            assert time.monotonic() < deadline, f"demo --serve did not come up:\n{tail}"
            time.sleep(0.5)
        yield served
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
