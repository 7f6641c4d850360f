"""Run a LiteLLM proxy as a child process, for tests, demos and local trials."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from meterline.local.ports import free_port

__all__ = ["LiteLLMProxy", "ProxyNotReady"]


class ProxyNotReady(RuntimeError):
    """The proxy exited or did not answer its readiness probe in time."""


class LiteLLMProxy:
    """``litellm --config CONFIG`` on 127.0.0.1 and a free port, with ``env`` added to ours.

    ``start()`` returns once ``/health/readiness`` answers; ``stop()`` (also on ``with`` exit)
    ends that process only: SIGTERM, then SIGKILL after ``timeout``.
    """

    def __init__(
        self,
        config: Path,
        *,
        log_path: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        port: int | None = None,
    ) -> None:
        self.config = config
        self.log_path = log_path
        self.port = port or free_port()
        self.cwd = cwd
        self.env = {
            **os.environ,
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_TELEMETRY": "False",
            **(env or {}),
        }
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout: float = 120.0) -> LiteLLMProxy:
        executable = Path(sys.executable).with_name("litellm")
        command = [
            str(executable),
            "--config",
            str(self.config),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--telemetry",
            "False",
        ]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ProxyNotReady(
                    f"litellm exited with {self._process.returncode}; log:\n{self.log_tail()}"
                )
            try:
                if httpx.get(f"{self.base_url}/health/readiness", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise ProxyNotReady(f"litellm not ready in {timeout}s; log:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 15.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> LiteLLMProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
