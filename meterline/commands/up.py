from __future__ import annotations

import secrets
import signal
import threading
from pathlib import Path

import click

from meterline.stack import LocalStack
from reports.config import ReportSettings
from sinks.config import SinkSettings
from stream.config import BudgetStreamSettings, StreamSettings


@click.command()
@click.option(
    "--plans",
    "plans_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Plans YAML for the API's /v1/invoices [default: METERLINE_REPORT_PLANS_FILE].",
)
@click.option(
    "--drain-timeout", default=60.0, show_default=True, type=click.FloatRange(min=0),
    help="On Ctrl-C, wait at most this many seconds for the stream and the sink to consume "
    "everything on the broker before stopping it.",
)  # fmt: skip
def up(plans_path: Path | None, drain_timeout: float) -> None:
    """Run the local stack in the foreground until Ctrl-C.

    Starts a Tansu broker on METERLINE_KAFKA_BOOTSTRAP when nothing answers there (a 127.0.0.1
    address), creates the topics, and runs the sink (which owns the embedded ClickHouse
    directory and answers `meterline sql` and reports), a stream worker and the read-only
    report API on METERLINE_REPORT_API_PORT (bearer token METERLINE_REPORT_API_TOKEN).

    Before the stream worker starts, configuration the broker lacks is republished from the
    store of record and lost budget windows are rebuilt from usage_events. Ctrl-C drains
    (the stream and the sink consume everything on the broker, bounded by --drain-timeout)
    and then stops every part; a second Ctrl-C stops at once. See docs/restart-safety.md.
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
        stream_app_id=stream_settings.stream_app_id,
        budget_late_grace_s=BudgetStreamSettings().budget_late_grace_s,
    )
    done = threading.Event()
    force = threading.Event()

    def on_signal(*_: object) -> None:
        (force if done.is_set() else done).set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    with stack:
        click.echo(
            "meterline is up. Query it: meterline sql "
            f'"SELECT count() FROM {sink_settings.clickhouse_database}.usage_events FINAL"'
        )
        port = report_settings.report_api_port
        click.echo(f"console: http://127.0.0.1:{port}/ (sign in with the report API token)")
        if report_settings.report_api_token is None:
            click.echo(f"report API bearer token (random; set METERLINE_REPORT_API_TOKEN): {token}")
        click.echo("Ctrl-C drains the pipeline and stops everything (a second Ctrl-C: at once).")
        while not done.wait(1.0):
            pass
        click.echo("stopping: draining first (Ctrl-C again to stop now)")
        stack.drain(drain_timeout, cancelled=force.is_set)
        click.echo("stopping …")
