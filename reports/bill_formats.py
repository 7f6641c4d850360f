"""Reading a provider's bill as the provider exports it. Pure (text in, ``BillLine``s out).

Three layouts are recognised by their header (case-insensitive, in any column order; other
columns are ignored):

* **Meterline** — ``date,provider,model,cost`` (``date`` ISO ``YYYY-MM-DD``, cost in the bill's
  currency).
* **OpenAI cost export** (the organisation Costs API / usage dashboard export, one row per day ×
  line item) — ``start_time`` (ISO date/time or Unix seconds, the day's bucket start, UTC),
  ``line_item`` such as ``gpt-4o-2024-08-06, input`` (the model is the part before the first
  comma) and ``amount_value`` (or ``amount``) in dollars; provider ``openai``.
* **Anthropic cost export** — Console CSV ``usage_date_utc``, ``model``, ``cost_usd`` (dollars), or
  the Admin Cost Report flattened to ``starting_at``, ``model``, ``amount`` where ``amount`` is in
  **cents** as Anthropic documents it (``123.45`` = 1.2345 USD); provider ``anthropic``. A row
  without a model (web search, code execution) is billed under its ``cost_type``/``description``.

Names are kept as the bill writes them; ``reports.aliases`` makes them comparable.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from pydantic import BaseModel, ConfigDict

from reports.amounts import MAX_DIGITS, MAX_SCALE, out_of_range
from reports.errors import InputFileError

__all__ = ["BillLine", "parse_provider_bill"]


class BillLine(BaseModel):
    """One line of a provider bill or usage export."""

    model_config = ConfigDict(frozen=True)

    day: date
    provider: str
    model: str
    cost: Decimal


Row = Mapping[str, str]


def _cell(row: Row, *names: str) -> str:
    for name in names:
        value = (row.get(name) or "").strip()
        if value:
            return value
    return ""


def _decimal(value: str, line: int) -> Decimal:
    try:
        amount = Decimal(value.replace(",", "").lstrip("$"))
    except InvalidOperation:
        raise InputFileError(
            f"provider bill line {line}: {value!r} is not a decimal amount"
        ) from None
    if not amount.is_finite():
        raise InputFileError(f"provider bill line {line}: {value!r} is not a finite amount")
    if out_of_range(amount):
        raise InputFileError(
            f"provider bill line {line}: {value[:40]!r} is out of range (at most "
            f"{MAX_DIGITS} digits before the point and {MAX_SCALE} after)"
        )
    return amount


def _day(value: str, line: int) -> date:
    if value.isdigit():
        return datetime.fromtimestamp(int(value), tz=UTC).date()
    try:
        if len(value) > 10:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return (parsed.astimezone(UTC) if parsed.tzinfo else parsed).date()
        return date.fromisoformat(value)
    except ValueError:
        raise InputFileError(
            f"provider bill line {line}: date {value!r} is not YYYY-MM-DD (or an ISO timestamp)"
        ) from None


def _meterline(row: Row, line: int) -> BillLine:
    provider, model = _cell(row, "provider"), _cell(row, "model")
    if not provider or not model:
        raise InputFileError(f"provider bill line {line}: provider and model are required")
    return BillLine(
        day=_day(_cell(row, "date"), line),
        provider=provider,
        model=model,
        cost=_decimal(_cell(row, "cost"), line),
    )


def _openai(row: Row, line: int) -> BillLine:
    item = _cell(row, "line_item", "model")
    return BillLine(
        day=_day(_cell(row, "start_time", "date"), line),
        provider="openai",
        model=item.split(",", 1)[0].strip() or "other",
        cost=_decimal(_cell(row, "amount_value", "amount", "cost"), line),
    )


def _anthropic(row: Row, line: int) -> BillLine:
    model = _cell(row, "model", "cost_type", "description") or "other"
    if "cost_usd" in row:
        cost = _decimal(_cell(row, "cost_usd"), line)
    else:
        cost = _decimal(_cell(row, "amount"), line).scaleb(-2)
    return BillLine(
        day=_day(_cell(row, "usage_date_utc", "starting_at", "date"), line),
        provider="anthropic",
        model=model,
        cost=cost,
    )


_LAYOUTS: tuple[tuple[str, frozenset[str], Callable[[Row, int], BillLine]], ...] = (
    ("meterline", frozenset({"date", "provider", "model", "cost"}), _meterline),
    ("openai", frozenset({"start_time", "line_item"}), _openai),
    ("anthropic", frozenset({"usage_date_utc", "model", "cost_usd"}), _anthropic),
    ("anthropic", frozenset({"starting_at", "model", "amount"}), _anthropic),
)


def parse_provider_bill(text: str) -> list[BillLine]:
    """Bill lines from a Meterline, OpenAI or Anthropic CSV (see the module docstring); errors
    name the line."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    for _name, needed, read in _LAYOUTS:
        if needed <= set(header):
            return [read(row, reader.line_num) for row in reader if any(row.values())]
    raise InputFileError(
        "provider bill CSV: unknown layout; expected columns date,provider,model,cost "
        "(Meterline), start_time,line_item,amount_value (OpenAI cost export) or "
        "usage_date_utc,model,cost_usd (Anthropic cost export); "
        f"found {', '.join(header) or 'nothing'}"
    )
