"""The owner file: how other processes find the process that holds an embedded chDB directory.

The owner writes ``<dir>/meterline-owner.json`` (mode 0600: it holds the bearer token) once its
query endpoint listens, and removes it on a clean exit. A file left by a killed owner is stale:
its pid no longer runs.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = [
    "OWNER_FILE",
    "OwnerInfo",
    "make_private",
    "read_owner",
    "remove_owner",
    "write_owner",
]

OWNER_FILE = "meterline-owner.json"


@dataclass(frozen=True)
class OwnerInfo:
    pid: int
    url: str
    token: str

    def alive(self) -> bool:
        """True while a process with this pid runs (it may still be starting up)."""
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def make_private(data_dir: Path) -> None:
    """Make ``data_dir`` and everything in it the owner's only (directories 0700, files 0600):
    the store is readable by whoever can read its files, token or not. The owner also runs
    with umask 077, so what the engine creates later is private too."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    data_dir.chmod(0o700)
    for folder, dirs, files in os.walk(data_dir):
        for names, mode in ((dirs, 0o700), (files, 0o600)):
            for name in names:
                path = os.path.join(folder, name)
                if not os.path.islink(path):  # a link's target is not the store's to change
                    os.chmod(path, mode)


def write_owner(data_dir: Path, info: OwnerInfo) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = data_dir / OWNER_FILE
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(asdict(info), out)
    os.replace(tmp, path)
    return path


def read_owner(data_dir: Path) -> OwnerInfo | None:
    """The recorded owner, or None when there is no (readable) owner file."""
    try:
        data = json.loads((data_dir / OWNER_FILE).read_text())
        return OwnerInfo(pid=int(data["pid"]), url=str(data["url"]), token=str(data["token"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove_owner(data_dir: Path, pid: int) -> None:
    """Remove the owner file if it is still ``pid``'s."""
    info = read_owner(data_dir)
    if info is not None and info.pid == pid:
        (data_dir / OWNER_FILE).unlink(missing_ok=True)
