"""What the report commands share: opening the query client, turning report errors into clean
CLI errors, printing results."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from reports.errors import ReportError
from reports.render import MONEY_COLUMNS, csv_text, table_text

T = TypeVar("T")
CommandT = TypeVar("CommandT", bound=Callable[..., Any] | click.Command)
"""What a click option decorates: a command function or a command."""

CLIENT_KEY = "report_client"
"""``ctx.obj[CLIENT_KEY] = (client, database)`` makes the commands use that client (tests,
the demo, a process that already owns the chDB directory)."""


@contextmanager
def query_client(ctx: click.Context) -> Iterator[tuple[Any, str]]:
    """``(client, database)``: the injected one, else a client on ``METERLINE_CLICKHOUSE_URL``
    (closed afterwards)."""
    injected = (ctx.find_root().obj or {}).get(CLIENT_KEY)
    if injected is not None:
        yield injected
        return
    from sinks.config import SinkSettings
    from sinks.query_client import open_query_client

    settings = SinkSettings()
    try:
        client = open_query_client(settings)
    except Exception as exc:  # driver-specific errors; shown to the user, not swallowed
        raise click.ClickException(f"cannot open the ClickHouse store: {exc}") from exc
    try:
        yield client, settings.clickhouse_database
    finally:
        client.close()


def run_report(ctx: click.Context, report: Callable[[Any, str], T]) -> T:
    """Run ``report(client, database)``; a ``ReportError`` becomes a clean CLI error."""
    try:
        with query_client(ctx) as (client, database):
            return report(client, database)
    except ReportError as exc:
        raise click.ClickException(str(exc)) from exc


def read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read {what} {path}: {exc}") from exc


def guarded(parse: Callable[[str], T], text: str) -> T:
    """``parse(text)`` with ``ReportError`` shown as a clean CLI error."""
    try:
        return parse(text)
    except ReportError as exc:
        raise click.ClickException(str(exc)) from exc


def emit(fmt: str, data: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Print ``data`` as JSON, or ``rows`` as CSV or an aligned table."""
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    elif fmt == "csv":
        click.echo(csv_text(rows), nl=False)
    else:
        click.echo(table_text(rows, money_columns=MONEY_COLUMNS))


def format_option(choices: Sequence[str], default: str) -> Callable[[CommandT], CommandT]:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default=default,
        show_default=True,
        help="Output format; json and csv carry exact decimals, the table shows cents.",
    )


def period_option() -> Callable[[CommandT], CommandT]:
    return click.option(
        "--period", required=True, metavar="YYYY-MM", help="Calendar month (UTC), e.g. 2026-11."
    )
