"""``meterline invoice``: one invoice per customer for a month, from a plans file."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from meterline.commands._reports import (
    format_option,
    guarded,
    hint_if_empty,
    month_range,
    period_option,
    plans_file,
    read_text,
    run_report,
)
from reports.invoice_document import CustomerInvoice, customer_invoice
from reports.invoice_html import invoice_html
from reports.invoice_math import Invoice
from reports.money_format import money_text
from reports.plans import parse_plans
from reports.render import (
    MONEY_COLUMNS,
    csv_text,
    document_rows,
    invoice_rows,
    jsonable,
    table_text,
)
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
    default=None,
    help="Plans YAML: plans (markup, resale, flat) and which customer has which "
    "[default: METERLINE_REPORT_PLANS_FILE].",
)
@click.option(
    "--view",
    type=click.Choice(["customer", "internal"]),
    default="customer",
    show_default=True,
    help="customer: the invoice to send (quantity x unit price, markup inside the price); "
    "internal: the lines with our cost and markup.",
)
@click.option("--customer", default=None, help="Only this customer's invoice.")
@format_option(["table", "json", "csv", "html"], "table")
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
    period: str | None,
    plans_path: Path | None,
    view: str,
    customer: str | None,
    fmt: str,
    out: Path | None,
    invoiced_at: datetime | None,
) -> None:
    """Invoices for a month (this one unless --period says otherwise), one per customer.

    The customer view is what you send: a stable number (same customer and month, same
    number), issue and due dates, and lines of quantity x unit price; --format html gives a
    printable page. The internal view keeps cost and markup (usage at cost, markup, resale,
    flat fee, overage, minimum top-up, adjustments from `meterline rerate`). Every amount is
    rounded to cents once, half up; the total is the sum of the lines and is the same in both
    views. Customers with usage but no
    plan get a warning (and no invoice to send).

    \b
        meterline invoice --plans plans.yaml
        meterline invoice --customer acme --format html > acme.html
        meterline invoice --period last-month --format html --out invoices/
    """
    month = month_range(period)
    plans = guarded(parse_plans, read_text(plans_file(plans_path), "plans file"))
    cut = invoiced_at.replace(tzinfo=UTC) if invoiced_at is not None else None
    invoices = run_report(
        ctx, lambda client, db: invoices_with_adjustments(client, db, month, plans, cut)
    )
    if customer is not None:
        invoices = [inv for inv in invoices if inv.customer == customer]
        if not invoices:
            raise click.ClickException(f"no invoice for customer {customer!r} in {month.label}")
    if view == "internal" and fmt == "html":
        raise click.UsageError("--format html is the customer view; drop --view internal")
    docs = [customer_invoice(inv, month, plans) for inv in invoices if inv.plan is not None]
    if out is None:
        _print(invoices, docs, view, fmt)
    else:
        _write(invoices, docs, view, fmt, out)
    for inv in invoices:
        for warning in inv.warnings:
            click.echo(f"warning: {inv.customer}: {warning}", err=True)
    hint_if_empty(ctx, month, all(inv.usage_cost == 0 for inv in invoices))


def _internal(inv: Invoice, doc: CustomerInvoice | None) -> dict[str, Any]:
    return {"number": doc.number if doc else None, **jsonable(inv)}


def _print(invoices: list[Invoice], docs: list[CustomerInvoice], view: str, fmt: str) -> None:
    numbered = {d.customer: d for d in docs}
    if fmt == "html":
        if len(docs) != 1:
            raise click.UsageError(
                f"{len(docs)} invoices: give --customer C, or --out DIR for one file each"
            )
        click.echo(invoice_html(docs[0]), nl=False)
    elif fmt == "json":
        data = (
            [_internal(i, numbered.get(i.customer)) for i in invoices]
            if view == "internal"
            else jsonable(docs)
        )
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    elif fmt == "csv":
        rows = invoice_rows(invoices) if view == "internal" else document_rows(docs)
        click.echo(csv_text(rows), nl=False)
    elif view == "internal":
        click.echo(table_text(invoice_rows(invoices), MONEY_COLUMNS))
    else:
        table = [
            {"number": d.number, "customer": d.customer, "issue_date": d.issue_date,
             "due_date": d.due_date, "lines": len(d.lines), "total": d.total,
             "currency": d.currency}
            for d in docs
        ]  # fmt: skip
        click.echo(table_text(table, ("total",)))


def _write(
    invoices: list[Invoice], docs: list[CustomerInvoice], view: str, fmt: str, out: Path
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    numbered = {d.customer: d for d in docs}
    ext = "txt" if fmt == "table" else fmt
    for inv in invoices:
        doc = numbered.get(inv.customer)
        if view == "customer" and doc is None:
            continue  # nothing to send: the warning says why
        if fmt == "html" and doc is not None:
            text = invoice_html(doc)
        elif fmt == "json":
            data = _internal(inv, doc) if view == "internal" or doc is None else jsonable(doc)
            text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        else:
            rows = (
                invoice_rows([inv]) if view == "internal" or doc is None else document_rows([doc])
            )
            text = csv_text(rows) if fmt == "csv" else table_text(rows, MONEY_COLUMNS) + "\n"
        path = out / invoice_file_name(inv, ext)
        path.write_text(text, encoding="utf-8")
        total = money_text(inv.total)
        click.echo(f"{total:>12} {inv.currency}  {inv.customer}  → {path}", err=True)
