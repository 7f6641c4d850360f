"""``meterline report``: cost per customer (or any grouping) and cost versus usage per feature."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from meterline.commands._reports import CommandT, emit, format_option, run_report
from reports.cost import DIMENSIONS, CostFilter, cost_report, feature_report
from reports.errors import InvalidPeriodError
from reports.periods import TimeRange, date_range
from reports.render import cost_rows, feature_rows, jsonable

_DATE = click.DateTime(formats=["%Y-%m-%d"])


def _range(first: datetime, last: datetime) -> TimeRange:
    try:
        return date_range(first.date(), last.date())
    except InvalidPeriodError as exc:
        raise click.ClickException(str(exc)) from exc


def _filters(f: CommandT) -> CommandT:
    options = [
        click.option("--from", "first", type=_DATE, required=True, help="First day (UTC)."),
        click.option("--to", "last", type=_DATE, required=True, help="Last day, included."),
        click.option("--customer", default=None, help="Only this customer (exact match)."),
        click.option(
            "--tag",
            "tags",
            multiple=True,
            metavar="K:V",
            help="Only events carrying this tag; repeat for several (all must match).",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@click.group()
def report() -> None:
    """Cost reports over the stored usage (duplicates counted once)."""


@report.command("cost")
@_filters
@click.option(
    "--by",
    default="customer",
    show_default=True,
    help=f"Comma-separated grouping: {', '.join(DIMENSIONS)}.",
)
@click.option(
    "--top",
    type=click.IntRange(min=1, max=1_000_000),
    default=None,
    help="Keep the N costliest groups; fold the rest into '(other)'.",
)
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]),
    default=None,
    help="The books as they stood at this UTC time: the ratings events had then (before a "
    "later `meterline rerate`), events stored by then.",
)
@format_option(["table", "csv", "json"], "table")
@click.pass_context
def cost(
    ctx: click.Context,
    first: datetime,
    last: datetime,
    customer: str | None,
    tags: tuple[str, ...],
    by: str,
    top: int | None,
    as_of: datetime | None,
    fmt: str,
) -> None:
    """Cost, computed cost, requests and tokens per group, and a TOTAL row.

    The groups add up to the total exactly; events without a customer tag form the
    'unattributed' group. Example:

    \b
        meterline report cost --from 2026-11-01 --to 2026-11-30 --by customer,feature
    """
    period = _range(first, last)
    dims = tuple(d.strip() for d in by.split(",") if d.strip())
    result = run_report(
        ctx,
        lambda client, db: cost_report(
            client,
            db,
            period,
            by=dims,
            flt=CostFilter(customer=customer, tags=tags),
            top=top,
            as_of=as_of.replace(tzinfo=UTC) if as_of is not None else None,
        ),
    )
    emit(fmt, jsonable(result), cost_rows(result))


@report.command("features")
@_filters
@format_option(["table", "csv", "json"], "table")
@click.pass_context
def features(
    ctx: click.Context,
    first: datetime,
    last: datetime,
    customer: str | None,
    tags: tuple[str, ...],
    fmt: str,
) -> None:
    """Cost versus usage per feature: cost per 1k requests and per 1M tokens, shares of cost
    and of requests. stands_out marks a feature whose cost share is at least twice its share
    of requests."""
    period = _range(first, last)
    result = run_report(
        ctx,
        lambda client, db: feature_report(
            client, db, period, flt=CostFilter(customer=customer, tags=tags)
        ),
    )
    emit(fmt, jsonable(result), feature_rows(result))
