"""Reading the CSV files users bring: revenue per customer and the provider's bill. Pure
(text in, typed rows out); errors name the line."""

from __future__ import annotations

import csv
import io
from decimal import Decimal, InvalidOperation

from reports.amounts import MAX_DIGITS, MAX_SCALE, out_of_range
from reports.bill_formats import BillLine, parse_provider_bill
from reports.errors import InputFileError

__all__ = ["MAX_DIGITS", "MAX_SCALE", "BillLine", "parse_provider_bill", "parse_revenue"]


def _reader(text: str, required: tuple[str, ...], what: str) -> csv.DictReader[str]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    if missing:
        raise InputFileError(
            f"{what} CSV needs a header with columns {', '.join(required)}; "
            f"missing {', '.join(missing)} (found {', '.join(header) or 'nothing'})"
        )
    reader.fieldnames = header
    return reader


def _decimal(value: str | None, line: int, what: str) -> Decimal:
    try:
        amount = Decimal((value or "").strip().replace(",", ""))
    except InvalidOperation:
        raise InputFileError(f"{what} line {line}: {value!r} is not a decimal amount") from None
    if not amount.is_finite():
        raise InputFileError(f"{what} line {line}: {value!r} is not a finite amount")
    if out_of_range(amount):
        shown = (value or "").strip()[:40]
        raise InputFileError(
            f"{what} line {line}: {shown!r} is out of range (at most "
            f"{MAX_DIGITS} digits before the point and {MAX_SCALE} after)"
        )
    return amount


def parse_revenue(text: str) -> dict[str, Decimal]:
    """``customer,revenue`` rows → revenue per customer; repeated customers are summed."""
    out: dict[str, Decimal] = {}
    reader = _reader(text, ("customer", "revenue"), "revenue")
    for row in reader:
        line = reader.line_num
        customer = (row.get("customer") or "").strip()
        if not customer:
            raise InputFileError(f"revenue line {line}: empty customer")
        out[customer] = out.get(customer, Decimal(0)) + _decimal(
            row.get("revenue"), line, "revenue"
        )
    return out
