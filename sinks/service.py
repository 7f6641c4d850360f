"""The sink process: migrate, then run the writer; in embedded mode also own the chDB
directory and answer read-only queries for other processes until stopped. On a ClickHouse
server the same endpoint (``/health``, ``/stats``, ``/query``) runs when a query port is set."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import secrets
import signal

from sinks.clickhouse import connect
from sinks.config import SinkSettings
from sinks.errors import StoreNotReachable
from sinks.migrations import migrate
from sinks.owner import OwnerInfo, make_private, remove_owner, write_owner
from sinks.readonly import ReadOnlyClient
from sinks.server import QueryServer, bind_socket, build_app
from sinks.store import ClickHouseStore, RetryPolicy
from sinks.writer import SinkWriter

__all__ = ["READY_LINE", "run_sink", "tune_gc"]

log = logging.getLogger(__name__)

READY_LINE = "meterline sink ready"
"""Logged (stderr) once the schema is migrated, the endpoint listens and the writer starts."""


async def run_sink(settings: SinkSettings, stop: asyncio.Event | None = None) -> None:
    """Run until ``stop`` is set (or SIGTERM/SIGINT when ``stop`` is None); the last batch is
    stored and committed before returning."""
    stop = stop or _stop_on_signals()
    tune_gc(settings.sink_batch_rows)
    db = settings.clickhouse_database
    data_dir = settings.embedded_dir
    if data_dir is not None:
        os.umask(0o077)  # the engine's files: the owner's only
        make_private(data_dir)
    try:
        client = connect(settings.url)
    except Exception as exc:
        raise StoreNotReachable(f"cannot open the store: {exc}") from exc
    server: QueryServer | None = None
    try:
        applied = migrate(client, db)
        if applied:
            log.info("applied migrations %s", [m.version for m in applied])
        writer = SinkWriter(
            settings,
            ClickHouseStore(
                client, db, RetryPolicy(max_s=settings.sink_retry_max_s), stopping=stop.is_set
            ),
        )
        if data_dir is not None or settings.sink_query_port:
            token = (
                settings.sink_query_token.get_secret_value()
                if settings.sink_query_token
                else secrets.token_urlsafe(24)
            )
            # Queries get sessions of their own on the same store, never the writer's client.
            queries = ReadOnlyClient(settings.url, db, settings.query_limits())
            app = build_app(queries, token, lambda: writer.stats.snapshot(writer.clock()))
            sock = bind_socket(settings.sink_query_host, settings.sink_query_port)
            server = QueryServer(app, sock).start()
            if data_dir is not None:
                write_owner(data_dir, OwnerInfo(os.getpid(), server.url, token))
            log.warning("query and stats endpoint on %s", server.url)
        log.warning("%s (database %s)", READY_LINE, db)
        if settings.ready_file is not None:
            settings.ready_file.write_text(f"{os.getpid()}\n")
        await writer.run(stop)
        log.warning("sink stopped: %s", writer.stats.snapshot(writer.clock()))
    finally:
        if data_dir is not None:
            remove_owner(data_dir, os.getpid())
        if server is not None:
            server.stop()
        client.close()


TRACKED_PER_ROW = 6
"""Container objects the decode path allocates per buffered row (row, tags, flags, item…)."""


def tune_gc(batch_rows: int = 10_000) -> None:
    """Make the cyclic collector ignore the sink's acyclic batch churn.

    A batch is rows of small lists and strings with no cycles, freed by reference counting once
    stored. The young-generation counter is allocations minus frees of container objects, so
    with a threshold above what two batches (one buffered, one being stored) keep alive it
    stays quiet in steady state, yet still fires when objects pile up (e.g. cyclic garbage).
    With a threshold below that, each young collection rescanned a live batch: about 15% of
    the sink's time here. Startup objects are frozen out of every scan."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(max(50_000, 3 * TRACKED_PER_ROW * batch_rows), 20, 100)


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop
