"""``meterline reconcile``: prove the month's customer costs add up, optionally to the bill."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from meterline.commands._reports import (
    format_option,
    guarded,
    period_option,
    read_text,
    run_report,
)
from reports.csv_inputs import parse_provider_bill
from reports.periods import month_period
from reports.reconcile import DEFAULT_TOLERANCE, Reconciliation
from reports.reconcile import reconcile as reconcile_period
from reports.render import MONEY_COLUMNS, jsonable, table_text, variance_rows
from reports.rerate_history import explain_rerates
from reports.rerate_render import rerate_json, rerate_text

_VARIANCES_SHOWN = 20


def _summary(rec: Reconciliation) -> str:
    led = rec.ledger
    lines = [
        f"period                       {rec.period}",
        f"sum of customer costs        {led.customer_cost_sum}",
        f"total metered cost           {led.total_cost}"
        f"   {'==' if led.customer_cost_sum == led.total_cost else '!='}",
        f"cost deduped by event_id     {led.deduped_cost}",
        f"customers                    {len(led.customers)}",
        f"events (distinct event_id)   {led.events}",
        f"duplicates collapsed         {led.duplicates_collapsed}"
        f"   ({led.rows_stored} rows stored)",
        f"conflicting duplicates       {led.conflicting_duplicates}",
        f"dead letters                 {led.dead_letters}"
        + (f"   {led.dead_letters_by_kind}" if led.dead_letters_by_kind else ""),
        f"unpriced events              {led.unpriced_events}",
        f"unattributed events          {led.unattributed_events}   (cost {led.unattributed_cost})",
        f"provider-settled events      {led.provider_priced_events}",
        f"  cost != computed_cost      {led.provider_vs_computed_events}"
        f"   (provider - computed = {led.provider_vs_computed_delta})",
        f"cost/source mismatches       {led.cost_source_mismatches}",
        f"flags                        {led.flags or '-'}",
    ]
    if rec.bill is not None:
        lines += [
            f"bill covers providers        {', '.join(rec.bill.providers) or '-'}",
            f"provider bill total          {rec.bill.billed_total}",
            f"metered total (bill scope)   {rec.bill.metered_total}",
            f"bill lines outside period    {rec.bill.lines_outside_period}",
            f"tolerance per line           {rec.bill.tolerance}",
        ]
    return "\n".join(lines)


class _Amount(click.ParamType):
    name = "AMOUNT"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> Decimal:
        if isinstance(value, Decimal):
            return value
        try:
            amount = Decimal(str(value))
        except ArithmeticError:
            self.fail(f"{value!r} is not a decimal amount", param, ctx)
        if not amount.is_finite() or amount < 0:
            self.fail(f"{value!r} must be a non-negative amount", param, ctx)
        return amount


@click.command("reconcile")
@period_option()
@click.option(
    "--provider-bill",
    "bill_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The provider's bill or usage export: CSV with columns date,provider,model,cost.",
)
@click.option(
    "--tolerance",
    type=_Amount(),
    default=DEFAULT_TOLERANCE,
    show_default=True,
    help="Largest absolute gap per provider × model × day that still reconciles.",
)
@format_option(["table", "json"], "table")
@click.pass_context
def reconcile(
    ctx: click.Context, period: str, bill_path: Path | None, tolerance: Decimal, fmt: str
) -> None:
    """Reconcile a month: sum of customer costs == total metered cost (exact), with counts of
    dead letters, unpriced, unattributed and duplicate events and provider-vs-computed
    differences; with --provider-bill, the variance by provider × model × day, biggest gaps
    first.

    Exits 1 when it does not reconcile, so it can gate a billing run.
    """
    month = guarded(month_period, period)
    bill = (
        guarded(parse_provider_bill, read_text(bill_path, "provider bill")) if bill_path else None
    )
    rec, rerated = run_report(
        ctx,
        lambda client, db: (
            reconcile_period(client, db, month, provider_bill=bill, tolerance=tolerance),
            explain_rerates(client, db, month),
        ),
    )
    if fmt == "json":
        data = jsonable(rec)
        data["rerates"] = rerate_json(rerated)
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        click.echo(_summary(rec))
        if rerated is not None:
            click.echo("\n" + rerate_text(rerated))
        if rec.bill is not None:
            rows = variance_rows(rec)
            click.echo(
                f"\nvariance by provider × model × day (bill - metered), top {_VARIANCES_SHOWN}:"
            )
            click.echo(table_text(rows[:_VARIANCES_SHOWN], money_columns=MONEY_COLUMNS))
        click.echo("")
        for problem in rec.problems:
            click.echo(f"PROBLEM: {problem}")
        click.echo("RECONCILED" if rec.reconciled else "NOT RECONCILED")
    if not rec.reconciled:
        ctx.exit(1)
