"""``meterline reconcile``: prove the month's customer costs add up, optionally to the bill."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from meterline.commands._reports import (
    format_option,
    guarded,
    hint_if_empty,
    range_options,
    read_text,
    run_report,
    time_range,
)
from reports.aliases import parse_aliases
from reports.config import ReportSettings
from reports.csv_inputs import parse_provider_bill
from reports.money_format import money_plain
from reports.reconcile import DEFAULT_TOLERANCE, Reconciliation
from reports.reconcile import reconcile as reconcile_period
from reports.render import MONEY_COLUMNS, jsonable, table_text, variance_rows
from reports.rerate_history import explain_rerates
from reports.rerate_render import rerate_json, rerate_text

_VARIANCES_SHOWN = 20


def _m(amount: Decimal) -> str:
    return money_plain(amount)


def _flags(flags: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in flags.items()) or "-"


def _summary(rec: Reconciliation) -> str:
    led = rec.ledger
    lines = [
        f"period                       {rec.period}",
        f"sum of customer costs        {_m(led.customer_cost_sum)}",
        f"total metered cost           {_m(led.total_cost)}"
        f"   {'==' if led.customer_cost_sum == led.total_cost else '!='}",
        f"cost deduped by event_id     {_m(led.deduped_cost)}",
        f"customers                    {len(led.customers)}",
        f"events (distinct event_id)   {led.events}",
        f"duplicates collapsed         {led.duplicates_collapsed}"
        f"   ({led.rows_stored} rows stored)",
        f"conflicting duplicates       {led.conflicting_duplicates}",
        f"dead letters                 {led.dead_letters}"
        + (f"   ({_flags(led.dead_letters_by_kind)})" if led.dead_letters_by_kind else ""),
        f"unpriced events              {led.unpriced_events}",
        f"unattributed events          {led.unattributed_events}"
        f"   (cost {_m(led.unattributed_cost)})",
        f"provider-settled events      {led.provider_priced_events}",
        f"  cost != computed_cost      {led.provider_vs_computed_events}"
        f"   (provider - computed = {_m(led.provider_vs_computed_delta)})",
        f"cost/source mismatches       {led.cost_source_mismatches}",
        f"flags                        {_flags(led.flags)}",
        f"tag != key owner             {led.owner_mismatch_events}"
        f"   (cost {_m(led.owner_mismatch_cost)}; see report cost --by customer,owner)",
    ]
    if rec.bill is not None:
        bill = rec.bill
        lines += [
            f"bill covers providers        {', '.join(bill.providers) or '-'}",
            f"bill dates                   {bill.first_day or '-'} to {bill.last_day or '-'}",
            f"provider bill total          {_m(bill.billed_total)}   (lines in the period)",
            f"metered total (bill scope)   {_m(bill.metered_total)}",
            f"total gap (bill - metered)   {_m(bill.total_gap)}"
            f"   {'within' if bill.total_within_tolerance else 'OUTSIDE'} tolerance",
            f"bill lines outside period    {bill.lines_outside_period}"
            + (f"   ({_m(bill.billed_outside_period)})" if bill.lines_outside_period else ""),
            f"tolerance (line and total)   {_m(bill.tolerance)}",
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
@range_options()
@click.option(
    "--provider-bill",
    "bill_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The provider's bill: CSV date,provider,model,cost, or the OpenAI or Anthropic cost "
    "export as downloaded (see docs/reports.md).",
)
@click.option(
    "--aliases",
    "aliases_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="YAML mapping the bill's provider/model names to metered ones (default: "
    "METERLINE_REPORT_ALIASES_FILE; dated models and capitalisation are mapped anyway).",
)
@click.option(
    "--tolerance",
    type=_Amount(),
    default=DEFAULT_TOLERANCE,
    show_default=True,
    help="Largest absolute gap (bill - metered, in the bill's currency) that still reconciles, "
    "for each provider × model × day and for the bill total.",
)
@format_option(["table", "json"], "table")
@click.pass_context
def reconcile(
    ctx: click.Context,
    period: str | None,
    first: datetime | None,
    last: datetime | None,
    bill_path: Path | None,
    aliases_path: Path | None,
    tolerance: Decimal,
    fmt: str,
) -> None:
    """Reconcile a month (this one unless --period or --from/--to says otherwise): sum of
    customer costs == total metered cost (exact), with counts of
    dead letters, unpriced, unattributed and duplicate events and provider-vs-computed
    differences; with --provider-bill, the variance by provider × model × day, biggest gaps
    first. Bill lines dated outside the period, a line or the bill total off by more than
    --tolerance are problems.

    Exits 1 when it does not reconcile, so it can gate a billing run.
    """
    month = time_range(period, first, last)
    bill = (
        guarded(parse_provider_bill, read_text(bill_path, "provider bill")) if bill_path else None
    )
    if aliases_path is None:
        aliases_path = ReportSettings().report_aliases_file
    aliases = (
        guarded(parse_aliases, read_text(aliases_path, "aliases file")) if aliases_path else None
    )
    rec, rerated = run_report(
        ctx,
        lambda client, db: (
            reconcile_period(
                client, db, month, provider_bill=bill, tolerance=tolerance, aliases=aliases
            ),
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
    hint_if_empty(ctx, month, rec.ledger.events == 0)
    if not rec.reconciled:
        ctx.exit(1)
