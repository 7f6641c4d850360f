"""Turning report results into JSON-ready data, CSV text and plain-text tables. Pure.

JSON and CSV carry money as exact plain decimal strings (``money_plain``); tables show it as
``money_text`` (cents, sub-cent amounts kept meaningful).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from reports.cost import CostReport
from reports.csv_cells import safe_cell
from reports.invoice_document import CustomerInvoice
from reports.invoice_math import Invoice
from reports.margin import MarginReport
from reports.money_format import money_plain, money_text, plain_data
from reports.reconcile import Reconciliation
from reports.unit_costs import FeatureUnitCost

__all__ = [
    "MONEY_COLUMNS",
    "cost_rows",
    "csv_text",
    "document_rows",
    "feature_rows",
    "invoice_rows",
    "jsonable",
    "margin_rows",
    "table_text",
    "variance_rows",
]

_TOKEN_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)


def jsonable(value: BaseModel | Sequence[BaseModel]) -> Any:
    """JSON-ready data: money as exact plain decimal strings, dates as ISO strings."""
    if isinstance(value, BaseModel):
        return plain_data(value.model_dump())
    return [plain_data(v.model_dump()) for v in value]


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return money_plain(value)
    return str(value)


def cost_rows(report: CostReport, with_total: bool = True) -> list[dict[str, Any]]:
    """One row per group plus (``with_total``) a final ``TOTAL`` row; exact values. CSV leaves
    the total out, so summing a column of the file gives the total once."""
    out = []
    for g in report.groups:
        row: dict[str, Any] = dict(g.group)
        row.update(g.model_dump(exclude={"group"}))
        out.append(row)
    if not with_total:
        return out
    total: dict[str, Any] = dict.fromkeys(report.by, "")
    total[report.by[0]] = "TOTAL"
    total.update(report.total.model_dump())
    out.append(total)
    return out


def feature_rows(features: Sequence[FeatureUnitCost]) -> list[dict[str, Any]]:
    return [f.model_dump() for f in features]


def invoice_rows(invoices: Sequence[Invoice]) -> list[dict[str, Any]]:
    """One row per invoice line, then one ``total`` row per invoice (a customer without a plan
    gets a ``no_plan`` row carrying its warning)."""
    out: list[dict[str, Any]] = []
    for inv in invoices:
        base = {"customer": inv.customer, "period": inv.period, "plan": inv.plan or ""}
        for line in inv.lines:
            out.append(
                {**base, "line": line.kind.value, "description": line.description,
                 "amount": line.amount, "currency": inv.currency}
            )  # fmt: skip
        out.append(
            {**base, "line": "total" if inv.plan else "no_plan",
             "description": "; ".join(inv.warnings), "amount": inv.total,
             "currency": inv.currency}
        )  # fmt: skip
    return out


def document_rows(docs: Sequence[CustomerInvoice]) -> list[dict[str, Any]]:
    """One row per line of each customer invoice, as sent (no cost, no markup)."""
    return [
        {"number": d.number, "customer": d.customer, "period": d.period,
         "issue_date": d.issue_date, "due_date": d.due_date, "description": line.description,
         "quantity": line.quantity, "unit": line.unit, "unit_price": line.unit_price,
         "amount": line.amount, "currency": d.currency}
        for d in docs
        for line in d.lines
    ]  # fmt: skip


def margin_rows(report: MarginReport) -> list[dict[str, Any]]:
    return [r.model_dump() for r in report.rows] + [
        {
            "customer": "TOTAL",
            "revenue": report.total_revenue,
            "cost": report.total_cost,
            "margin": report.total_margin,
            "margin_percent": report.total_margin_percent,
            "status": "",
        }
    ]


def variance_rows(rec: Reconciliation) -> list[dict[str, Any]]:
    return [v.model_dump() for v in rec.bill.variances] if rec.bill else []


def csv_text(rows: Sequence[dict[str, Any]]) -> str:
    """CSV with a header from the first row's keys; exact decimals; no cell a spreadsheet
    would run as a formula (see :mod:`reports.csv_cells`)."""
    if not rows:
        return ""
    buf = io.StringIO()
    columns = list(rows[0])
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([safe_cell(c) for c in columns])
    for row in rows:
        writer.writerow([safe_cell(_plain(row.get(c))) for c in columns])
    return buf.getvalue()


def _cell(value: Any, money: bool) -> str:
    if isinstance(value, Decimal) and money:
        return money_text(value)
    return _plain(value)


def table_text(rows: Sequence[dict[str, Any]], money_columns: Sequence[str] = ()) -> str:
    """Aligned text table; ``money_columns`` are shown rounded to cents, numbers right-aligned."""
    if not rows:
        return "(no rows)"
    cols = list(rows[0])
    money = set(money_columns)
    cells = [[_cell(r.get(c), c in money) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    numeric = [
        all(isinstance(r.get(c), (int, Decimal)) or r.get(c) in (None, "") for r in rows)
        for c in cols
    ]

    def fmt(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    lines = [fmt(cols), fmt(["-" * w for w in widths])]
    lines.extend(fmt(row) for row in cells)
    return "\n".join(lines)


MONEY_COLUMNS = (
    "cost", "computed_cost", "amount", "revenue", "margin", "metered", "billed", "gap",
    "cost_per_1k_requests", "cost_per_1m_tokens", "unit_price", "spend", "limit",
)  # fmt: skip
