"""``meterline report``: cost per customer (or any grouping) and cost versus usage per feature."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from meterline.commands._reports import (
    CommandT,
    emit,
    format_option,
    hint_if_empty,
    range_options,
    run_report,
    time_range,
)
from reports.cost import DIMENSIONS, CostFilter, cost_report, feature_report
from reports.money_format import money_text
from reports.render import cost_rows, feature_rows, jsonable


def _filters(f: CommandT) -> CommandT:
    options = [
        range_options(),
        click.option("--customer", default=None, help="Only this customer tag (exact match)."),
        click.option(
            "--owner",
            default=None,
            help="Only calls on keys bound to this owner customer (what budgets follow).",
        ),
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
    help=f"Comma-separated grouping: {', '.join(DIMENSIONS)} (customer: the customer: tag; "
    "owner: the customer the key is bound to).",
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
    period: str | None,
    first: datetime | None,
    last: datetime | None,
    customer: str | None,
    owner: str | None,
    tags: tuple[str, ...],
    by: str,
    top: int | None,
    as_of: datetime | None,
    fmt: str,
) -> None:
    """Cost, computed cost, requests and tokens per group, and a TOTAL row (the table only;
    CSV has just the groups). This month unless --period or --from/--to says otherwise.

    The groups add up to the total exactly; events without a customer tag form the
    'unattributed' group. Calls tagged for one customer on a key bound to another are counted
    under the table. Examples:

    \b
        meterline report cost --by customer,feature
        meterline report cost --period last-month --by owner
        meterline report cost --from 2026-11-01 --to 2026-11-15 --customer acme
    """
    span = time_range(period, first, last)
    dims = tuple(d.strip() for d in by.split(",") if d.strip())
    flt = CostFilter(customer=customer, owner=owner, tags=tags)
    result = run_report(
        ctx,
        lambda client, db: cost_report(
            client,
            db,
            span,
            by=dims,
            flt=flt,
            top=top,
            as_of=as_of.replace(tzinfo=UTC) if as_of is not None else None,
        ),
    )
    emit(fmt, jsonable(result), cost_rows(result, with_total=fmt != "csv"))
    if result.owner_mismatch_events:
        click.echo(
            f"note: {result.owner_mismatch_events} call(s) "
            f"(cost {money_text(result.owner_mismatch_cost)}) "
            "are tagged for a customer other than their key's owner; budgets follow the owner, "
            "these reports the tag (see --by customer,owner)",
            err=True,
        )
    hint_if_empty(ctx, span, result.total.requests == 0 and flt == CostFilter())


@report.command("features")
@_filters
@format_option(["table", "csv", "json"], "table")
@click.pass_context
def features(
    ctx: click.Context,
    period: str | None,
    first: datetime | None,
    last: datetime | None,
    customer: str | None,
    owner: str | None,
    tags: tuple[str, ...],
    fmt: str,
) -> None:
    """Cost versus usage per feature: cost per 1k requests and per 1M tokens, shares of cost
    and of requests. stands_out marks a feature whose cost share is at least twice its share
    of requests."""
    span = time_range(period, first, last)
    flt = CostFilter(customer=customer, owner=owner, tags=tags)
    result = run_report(ctx, lambda client, db: feature_report(client, db, span, flt=flt))
    emit(fmt, jsonable(result), feature_rows(result))
    hint_if_empty(ctx, span, not result and flt == CostFilter())
