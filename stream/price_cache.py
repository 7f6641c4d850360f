"""The price of an event from a cache keyed by (provider, model, UTC day). Pure.

A price book lookup walks the model's dated prices for every event; the events of a stream are
a few models on a few days, so the answer is cached per day when it cannot change within that
day: no user price takes effect inside it, and the fallback source (genai-prices) says its price
for the model depends only on the date (``constant_over_day``). Anything else (a user price
starting at 12:00, a time-of-day price) is looked up per event, as before.
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from schemas import MONEY_SCALE
from stream.pricing import PriceBook, Rate, Rates, TieredRate, UnitPrice

__all__ = ["IntCost", "PriceCache", "constant_over_day", "int_cost"]

_ONE = 10**MONEY_SCALE
_TOTAL_MAX = 10**20
"""Far above any real event's cost and far below 28 digits."""

_CACHE_MAX = 100_000

Priced = tuple[UnitPrice | None, "IntCost | None"]


class PriceCache:
    """``price(provider, model, timestamp)`` = ``book.lookup(provider, model, at)`` where
    ``timestamp`` is ``at`` as a UTC ISO string ending in ``Z`` (``YYYY-MM-DD`` first)."""

    def __init__(self, book: PriceBook) -> None:
        self.book = book
        self._by_day: dict[tuple[str, str, str], Priced] = {}
        self._int_costs: dict[int, tuple[UnitPrice, IntCost | None]] = {}

    def price(self, provider: str, model: str, timestamp: str) -> Priced:
        """The price in force and its :class:`IntCost` (None when it has none)."""
        key = (provider, model, timestamp[:10])
        found = self._by_day.get(key)
        if found is not None:
            return found
        at = datetime.fromisoformat(timestamp).astimezone(UTC)
        price = self.book.lookup(provider, model, at)
        found = (price, self._int_cost(price))
        if constant_over_day(self.book, provider, model, at.date()):
            if len(self._by_day) >= _CACHE_MAX:
                self._by_day.clear()
            self._by_day[key] = found
        return found

    def _int_cost(self, price: UnitPrice | None) -> IntCost | None:
        if price is None:
            return None
        known = self._int_costs.get(id(price))
        if known is None or known[0] is not price:
            if len(self._int_costs) >= _CACHE_MAX:
                self._int_costs.clear()
            # The price is kept with its table so its id() is not reused by another object.
            known = self._int_costs[id(price)] = (price, int_cost(price))
        return known[1]


class IntCost:
    """The price-book cost of a price without a discount, in integer arithmetic.

    Every rate (tiers resolved per prompt-size interval, fallbacks applied) is scaled to a whole
    number of ``10**-scale`` USD per million tokens, so an event's cost is a sum of integer
    products, rounded half-even to ``MONEY_SCALE`` places. It is the same number
    :meth:`UnitPrice.cost` computes with ``Decimal``: that arithmetic is exact too as long as no
    intermediate needs more than 28 digits, which :meth:`text` makes sure of (else ``None``)."""

    def __init__(self, price: UnitPrice) -> None:
        r = price.rates
        starts = sorted({
            start for rate in (r.input, r.output, r.cache_read, r.cache_write, r.reasoning)
            if isinstance(rate, TieredRate) for start, _ in rate.tiers
        })  # fmt: skip
        self.starts = starts
        # Interval i holds the prompt sizes with exactly i tier starts below them.
        prompts = [0, *(start + 1 for start in starts)]
        resolved = [_resolved(r, prompt) for prompt in prompts]
        places = [-int(rate.as_tuple().exponent) for rates in resolved for rate in rates]
        self.scale = max(0, *places)
        self.tables = [tuple(int(rate.scaleb(self.scale)) for rate in rates) for rates in resolved]
        shift = MONEY_SCALE - (self.scale + 6)
        self.up = 10**shift if shift >= 0 else 0
        self.down = 10**-shift if shift < 0 else 0

    def text(self, t: Any) -> str | None:
        """``format(price.cost(t), "f")`` for token counts ``t``; None when out of range."""
        tables = self.tables
        if len(tables) == 1:
            m_in, m_read, m_write, m_out, m_reason = tables[0]
        else:
            prompt = t.input + t.cache_read + t.cache_write
            m_in, m_read, m_write, m_out, m_reason = tables[bisect_left(self.starts, prompt)]
        total = (
            t.input * m_in + t.cache_read * m_read + t.cache_write * m_write
            + (t.output - t.reasoning) * m_out + t.reasoning * m_reason
        )  # fmt: skip
        if not 0 <= total < _TOTAL_MAX:
            return None
        if self.up:
            units = total * self.up
        else:
            units, rest = divmod(total, self.down)
            twice = 2 * rest
            if twice > self.down or (twice == self.down and units & 1):
                units += 1
        whole, fraction = divmod(units, _ONE)
        return f"{whole}.{fraction:0{MONEY_SCALE}d}"


def int_cost(price: UnitPrice | None) -> IntCost | None:
    """The :class:`IntCost` of ``price``, or None when it has a discount (or no price)."""
    if price is None or price.discount_percent:
        return None
    return IntCost(price)


def _resolved(r: Rates, prompt: int) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal]:
    """The five rates at this prompt size, fallbacks applied as :meth:`Rates.exact_cost` does."""
    rate_in, rate_out = _at(r.input, prompt), _at(r.output, prompt)
    read, write, reason = (
        _at(r.cache_read, prompt),
        _at(r.cache_write, prompt),
        _at(r.reasoning, prompt),
    )
    return (
        rate_in,
        rate_in if read is None else read,
        rate_in if write is None else write,
        rate_out,
        rate_out if reason is None else reason,
    )


def _at(rate: Rate | None, prompt: int) -> Any:
    return rate.at(prompt) if isinstance(rate, TieredRate) else rate


def constant_over_day(book: PriceBook, provider: str, model: str, day: date) -> bool:
    """True when ``book.lookup(provider, model, at)`` is the same for every ``at`` in ``day``
    (UTC). Unsure (a fallback that cannot say) is False."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = start + timedelta(days=1)
    dated = book.user_prices.get((provider.lower(), model.lower()), [])
    if any(start < d.effective_from < end for d in dated):
        return False
    if any(d.effective_from <= start for d in dated) or book.fallback is None:
        return True
    says = getattr(book.fallback, "constant_over_day", None)
    return bool(says is not None and says(provider, model))
