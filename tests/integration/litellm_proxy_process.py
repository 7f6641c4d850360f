"""A LiteLLM proxy as a child process (the shared runner of ``meterline.local.process``)."""

from __future__ import annotations

import sys
from pathlib import Path

from meterline.local.ports import free_port
from meterline.local.process import ChildProcess, ProcessNotReady, StartStop, http_ok

__all__ = ["LiteLLMProxy", "ProxyNotReady"]


class ProxyNotReady(ProcessNotReady):
    """The proxy exited or did not answer its readiness probe in time."""


class LiteLLMProxy(StartStop):
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
        executable = Path(sys.executable).with_name("litellm")
        self._child = ChildProcess(
            [str(executable), "--config", str(config), "--host", "127.0.0.1",
             "--port", str(self.port), "--telemetry", "False"],
            name="litellm",
            env={"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False",
                 **(env or {})},
            log_path=log_path,
            cwd=cwd,
            ready=http_ok(f"{self.base_url}/health/readiness", timeout=2),
            poll_interval=0.25,
        )  # fmt: skip

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._child.pid

    def start(self, timeout: float = 120.0) -> LiteLLMProxy:
        try:
            self._child.start(timeout)
        except ProcessNotReady as exc:
            raise ProxyNotReady(str(exc)) from exc
        return self

    def log_tail(self, lines: int = 40) -> str:
        return self._child.log_tail(lines)

    def stop(self, timeout: float = 15.0) -> None:
        self._child.stop(timeout)
