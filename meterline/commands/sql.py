"""``meterline sql``: read-only SQL against the store in whichever mode it runs."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import click

from reports.csv_cells import safe_row


@click.command()
@click.argument("query")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
    show_default=True, help="Output format (json: one object per row, exact decimals as strings).",
)  # fmt: skip
@click.option(
    "-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
    help="A query parameter, used in the SQL as {NAME:Type}; repeatable.",
)  # fmt: skip
def sql(query: str, fmt: str, params: tuple[str, ...]) -> None:
    """Run one read-only QUERY (SELECT, WITH … SELECT, EXPLAIN, DESCRIBE TABLE) and print it.

    On a ClickHouse server it connects directly; with the embedded store it asks the running
    sink over its local endpoint, or opens the store itself when no sink runs. Tables live in
    the database METERLINE_CLICKHOUSE_DATABASE (default meterline), e.g.

        meterline sql "SELECT customer, sum(cost) FROM meterline.usage_events FINAL GROUP BY 1"

    The query runs as a guest (docs/security.md): its own session, read-only, time and size
    limits from METERLINE_QUERY_*; SETTINGS, FORMAT, INTO OUTFILE, table functions and other
    databases are refused. CSV cells that a spreadsheet would run as formulas get a quote.
    """
    from sinks.config import SinkSettings
    from sinks.errors import SinkError
    from sinks.query_client import open_query_client

    parameters = {}
    for item in params:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r} must look like NAME=VALUE", param_hint="--param")
        parameters[name] = value
    try:
        client = open_query_client(SinkSettings())
        try:
            result = client.query(query, parameters=parameters or None)
        finally:
            client.close()
    except SinkError as exc:
        raise click.ClickException(str(exc)) from exc
    _print(result.column_names, result.result_rows, fmt)


def _cell(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, Decimal):
        return format(value, "f")  # exact and never in exponent form ("1E-12")
    return str(value)


def _print(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str) -> None:
    if fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(safe_row(list(columns)))
        writer.writerows([safe_row([_cell(v) for v in row]) for row in rows])
        return
    if fmt == "json":
        for row in rows:
            click.echo(json.dumps(dict(zip(columns, row, strict=True)), default=_cell))
        return
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    click.echo("  ".join("-" * w for w in widths))
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
    click.echo(f"({len(rows)} row{'s' if len(rows) != 1 else ''})", err=True)
