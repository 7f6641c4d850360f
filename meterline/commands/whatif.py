"""``meterline whatif``: invoices and margins under alternative plans and prices; writes
nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from meterline.commands._reports import (
    emit,
    format_option,
    guarded,
    period_option,
    read_text,
    run_report,
)
from meterline.commands.rerate import _prices
from reports.periods import month_period
from reports.plans import parse_plans
from reports.whatif import whatif as whatif_report
from reports.whatif_math import WhatIfRow

_PLANS = click.Path(exists=True, dir_okay=False, path_type=Path)


def _rows(rows: list[WhatIfRow]) -> list[dict[str, Any]]:
    return [
        {"customer": r.customer, "plan": r.plan or "", "whatif_plan": r.whatif_plan or "",
         "invoice": r.invoice, "whatif_invoice": r.whatif_invoice,
         "invoice_change": r.invoice_change, "cost": r.cost, "whatif_cost": r.whatif_cost,
         "margin": r.margin, "whatif_margin": r.whatif_margin, "margin_change": r.margin_change}
        for r in rows
    ]  # fmt: skip


@click.command()
@period_option()
@click.option("--plans", "plans_path", type=_PLANS, required=True, help="The alternative plans.")
@click.option(
    "--prices",
    "price_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Alternative prices (price file format); default: the events' current ratings.",
)
@click.option(
    "--current-plans",
    "current_path",
    type=_PLANS,
    default=None,
    help="Today's plans; default METERLINE_REPORT_PLANS_FILE, else the alternative plans "
    "(then only the prices differ).",
)
@format_option(["table", "csv", "json"], "table")
@click.pass_context
def whatif(
    ctx: click.Context,
    period: str,
    plans_path: Path,
    price_file: Path | None,
    current_path: Path | None,
    fmt: str,
) -> None:
    """Every customer's invoice and margin (invoice − cost) under alternative plans and/or
    prices next to today's, biggest margin changes first. Nothing is written. Example:

    \b
        meterline whatif --period 2026-11 --plans plans-2027.yaml --prices negotiated.yaml
    """
    from reports.config import ReportSettings

    month = guarded(month_period, period)
    alternative = guarded(parse_plans, read_text(plans_path, "plans file"))
    current_path = current_path or ReportSettings().report_plans_file
    current = (
        guarded(parse_plans, read_text(current_path, "plans file")) if current_path else alternative
    )
    prices = _prices(price_file)[0] if price_file is not None else None
    rows = _rows(
        run_report(ctx, lambda client, db: whatif_report(client, db, month, current, alternative,
                                                          prices))
    )  # fmt: skip
    if fmt == "json":
        exact = [{k: format(v, "f") if not isinstance(v, str) else v for k, v in r.items()}
                 for r in rows]  # fmt: skip
        click.echo(json.dumps({"period": month.label, "customers": exact}, indent=2))
    else:
        emit(fmt, None, rows)
