"""Reading the CSV files users bring: revenue per customer and the provider's bill. Pure
(text in, typed rows out); errors name the line."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import cast

from pydantic import BaseModel, ConfigDict

from reports.errors import InputFileError

__all__ = ["MAX_DIGITS", "MAX_SCALE", "BillLine", "parse_provider_bill", "parse_revenue"]

MAX_DIGITS = 26
MAX_SCALE = 12
"""Amounts fit the stored money type, ``Decimal(38, 12)``."""


class BillLine(BaseModel):
    """One line of a provider bill or usage export."""

    model_config = ConfigDict(frozen=True)

    day: date
    provider: str
    model: str
    cost: Decimal


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
    # A finite Decimal's exponent is an int (only NaN/Infinity have 'n'/'N'/'F').
    exponent = cast(int, amount.as_tuple().exponent)
    if amount and (amount.adjusted() >= MAX_DIGITS or exponent < -MAX_SCALE):
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


def parse_provider_bill(text: str) -> list[BillLine]:
    """``date,provider,model,cost`` rows (date ISO ``YYYY-MM-DD``) → bill lines."""
    out: list[BillLine] = []
    reader = _reader(text, ("date", "provider", "model", "cost"), "provider bill")
    for row in reader:
        line = reader.line_num
        raw_day = (row.get("date") or "").strip()
        try:
            day = date.fromisoformat(raw_day[:10])
        except ValueError:
            raise InputFileError(
                f"provider bill line {line}: date {raw_day!r} is not YYYY-MM-DD"
            ) from None
        provider = (row.get("provider") or "").strip()
        model = (row.get("model") or "").strip()
        if not provider or not model:
            raise InputFileError(f"provider bill line {line}: provider and model are required")
        cost = _decimal(row.get("cost"), line, "provider bill")
        out.append(BillLine(day=day, provider=provider, model=model, cost=cost))
    return out
