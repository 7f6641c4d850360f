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
    plans_file,
    read_text,
    run_report,
)
from reports.csv_inputs import parse_revenue
from reports.invoices import revenue_from_invoices
from reports.margin_report import margin_report
from reports.plans import parse_plans
from reports.render import jsonable, margin_rows
from reports.rerate_history import invoices_with_adjustments


@click.command()
@period_option()
@click.option(
    "--revenue",
    "revenue_source",
    metavar="invoices|FILE",
    default="invoices",
    show_default=True,
    help="'invoices': the month's invoices under --plans; or a CSV customer,revenue from "
    "the billing system.",
)
@click.option(
    "--plans",
    "plans_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Plans YAML for --revenue invoices [default: METERLINE_REPORT_PLANS_FILE].",
)
@format_option(["table", "csv", "json"], "table")
@click.pass_context
def margin(
    ctx: click.Context,
    period: str | None,
    revenue_source: str,
    plans_path: Path | None,
    fmt: str,
) -> None:
    """Gross margin per customer for a month (this one unless --period says otherwise), revenue
    from the month's invoices or a CSV: revenue, cost to serve, margin and margin %,
    unprofitable accounts first. Customers with cost but no revenue, or revenue but no usage,
    are called out."""
    month = month_range(period)
    if revenue_source == "invoices":
        plans = guarded(parse_plans, read_text(plans_file(plans_path), "plans file"))
        revenue = run_report(
            ctx,
            lambda client, db: revenue_from_invoices(
                invoices_with_adjustments(client, db, month, plans)
            ),
        )
    else:
        path = Path(revenue_source)
        if not path.is_file():
            raise click.BadParameter(
                f"{revenue_source!r} is neither 'invoices' nor a CSV file", param_hint="--revenue"
            )
        revenue = guarded(parse_revenue, read_text(path, "revenue file"))
    result = run_report(ctx, lambda client, db: margin_report(client, db, month, revenue))
    emit(fmt, jsonable(result), margin_rows(result))
    hint_if_empty(ctx, month, result.total_cost == 0 and not result.cost_without_revenue)
    if fmt == "table":
        if result.cost_without_revenue:
            click.echo(f"\ncost but no revenue: {', '.join(result.cost_without_revenue)}")
        if result.revenue_without_usage:
            click.echo(f"revenue but no usage: {', '.join(result.revenue_without_usage)}")
