"""The Faust application, built by :func:`create_app` at the entry point (``python -m stream``).

Nothing happens at import: settings are passed in, the price book is loaded, the fetch-wait
patch applied and the topics, tables and agents declared when ``create_app`` is called, so a
test or a tool can build two differently configured apps.
"""

from __future__ import annotations

import os

import faust

from schemas.topics import USAGE_RAW, Topics
from stream.agents import UsageAgents
from stream.budget_agents import BudgetAgents
from stream.config import BudgetStreamSettings, StreamSettings
from stream.fetch_wait import limit_fetch_wait
from stream.price_file import build_price_book
from stream.rewind import SourcePositions
from stream.tables import StreamTables
from stream.topics import StreamTopics

__all__ = ["StreamApp", "create_app"]

_PRODUCER_BATCH_BYTES = 512 * 1024


class StreamApp(faust.App):
    """A ``faust.App`` that keeps the agents' state objects it was built with."""

    usage: UsageAgents
    budgets: BudgetAgents


def create_app(
    settings: StreamSettings, budget_settings: BudgetStreamSettings | None = None
) -> StreamApp:
    """A stream worker's app with every topic, table and agent declared.

    Raises :class:`stream.errors.PriceFileError` (naming the file, line and field) when
    ``settings.price_file`` cannot be used: a worker must not start on a price book it cannot
    read. Applies ``stream.fetch_wait`` to Faust (process-wide, idempotent)."""
    price_book = build_price_book(settings.price_file)
    limit_fetch_wait(settings.stream_fetch_max_wait_ms)
    app = StreamApp(
        f"{settings.topic_prefix}{settings.stream_app_id}",
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        datadir=str(settings.stream_data_dir),
        topic_partitions=USAGE_RAW.partitions,
        # No standby copies of table partitions: the store is in memory, so a new owner recovers
        # from the changelog anyway, and on Tansu a standby was seen to hold an offset the broker
        # then reported beyond its end (ConsistencyError, the worker stopped) after a peer died.
        table_standby_replicas=0,
        topic_replication_factor=1,
        broker_session_timeout=settings.broker_session_timeout_s,
        broker_rebalance_timeout=settings.broker_rebalance_timeout_s,
        broker_heartbeat_interval=settings.broker_heartbeat_interval_s,
        consumer_auto_offset_reset="earliest",
        # An enriched record (~80 KB for 100 events) is larger than Faust's 16 KiB producer
        # batch, so each one filled a batch alone and the next send to that partition waited
        # for a produce round trip before it could append. A batch up to 512 KiB (under the
        # broker's 1 MiB default) takes the next records while one request is in flight.
        producer_max_batch_size=_PRODUCER_BATCH_BYTES,
        consumer_max_fetch_size=settings.stream_fetch_partition_bytes,
        web_enabled=False,
    )
    topics = StreamTopics.declare(
        app, Topics(settings.topic_prefix), usage_partitions=settings.usage_partitions
    )
    tables = StreamTables.declare(app, topics)
    positions = SourcePositions(
        app, [topic.get_topic_name() for topic in (topics.raw, topics.enriched, topics.deltas)]
    )
    app.usage = UsageAgents(app, settings, topics, tables, price_book, positions)
    app.budgets = BudgetAgents(
        app, settings, budget_settings or BudgetStreamSettings(), topics, tables, positions
    )
    if settings.ready_file is not None:
        ready_file = settings.ready_file

        @app.task
        async def _signal_ready() -> None:
            """Tasks start once tables are recovered: tell a parent waiting on the file."""
            ready_file.write_text(f"{os.getpid()}\n")

    return app
