"""What the report commands share: opening the query client, turning report errors into clean
CLI errors, printing results."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from reports.coverage import empty_period_hint, stored_coverage
from reports.errors import ReportError
from reports.periods import TimeRange, resolve_month, resolve_range
from reports.render import MONEY_COLUMNS, csv_text, table_text

T = TypeVar("T")
CommandT = TypeVar("CommandT", bound=Callable[..., Any] | click.Command)

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


def hint_if_empty(ctx: click.Context, period: TimeRange, empty: bool) -> None:
    """When a report for ``period`` found nothing, say (on stderr) where the stored usage is."""
    if empty:
        click.echo(empty_period_hint(period, run_report(ctx, stored_coverage)), err=True)


def plans_file(given: Path | None) -> Path:
    """``--plans``, else ``METERLINE_REPORT_PLANS_FILE``; a usage error when neither is set."""
    from reports.config import ReportSettings

    path = given or ReportSettings().report_plans_file
    if path is None:
        raise click.UsageError(
            "no plans file: give --plans FILE or set METERLINE_REPORT_PLANS_FILE "
            "(see docs/reports.md for the format)"
        )
    return path


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


def _format_help(choices: Sequence[str]) -> str:
    exact = " and ".join(c for c in choices if c in ("json", "csv"))
    text = f"Output format: {', '.join(choices)}; {exact} carry exact decimals"
    if "table" in choices:
        text += ", the table shows cents"
    if "html" in choices:
        text += ", html is a printable invoice"
    return text + "."


def format_option(choices: Sequence[str], default: str) -> Callable[[CommandT], CommandT]:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default=default,
        show_default=True,
        help=_format_help(choices),
    )


_PERIOD_HELP = "Calendar month (UTC): YYYY-MM, this-month or last-month [default: this month]."


def period_option() -> Callable[[CommandT], CommandT]:
    return click.option("--period", default=None, metavar="YYYY-MM", help=_PERIOD_HELP)


def range_options() -> Callable[[CommandT], CommandT]:
    """``--period`` and ``--from``/``--to``; resolve them with ``time_range``."""
    day = click.DateTime(formats=["%Y-%m-%d"])

    def decorate(f: CommandT) -> CommandT:
        f = click.option(
            "--to", "last", type=day, default=None,
            help="Last day, included (UTC) [default: today when --from is given].",
        )(f)  # fmt: skip
        f = click.option(
            "--from", "first", type=day, default=None,
            help="First day (UTC) [default: the first of --to's month]; instead of --period.",
        )(f)  # fmt: skip
        return period_option()(f)

    return decorate


def _today() -> date:
    return datetime.now(UTC).date()


def month_range(period: str | None) -> TimeRange:
    """``--period`` as a month (this month when not given); bad input is a clean CLI error."""
    return guarded(lambda p: resolve_month(p or None, _today()), period or "")


def time_range(period: str | None, first: datetime | None, last: datetime | None) -> TimeRange:
    """``--period`` / ``--from`` / ``--to`` as one range (this month when none is given)."""
    try:
        return resolve_range(
            period, first.date() if first else None, last.date() if last else None, _today()
        )
    except ReportError as exc:
        raise click.ClickException(str(exc)) from exc
