"""``meterline rerate``: re-price stored events with a corrected price file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from meterline.commands._reports import CLIENT_KEY, emit, format_option, query_client
from reports.errors import ReportError
from reports.periods import date_range
from reports.rerate import RerateScope, apply_rerate, preview_rerate
from reports.rerate_math import PriceRow, RerateLine, price_rows, rerate_id
from stream.errors import PriceFileError

_DATE = click.DateTime(formats=["%Y-%m-%d"])


def _prices(path: Path) -> tuple[list[PriceRow], str]:
    from stream.price_file import parse_price_text, price_file_label

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read the price file {path}: {exc}") from exc
    label = price_file_label(path.name, text)
    try:
        return price_rows(parse_price_text(text, path.name), label), label
    except (PriceFileError, ReportError) as exc:
        raise click.ClickException(str(exc)) from exc


@contextmanager
def _store(ctx: click.Context) -> Iterator[tuple[Any, str]]:
    """A client that may write: the injected one, else the store opened directly — refused
    while a sink owns the embedded directory (as ``meterline db migrate`` does)."""
    injected = (ctx.find_root().obj or {}).get(CLIENT_KEY)
    if injected is not None:
        yield injected
        return
    from sinks.clickhouse import connect
    from sinks.config import SinkSettings
    from sinks.owner import read_owner

    settings = SinkSettings()
    data_dir = settings.embedded_dir
    owner = read_owner(data_dir) if data_dir is not None else None
    if owner is not None and owner.alive():
        raise click.ClickException(
            f"the sink (pid {owner.pid}) owns {data_dir}; stop it to re-rate "
            "(--dry-run works while it runs)"
        )
    try:
        client = connect(settings.url)
    except Exception as exc:  # driver-specific errors; shown to the user, not swallowed
        raise click.ClickException(f"cannot open the store: {exc}") from exc
    try:
        yield client, settings.clickhouse_database
    finally:
        client.close()


def _line_rows(lines: list[RerateLine]) -> list[dict[str, Any]]:
    return [
        {"customer": x.customer, "model": x.model, "old_cost": x.old_cost,
         "new_cost": x.new_cost, "difference": x.difference, "events": x.events}
        for x in lines
    ]  # fmt: skip


def _exact(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """JSON-ready rows: money as decimal strings (never float)."""
    return [{k: str(v) if isinstance(v, Decimal) else v for k, v in r.items()} for r in rows]


@click.command()
@click.option("--from", "first", type=_DATE, required=True, help="First day (UTC).")
@click.option("--to", "last", type=_DATE, required=True, help="Last day, included.")
@click.option("--customer", default=None, help="Only this customer.")
@click.option("--model", default=None, help="Only this model (case-insensitive).")
@click.option(
    "--prices",
    "price_file",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The corrected price file (the METERLINE_PRICE_FILE format, dated prices included).",
)
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@click.option(
    "--include-provider-cost",
    is_flag=True,
    help="Also re-price events settled at the provider's cost (kept by default).",
)
@format_option(["table", "csv", "json"], "table")
@click.pass_context
def rerate(
    ctx: click.Context,
    first: datetime,
    last: datetime,
    customer: str | None,
    model: str | None,
    price_file: Path,
    dry_run: bool,
    include_provider_cost: bool,
    fmt: str,
) -> None:
    """Re-price the stored events of a date range with a corrected price file.

    Each changed event gets a new rating (version, rated_at, price_ref); the old one stays in
    usage_ratings, `report cost --as-of` shows the books as they were, and invoices of the
    period show the change as adjustment lines. Running it twice changes nothing. Example:

    \b
        meterline rerate --from 2026-11-01 --to 2026-11-30 --prices prices.yaml --dry-run
    """
    try:
        scope = RerateScope(
            date_range(first.date(), last.date()), customer, model, include_provider_cost
        )
    except ReportError as exc:
        raise click.ClickException(str(exc)) from exc
    prices, label = _prices(price_file)
    try:
        if dry_run:
            with query_client(ctx) as (client, db):
                lines = preview_rerate(client, db, scope, prices)
            rows = _line_rows(lines)
            emit(fmt, {"dry_run": True, "lines": _exact(rows)}, rows)
            return
        now = datetime.now(UTC)
        rated_at = now.replace(microsecond=now.microsecond // 1000 * 1000)
        run_id = rerate_id(label, rated_at)
        with _store(ctx) as (client, db):
            lines = preview_rerate(client, db, scope, prices)
            result = apply_rerate(client, db, scope, prices, run_id, rated_at)
    except ReportError as exc:
        raise click.ClickException(str(exc)) from exc
    rows = _line_rows(lines)
    data = {"rerate_id": result.rerate_id, "events": result.events, "lines": _exact(rows)}
    emit(fmt, data, rows)
    if fmt == "table":
        click.echo(f"{result.events} events re-rated as {result.rerate_id}")
