from __future__ import annotations

import secrets
import signal
import threading
from pathlib import Path

import click

from meterline.stack import LocalStack
from reports.config import ReportSettings
from sinks.config import SinkSettings
from stream.config import StreamSettings


@click.command()
@click.option(
    "--plans",
    "plans_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Plans YAML for the API's /v1/invoices [default: METERLINE_REPORT_PLANS_FILE].",
)
def up(plans_path: Path | None) -> None:
    """Run the local stack in the foreground until Ctrl-C.

    Starts a Tansu broker on METERLINE_KAFKA_BOOTSTRAP when nothing answers there (a 127.0.0.1
    address), creates the topics, and runs the sink (which owns the embedded ClickHouse
    directory and answers `meterline sql` and reports), a stream worker and the read-only
    report API on METERLINE_REPORT_API_PORT (bearer token METERLINE_REPORT_API_TOKEN).
    """
    sink_settings = SinkSettings()
    stream_settings = StreamSettings()
    chdb_dir = sink_settings.embedded_dir
    if chdb_dir is None:
        raise click.ClickException(
            "`meterline up` runs the embedded stack; with a ClickHouse server run "
            "`meterline sink` and `python -m stream worker` (see deploy/)"
        )
    report_settings = ReportSettings()
    token = (
        report_settings.report_api_token.get_secret_value()
        if report_settings.report_api_token
        else secrets.token_urlsafe(24)
    )
    stack = LocalStack(
        root=stream_settings.stream_data_dir.parent,
        chdb_dir=chdb_dir,
        bootstrap=stream_settings.kafka_bootstrap,
        topic_prefix=stream_settings.topic_prefix,
        database=sink_settings.clickhouse_database,
        say=click.echo,
        api_port=report_settings.report_api_port,
        api_token=token,
        extra_env=(
            {"METERLINE_REPORT_PLANS_FILE": str(plans_path.resolve())} if plans_path else {}
        ),
    )
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    with stack:
        click.echo(
            "meterline is up. Query it: meterline sql "
            f'"SELECT count() FROM {sink_settings.clickhouse_database}.usage_events FINAL"'
        )
        if report_settings.report_api_token is None:
            click.echo(f"report API bearer token (random; set METERLINE_REPORT_API_TOKEN): {token}")
        click.echo("Ctrl-C stops everything.")
        while not done.wait(1.0):
            pass
        click.echo("stopping …")
