"""Append-only disk spool for events the broker could not take.

Each line is ``api_key_id<TAB>event-json``. Segments are replayed oldest first and deleted only
after every event in them was acknowledged, so a crash at any point loses nothing and at worst
sends some events again (``event_id`` makes that harmless downstream).
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import BinaryIO

from producers.errors import SpoolLocked

__all__ = ["Spool"]


class Spool:
    def __init__(self, directory: Path, *, segment_max_bytes: int = 64 * 1024 * 1024) -> None:
        self.directory = directory
        self.segment_max_bytes = segment_max_bytes
        self._active: BinaryIO | None = None
        self._active_path: Path | None = None
        self._active_bytes = 0
        self._lock: BinaryIO | None = None
        self._seq = 0

    def open(self) -> None:
        # Spooled events name customers and keys: owner only, whatever the umask.
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.directory.chmod(0o700)
        lock = open(self.directory / ".lock", "ab")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            lock.close()
            raise SpoolLocked(
                f"spool directory {self.directory} is used by another process"
            ) from exc
        self._lock = lock

    def close(self) -> None:
        self.seal()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def append(self, lines: list[bytes]) -> None:
        """Write ``lines`` durably (flushed and fsynced) before returning."""
        if not lines:
            return
        if self._active is None or self._active_bytes >= self.segment_max_bytes:
            self.seal()
            self._seq += 1
            self._active_path = (
                self.directory / f"{time.time_ns():020d}-{os.getpid()}-{self._seq:06d}.jsonl"
            )
            self._active = open(self._active_path, "ab")  # noqa: SIM115 - closed in seal()
            self._active_bytes = 0
        data = b"\n".join(lines) + b"\n"
        self._active.write(data)
        self._active.flush()
        os.fsync(self._active.fileno())
        self._active_bytes += len(data)

    def seal(self) -> None:
        """Close the segment being written so it can be replayed."""
        if self._active is not None:
            self._active.close()
            self._active = None
            self._active_path = None

    def segments(self) -> list[Path]:
        """Segments waiting for replay, oldest first (the one being written included)."""
        if not self.directory.exists():
            return []
        return sorted(self.directory.glob("*.jsonl"))

    def is_empty(self) -> bool:
        return not self.segments()

    @staticmethod
    def read(segment: Path) -> list[tuple[str, bytes]]:
        """The ``(api_key_id, event_json)`` pairs of a segment; a torn last line is skipped."""
        pairs = []
        with open(segment, "rb") as handle:
            for line in handle:
                if not line.endswith(b"\n"):
                    break
                key, sep, encoded = line.rstrip(b"\n").partition(b"\t")
                if sep and encoded:
                    pairs.append((key.decode(), encoded))
        return pairs

    def remove(self, segment: Path) -> None:
        if self._active_path == segment:
            self.seal()
        segment.unlink(missing_ok=True)
