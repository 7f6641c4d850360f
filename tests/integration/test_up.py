"""`meterline up`: the local stack comes up, serves SQL, and stops every part on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import httpx
import pytest

from meterline.local import ChildProcess, free_port

pytestmark = pytest.mark.integration


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_up_serves_sql_and_stops_everything(tmp_path) -> None:
    env = {
        **os.environ,
        "METERLINE_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
        "METERLINE_CLICKHOUSE_URL": f"chdb://{tmp_path / 'chdb'}",
        "METERLINE_STREAM_DATA_DIR": str(tmp_path / "stream"),
        "METERLINE_REPORT_API_PORT": str(api_port := free_port()),
        "METERLINE_REPORT_API_TOKEN": "t0ken",
    }
    log = tmp_path / "up.log"
    children: list[int] = []
    up = ChildProcess(
        [sys.executable, "-m", "meterline", "up"],
        name="meterline up",
        env=env,
        cwd=tmp_path,
        log_path=log,
        ready=lambda _: "meterline is up" in log.read_text(),  # printed once every part serves
        poll_interval=0.2,
    )
    try:
        up.start(90)
        text = log.read_text()
        assert "meterline is up" in text, text
        children.extend(int(pid) for pid in re.findall(r"pid (\d+)", text))
        assert len(children) == 4  # broker, sink, stream worker, report API

        cost = f"http://127.0.0.1:{api_port}/v1/cost?from=2026-11-01&to=2026-11-30"
        assert httpx.get(cost).status_code == 401
        answer = httpx.get(cost, headers={"Authorization": "Bearer t0ken"})
        assert answer.status_code == 200, answer.text

        sql = subprocess.run(
            [
                sys.executable,
                "-m",
                "meterline",
                "sql",
                "SELECT count() FROM meterline.usage_events",
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert sql.returncode == 0, sql.stderr
        assert "0" in sql.stdout

        up.send_signal(signal.SIGTERM)
        assert up.wait(60) == 0
        assert not any(alive(pid) for pid in children), log.read_text()
    finally:
        up.stop(30)
        for pid in children:  # only the processes this stack reported starting
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
