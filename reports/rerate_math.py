"""Pure rules of re-rating: which price-file entries become the price table joined in SQL, and
how a re-rate run is named. No database here.

A re-rate prices an event with the file entry for its provider/model (case-insensitive) whose
``effective_from`` is the latest at or before ``occurred_at`` — :class:`stream.pricing.PriceBook`'s
rule for user prices. Events before a model's first entry, and models the file does not name,
keep their rating. Rates fall back as in :mod:`stream.pricing` (cache rates to ``input``,
``reasoning`` to ``output``); they are resolved here, so the SQL needs none of those rules.

Exactness: a rate travels as its decimal text and is read by ClickHouse as ``Decimal256(20)``,
the discount as a factor ``100 - discount`` in ``Decimal256(10)``; a rate or discount with more
places would be cut, so it is refused (:class:`RerateError`) instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from reports.errors import ReportError
from reports.invoice_math import Invoice, InvoiceLine, LineKind
from stream.price_file import PriceFileEntry

__all__ = [
    "DISCOUNT_PLACES",
    "RATE_PLACES",
    "PriceRow",
    "RerateError",
    "RerateLine",
    "RerateRun",
    "adjusted_invoice",
    "price_rows",
    "rerate_id",
]

RATE_PLACES = 20
DISCOUNT_PLACES = 10
_HUNDRED = Decimal(100)


class RerateError(ReportError):
    """A re-rate that cannot run as asked (a price too fine to be exact, an empty file…)."""


@dataclass(frozen=True)
class PriceRow:
    """One row of the price table the re-rate joins: every value as exact decimal text."""

    provider: str
    model: str
    effective_from: datetime
    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal
    reasoning: Decimal
    factor: Decimal
    """``100 - discount_percent``: the cost is ``rates · tokens · factor / 10^8``."""
    ref: str

    def as_strings(self) -> list[str]:
        """The row as the SQL's ``Array(String)`` parameter expects it (order fixed)."""
        return [
            self.provider,
            self.model,
            self.effective_from.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
            *(_text(v) for v in (self.input, self.output, self.cache_read, self.cache_write,
                                 self.reasoning, self.factor)),
            self.ref,
        ]  # fmt: skip


def _text(value: Decimal) -> str:
    return format(value, "f")


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _checked(value: Decimal, places: int, what: str) -> Decimal:
    if _places(value) > places:
        raise RerateError(f"{what} {value} has more than {places} decimal places")
    return value


def price_rows(entries: list[PriceFileEntry], label: str) -> list[PriceRow]:
    """The price table of ``entries`` (a parsed price file labelled ``label``, see
    :func:`stream.price_file.price_file_label`). Raises :class:`RerateError` when the file has no
    entry or a value too fine to be read exactly."""
    if not entries:
        raise RerateError("the price file has no prices: nothing to re-rate with")
    out = []
    for entry in entries:
        where = f"{entry.provider}/{entry.model}@{entry.effective_from.date()}"
        rate = {
            name: _checked(value, RATE_PLACES, f"{where}: {name}")
            for name, value in (
                ("input", entry.input),
                ("output", entry.output),
                ("cache_read", entry.input if entry.cache_read is None else entry.cache_read),
                ("cache_write", entry.input if entry.cache_write is None else entry.cache_write),
                ("reasoning", entry.output if entry.reasoning is None else entry.reasoning),
            )
        }
        discount = _checked(entry.discount_percent, DISCOUNT_PLACES, f"{where}: discount")
        out.append(
            PriceRow(
                provider=entry.provider.lower(),
                model=entry.model.lower(),
                effective_from=entry.effective_from,
                factor=_HUNDRED - discount,
                ref=entry.dated_price(label).price.ref,
                **rate,
            )
        )
    return out


def rerate_id(label: str, rated_at: datetime) -> str:
    """``rr-YYYYmmddTHHMMSSfff-<hash>``: the run (time and price file version) a rating came
    from, sortable by time."""
    digest = hashlib.sha256(label.encode("utf-8")).hexdigest()[:8]
    return f"rr-{rated_at.strftime('%Y%m%dT%H%M%S%f')[:-3]}-{digest}"


@dataclass(frozen=True)
class RerateLine:
    """One customer and model of a re-rate: the events whose rating changes and their cost
    before and after."""

    customer: str
    model: str
    events: int
    old_cost: Decimal
    new_cost: Decimal

    @property
    def difference(self) -> Decimal:
        return self.new_cost - self.old_cost


@dataclass(frozen=True)
class RerateRun:
    """One re-rate of a period, from its ratings: the events it changed and their cost before
    and after it."""

    rerate_id: str
    rated_at: datetime
    events: int
    old_cost: Decimal
    new_cost: Decimal


def adjusted_invoice(states: Sequence[Invoice], runs: Sequence[RerateRun]) -> Invoice:
    """The invoice as issued (``states[0]``: the ratings before ``runs[0]``) plus one
    adjustment line per re-rate that changed it: ``states[k]`` is the same customer's invoice
    after ``runs[k - 1]``. Each line's amount is the change of the invoice total (a credit when
    negative), so the lines add up to the invoice under the latest ratings; a re-rate that moved
    the cost but not the amount (a flat fee) is listed at 0.00."""
    if len(states) != len(runs) + 1:
        raise ValueError("one invoice before the first re-rate and one after each")
    base, lines = states[0], list(states[0].lines)
    for run, before, after in zip(runs, states, states[1:], strict=False):
        amount = after.total - before.total
        cost_change = after.usage_cost - before.usage_cost
        if amount == 0 and cost_change == 0:
            continue
        side = "credit" if amount < 0 else "debit"
        lines.append(
            InvoiceLine(
                kind=LineKind.ADJUSTMENT,
                description=(
                    f"{side}: re-rate {run.rerate_id} ({run.rated_at:%Y-%m-%d %H:%M} UTC) "
                    f"changed usage at cost by {format(cost_change, 'f')}"
                ),
                amount=amount,
            )
        )
    last = states[-1]
    total = sum((line.amount for line in lines), Decimal("0.00"))
    return base.model_copy(
        update={"lines": tuple(lines), "total": total, "usage_cost": last.usage_cost,
                "warnings": last.warnings}
    )  # fmt: skip
