"""``meterline margin``: revenue versus cost to serve per customer."""

from __future__ import annotations

from pathlib import Path

import click

from meterline.commands._reports import (
    emit,
    format_option,
    guarded,
    hint_if_empty,
    month_range,
    period_option,
    read_text,
    run_report,
)
from reports.csv_inputs import parse_revenue
from reports.margin_report import margin_report
from reports.render import jsonable, margin_rows


@click.command()
@period_option()
@click.option(
    "--revenue",
    "revenue_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="CSV with columns customer,revenue (from the billing system).",
)
@format_option(["table", "csv", "json"], "table")
@click.pass_context
def margin(ctx: click.Context, period: str | None, revenue_path: Path, fmt: str) -> None:
    """Gross margin per customer for a month: revenue, cost to serve, margin and margin %,
    unprofitable accounts first. Customers with cost but no revenue, or revenue but no usage,
    are called out."""
    month = month_range(period)
    revenue = guarded(parse_revenue, read_text(revenue_path, "revenue file"))
    result = run_report(ctx, lambda client, db: margin_report(client, db, month, revenue))
    emit(fmt, jsonable(result), margin_rows(result))
    hint_if_empty(ctx, month, result.total_cost == 0 and not result.cost_without_revenue)
    if fmt == "table":
        if result.cost_without_revenue:
            click.echo(f"\ncost but no revenue: {', '.join(result.cost_without_revenue)}")
        if result.revenue_without_usage:
            click.echo(f"revenue but no usage: {', '.join(result.revenue_without_usage)}")
