"""The Faust application and nothing else; agents, topics and tables live beside it."""

from __future__ import annotations

import os

import faust

from schemas.topics import USAGE_RAW, Topics
from stream.config import StreamSettings
from stream.fetch_wait import limit_fetch_wait

__all__ = ["app", "settings", "topic_names"]

settings = StreamSettings()
topic_names = Topics(settings.topic_prefix)
limit_fetch_wait(settings.stream_fetch_max_wait_ms)

app = faust.App(
    f"{settings.topic_prefix}{settings.stream_app_id}",
    broker=f"kafka://{settings.kafka_bootstrap}",
    store="memory://",
    datadir=str(settings.stream_data_dir),
    topic_partitions=USAGE_RAW.partitions,
    topic_replication_factor=1,
    broker_session_timeout=settings.broker_session_timeout_s,
    broker_rebalance_timeout=settings.broker_rebalance_timeout_s,
    broker_heartbeat_interval=settings.broker_heartbeat_interval_s,
    consumer_auto_offset_reset="earliest",
    web_enabled=False,
)


@app.task
async def _signal_ready() -> None:
    """Tasks start once tables are recovered: tell a parent waiting on the ready file."""
    if settings.ready_file is not None:
        settings.ready_file.write_text(f"{os.getpid()}\n")
