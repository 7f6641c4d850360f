"""``meterline invoice``: one invoice per customer for a month, from a plans file."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import click

from meterline.commands._reports import (
    format_option,
    guarded,
    period_option,
    read_text,
    run_report,
)
from reports.invoice_math import Invoice
from reports.periods import month_period
from reports.plans import parse_plans
from reports.render import csv_text, invoice_rows, jsonable
from reports.rerate_history import invoices_with_adjustments

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def invoice_file_name(invoice: Invoice, ext: str) -> str:
    """A safe, unique file name for the invoice; customer ids that are not file-safe get a hash
    suffix so two customers never share a file."""
    safe = _UNSAFE.sub("_", invoice.customer)[:80].strip("._") or "customer"
    if safe != invoice.customer:
        safe += "-" + hashlib.sha256(invoice.customer.encode()).hexdigest()[:8]
    return f"invoice-{invoice.period}-{safe}.{ext}"


@click.command()
@period_option()
@click.option(
    "--plans",
    "plans_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="Plans YAML: plans (markup, resale, flat) and which customer has which.",
)
@format_option(["csv", "json"], "json")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write one file per customer into this directory instead of printing.",
)
@click.option(
    "--invoiced-at",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]),
    default=None,
    help="When the month was invoiced (UTC): re-rates up to then are in the lines, later ones "
    "are adjustment lines. Default: every re-rate of the month is an adjustment line.",
)
@click.pass_context
def invoice(
    ctx: click.Context,
    period: str,
    plans_path: Path,
    fmt: str,
    out: Path | None,
    invoiced_at: datetime | None,
) -> None:
    """Invoices for a month: each customer's lines (usage at cost, markup, resale, flat fee,
    overage, minimum top-up, adjustments from `meterline rerate`) and total.

    Every line is rounded to cents once, half up (ROUND_HALF_UP); the total is the sum of the
    lines. Customers with usage but no plan are listed with a warning and a zero total.
    """
    month = guarded(month_period, period)
    plans = guarded(parse_plans, read_text(plans_path, "plans file"))
    cut = invoiced_at.replace(tzinfo=UTC) if invoiced_at is not None else None
    invoices = run_report(
        ctx, lambda client, db: invoices_with_adjustments(client, db, month, plans, cut)
    )
    if out is None:
        if fmt == "json":
            click.echo(json.dumps(jsonable(invoices), indent=2, ensure_ascii=False))
        else:
            click.echo(csv_text(invoice_rows(invoices)), nl=False)
    else:
        out.mkdir(parents=True, exist_ok=True)
        for inv in invoices:
            path = out / invoice_file_name(inv, fmt)
            if fmt == "json":
                text = json.dumps(jsonable(inv), indent=2, ensure_ascii=False) + "\n"
            else:
                text = csv_text(invoice_rows([inv]))
            path.write_text(text, encoding="utf-8")
            click.echo(f"{inv.total:>12} {inv.currency}  {inv.customer}  → {path}", err=True)
    for inv in invoices:
        for warning in inv.warnings:
            click.echo(f"warning: {inv.customer}: {warning}", err=True)
