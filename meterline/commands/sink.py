"""``meterline sink``: run the ClickHouse sink (and, embedded, the store's query endpoint)."""

from __future__ import annotations

import asyncio
import logging

import click


@click.command()
def sink() -> None:
    """Move enriched usage, dead letters and budget alerts from Kafka into ClickHouse.

    Migrates the schema first. Batches by METERLINE_SINK_BATCH_ROWS / _SECONDS, inserts, then
    commits offsets; stop with Ctrl-C (the last batch is stored first). With the embedded store
    (METERLINE_CLICKHOUSE_URL=chdb://DIR) this process owns DIR and answers `meterline sql`
    for other processes on a token-protected 127.0.0.1 endpoint.
    """
    from sinks.config import SinkSettings
    from sinks.errors import SinkError
    from sinks.service import run_sink

    root = logging.getLogger()
    if root.level > logging.INFO:
        logging.getLogger("sinks").setLevel(logging.INFO)
    try:
        settings = SinkSettings()
    except ValueError as exc:
        raise click.ClickException(f"invalid sink settings: {exc}") from exc
    try:
        asyncio.run(run_sink(settings))
    except SinkError as exc:
        raise click.ClickException(str(exc)) from exc
