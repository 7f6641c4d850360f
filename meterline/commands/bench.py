from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click

from meterline.bench._stack import bench_broker

BOOTSTRAP_HELP = "Kafka bootstrap to measure against; default: a private Tansu broker."


@click.group()
def bench() -> None:
    """Measure the pipeline on this machine; --json prints one JSON object."""


def _emit(result: dict, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result))
    else:
        for key, value in result.items():
            click.echo(f"{key:24} {value}")


@bench.command("producer")
@click.option("--events", default=200_000, show_default=True, help="Events to record.")
@click.option("--bootstrap", default=None, help=BOOTSTRAP_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def producer(events: int, bootstrap: str | None, as_json: bool) -> None:
    """Cost of UsageProducer.record() (p50/p99 µs) and sustained events/s to the broker."""
    from meterline.bench.producer import run_producer_bench

    with bench_broker(bootstrap) as servers:
        result = asyncio.run(run_producer_bench(servers, events))
    _emit(result, as_json)


@bench.command("sink")
@click.option("--events", default=100_000, show_default=True, help="Enriched events to store.")
@click.option("--batch-rows", default=10_000, show_default=True, help="Rows per insert.")
@click.option(
    "--compression",
    type=click.Choice(["none", "gzip", "lz4", "zstd", "snappy"]),
    default="none",
    show_default=True,
    help="Compression of the produced enriched records (the stream worker writes none).",
)
@click.option("--bootstrap", default=None, help=BOOTSTRAP_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def sink(
    events: int, batch_rows: int, compression: str, bootstrap: str | None, as_json: bool
) -> None:
    """Sink rows/s into ClickHouse (embedded chDB) vs a raw insert of the same rows, and ratio."""
    from meterline.bench.sink import run_sink_bench

    def progress(message: str) -> None:
        click.echo(f"... {message}", err=True)

    with bench_broker(bootstrap) as servers:
        result = run_sink_bench(
            servers,
            events,
            batch_rows,
            progress=progress,
            compression=None if compression == "none" else compression,
        )
    _emit(result, as_json)


@bench.command("stream")
@click.option("--events", default=200_000, show_default=True, help="Events to push through.")
@click.option("--batch", default=100, show_default=True, help="Events per raw record.")
@click.option(
    "--profile",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Run the worker under cProfile, write its stats to this file and report the top "
    "entries (the rate is then lower than without).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Stream workers (child processes) sharing the raw topic; reports each one's rate "
    "and the total.",
)
@click.option(
    "--partitions",
    type=click.IntRange(1, 1024),
    default=None,
    help="Partitions of the usage topics; default 4, or --workers when more.",
)
@click.option(
    "--budgets",
    is_flag=True,
    help="Give every key a budget policy far from its limit, so the workers also charge every "
    "event (the budget agents run in the same worker).",
)
@click.option("--bootstrap", default=None, help=BOOTSTRAP_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def stream(
    events: int,
    batch: int,
    profile: Path | None,
    workers: int,
    partitions: int | None,
    budgets: bool,
    bootstrap: str | None,
    as_json: bool,
) -> None:
    """Sustained enriched events/s of stream workers vs the raw aiokafka consume rate."""
    from meterline.bench.stream import run_stream_bench

    def say(message: str) -> None:
        click.echo(message, err=True)

    with bench_broker(bootstrap) as servers:
        result = asyncio.run(
            run_stream_bench(
                servers,
                events,
                batch,
                say=say,
                profile=profile,
                workers=workers,
                partitions=partitions,
                budgets=budgets,
            )
        )
    _emit(result, as_json)


@bench.command("alerts")
@click.option("--trials", default=30, show_default=True, help="Crossing events to time.")
@click.option("--rate", default=6000, show_default=True, help="Background events/s (>= 5000).")
@click.option("--warmup", default=5.0, show_default=True, help="Seconds of load before timing.")
@click.option(
    "--fetch-wait-ms",
    type=click.IntRange(1, 1500),
    default=None,
    help="Cap the worker's fetch long-poll (METERLINE_STREAM_FETCH_MAX_WAIT_MS); "
    "default: the worker's setting (100 ms unless set); 1500 is Faust's own.",
)
@click.option(
    "--path",
    "path",
    type=click.Choice(["enriched", "raw"]),
    default="enriched",
    show_default=True,
    help="Where events enter: 'enriched' (budget agents only) or 'raw' (through the "
    "enrichment too, the full gateway-to-alert path).",
)
@click.option("--bootstrap", default=None, help=BOOTSTRAP_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def alerts(
    trials: int,
    rate: int,
    warmup: float,
    fetch_wait_ms: int | None,
    path: str,
    bootstrap: str | None,
    as_json: bool,
) -> None:
    """Budget alert and gateway-block latency (p50/p99 ms) under steady background load."""
    from meterline.bench.alerts import run_alerts_bench

    with bench_broker(bootstrap) as servers:
        result = run_alerts_bench(
            servers,
            trials=trials,
            rate=rate,
            warmup_s=warmup,
            fetch_wait_ms=fetch_wait_ms,
            path=path,  # type: ignore[arg-type]  # click.Choice above
            progress=lambda line: click.echo(line, err=True),
        )
    _emit(result, as_json)


@bench.command("enforce")
@click.option("--quick", is_flag=True, help="A few-second smoke run (small limits, no stream).")
@click.option(
    "--state-only/--no-state-only", default=True, show_default=True,
    help="Also run the cap with today's state-following guard alone (starts a stream worker).",
)  # fmt: skip
@click.option("--bootstrap", default=None, help=BOOTSTRAP_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def enforce(quick: bool, state_only: bool, bootstrap: str | None, as_json: bool) -> None:
    """Rate limits and hard caps across gateway replicas sharing one Valkey: rpm, parallel and
    cap scenarios (4 gateways × 16 callers), decision p50/p99 µs, and the state-only overshoot."""
    import contextlib
    from dataclasses import replace

    from meterline.bench.enforce import FULL, QUICK, run_enforce_bench

    config = QUICK if quick else replace(FULL, state_only=state_only)
    with contextlib.ExitStack() as stack:
        servers = stack.enter_context(bench_broker(bootstrap)) if config.state_only else None
        result = run_enforce_bench(
            config, bootstrap=servers, progress=lambda line: click.echo(f"... {line}", err=True)
        )
    _emit(result, as_json)


@bench.command("rerate")
@click.option("--events", default=1_000_000, show_default=True, help="Events to store.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def rerate(events: int, as_json: bool) -> None:
    """Re-rate a stored month of events with a changed price file: events/s, and exact (the
    per-event differences add up to new − old total; the rollup equals the base table)."""
    from meterline.bench.rerate import run_rerate_bench

    _emit(run_rerate_bench(events, lambda m: click.echo(f"... {m}", err=True)), as_json)


@bench.command("console")
@click.option("--events", default=1_000_000, show_default=True, help="Events to store.")
@click.option("--renders", default=5, show_default=True, help="Timed renders per page.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def console(events: int, renders: int, as_json: bool) -> None:
    """Server time to render each console page with EVENTS stored (embedded chDB)."""
    from meterline.bench.console import run_console_bench

    result = run_console_bench(events, renders, say=lambda m: click.echo(f"... {m}", err=True))
    _emit(result, as_json)
