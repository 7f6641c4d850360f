"""Support for the console tests: ``meterline demo --serve`` as a child process, SQL over the
store it owns, and the system Chromium (skipped with a reason where it is missing, a failure
where ``METERLINE_REQUIRE_BROWSER=1`` says it must be there, as in CI)."""

from __future__ import annotations

import os
import shutil
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from meterline.local.ports import free_port
from meterline.local.process import ChildProcess, http_ok
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
    process: ChildProcess

    @property
    def chdb_dir(self) -> Path:
        return self.cwd / ".meterline/demo/chdb"


@contextmanager
def served_demo(cwd: Path, timeout: float = 300.0) -> Iterator[ServedDemo]:
    """Run ``meterline demo --serve`` in ``cwd`` until its console answers ``/healthz``; on
    exit Ctrl-C it (SIGINT, as a person would: it stops every process it started) and make
    sure it is gone."""
    port, token = free_port(), "console-test-token"
    url = f"http://127.0.0.1:{port}"
    demo = ChildProcess(
        [sys.executable, "-m", "meterline", "demo", "--serve"],
        name="demo --serve",
        env={"METERLINE_REPORT_API_PORT": str(port), "METERLINE_REPORT_API_TOKEN": token},
        log_path=cwd / "demo.log",
        ready=http_ok(f"{url}/healthz"),
        cwd=cwd,
        poll_interval=0.5,
    )
    demo.env.pop("METERLINE_KAFKA_BOOTSTRAP", None)  # the demo runs its own broker
    try:
        demo.start(timeout)
        yield ServedDemo(url, token, port, cwd, demo.env, demo)
    finally:
        demo.stop(60, sig=signal.SIGINT)


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
