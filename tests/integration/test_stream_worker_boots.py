from __future__ import annotations

import pytest

from meterline.local.stream import StreamWorker

pytestmark = pytest.mark.integration


def test_worker_starts_and_stops_cleanly(tansu, topics, tmp_path) -> None:
    worker = StreamWorker(
        bootstrap=tansu.bootstrap,
        topic_prefix=topics.prefix,
        data_dir=tmp_path / "data",
        log_path=tmp_path / "worker.log",
    )
    with worker:
        pid = worker.pid
        assert pid is not None
    assert worker.pid is None
    assert "Traceback" not in (tmp_path / "worker.log").read_text()
