"""Issue 10 item 8: the store, the spool and the webhook state are the owner's only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from producers.spool import Spool
from sinks.owner import make_private
from sinks.webhook import DeliveredLog


def _loose(root: Path) -> list[str]:
    found = [root]
    for folder, dirs, files in os.walk(root):
        found += [Path(folder, n) for n in [*dirs, *files]]
    return [f"{p} {stat.filemode(p.stat().st_mode)}" for p in found if p.stat().st_mode & 0o077]


def test_make_private_closes_an_existing_store(tmp_path: Path):
    store = tmp_path / "chdb"
    (store / "data" / "meterline").mkdir(parents=True, mode=0o755)
    (store / "data" / "meterline" / "part.bin").write_bytes(b"x")
    os.chmod(store / "data" / "meterline" / "part.bin", 0o644)
    os.chmod(store, 0o755)
    make_private(store)
    assert _loose(store) == []


def test_spool_directory_is_private(tmp_path: Path):
    directory = tmp_path / "spool"
    spool = Spool(directory)
    spool.open()
    try:
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    finally:
        spool.close()


def test_webhook_state_is_private(tmp_path: Path):
    path = tmp_path / "webhook" / "delivered.sqlite"
    log = DeliveredLog(path)
    try:
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        log.close()


def test_make_private_leaves_link_targets_alone_and_works_on_a_second_start(tmp_path: Path):
    outside = tmp_path / "shared.txt"
    outside.write_text("x")
    os.chmod(outside, 0o644)
    store = tmp_path / "chdb"
    (store / "sub").mkdir(parents=True)
    (store / "sub" / "link").symlink_to(outside)
    make_private(store)
    make_private(store)  # the sink's restart on the same store
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644
    assert stat.S_IMODE((store / "sub").stat().st_mode) == 0o700
