"""Pricing rules: the price in force for a model at a time, and the cost of one event.

Pure: no Kafka, no I/O. Time is always a parameter (``occurred_at``). Every amount is a
``Decimal``; prices are USD per one million tokens.

Token buckets follow :class:`schemas.TokenCounts`: ``input`` excludes cached tokens, and
``reasoning`` is part of ``output``. A price without a ``reasoning`` rate bills reasoning tokens
at the ``output`` rate; one without a cache rate bills cached tokens at the ``input`` rate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from schemas import MONEY_SCALE
from schemas.usage import CostSource, TokenCounts

__all__ = [
    "FLAG_COST_MISMATCH",
    "FLAG_UNPRICED",
    "DatedPrice",
    "PriceBook",
    "PriceSource",
    "PricedCost",
    "Rate",
    "Rates",
    "TieredRate",
    "UnitPrice",
    "decide_cost",
    "quantize_money",
]

PER_TOKENS = Decimal(1_000_000)
_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)
_HUNDRED = Decimal(100)

FLAG_COST_MISMATCH = "provider_cost_mismatch"
"""``provider_cost`` and ``computed_cost`` differ by more than the tolerance."""
FLAG_UNPRICED = "unpriced_model"
"""No price is known for the event's provider/model at its time."""


@dataclass(frozen=True)
class TieredRate:
    """A "cliff" tier: once the prompt (all input tokens, cached included) exceeds ``start``,
    ``price`` applies to every token of that bucket (genai-prices' ``TieredPrices``)."""

    base: Decimal
    tiers: tuple[tuple[int, Decimal], ...]
    """``(start, price)`` sorted by ``start``."""

    def at(self, prompt_tokens: int) -> Decimal:
        price = self.base
        for start, tier_price in self.tiers:
            if prompt_tokens > start:
                price = tier_price
        return price


Rate = Decimal | TieredRate


def _resolve(rate: Rate | None, prompt_tokens: int) -> Decimal | None:
    if rate is None or isinstance(rate, Decimal):
        return rate
    return rate.at(prompt_tokens)


@dataclass(frozen=True)
class Rates:
    """Per-million-token prices of the five buckets; ``None`` falls back as the module says."""

    input: Rate
    output: Rate
    cache_read: Rate | None = None
    cache_write: Rate | None = None
    reasoning: Rate | None = None

    def is_linear(self) -> bool:
        """True when cost is additive over events (no tier depends on the prompt size)."""
        rates = (self.input, self.output, self.cache_read, self.cache_write, self.reasoning)
        return not any(isinstance(r, TieredRate) for r in rates)

    def exact_cost(self, tokens: TokenCounts) -> Decimal:
        """Unrounded cost of ``tokens`` (USD)."""
        prompt = tokens.prompt_total
        input_rate = _resolve(self.input, prompt)
        output_rate = _resolve(self.output, prompt)
        assert input_rate is not None and output_rate is not None
        cache_read = _resolve(self.cache_read, prompt)
        cache_write = _resolve(self.cache_write, prompt)
        reasoning = _resolve(self.reasoning, prompt)
        total = (
            tokens.input * input_rate
            + tokens.cache_read * (input_rate if cache_read is None else cache_read)
            + tokens.cache_write * (input_rate if cache_write is None else cache_write)
            + (tokens.output - tokens.reasoning) * output_rate
            + tokens.reasoning * (output_rate if reasoning is None else reasoning)
        )
        return total / PER_TOKENS


@dataclass(frozen=True)
class UnitPrice:
    """The price in force for one provider/model at one time, and where it came from."""

    rates: Rates
    ref: str
    """Stable reference put on every event priced with it: the source and its version, then
    provider/model and the date the price took effect, e.g.
    ``genai-prices==0.2.3:openai/gpt-4o@2024-08-06`` or
    ``file:prices.yaml#sha256=3f9a1c2b7d4e:openai/gpt-4o@2025-01-01``."""
    discount_percent: Decimal = Decimal(0)

    def exact_cost(self, tokens: TokenCounts) -> Decimal:
        cost = self.rates.exact_cost(tokens)
        if self.discount_percent:
            cost = cost * (_HUNDRED - self.discount_percent) / _HUNDRED
        return cost

    def cost(self, tokens: TokenCounts) -> Decimal:
        """Cost rounded half-even to ``MONEY_SCALE`` places; never negative."""
        return quantize_money(self.exact_cost(tokens))


def quantize_money(value: Decimal) -> Decimal:
    return value.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class DatedPrice:
    """A user price effective from ``effective_from`` (inclusive) until the next one."""

    effective_from: datetime
    price: UnitPrice


PriceSource = Callable[[str, str, datetime], UnitPrice | None]
"""``(provider, model, at) -> price or None``: a fallback source such as genai-prices."""


@dataclass
class PriceBook:
    """User prices (by provider/model, dated) over a fallback source.

    ``lookup`` returns the user price in force at ``at`` when one exists, else the fallback's
    (which caches its own lookups). Providers and models match case-insensitively.
    """

    user_prices: dict[tuple[str, str], list[DatedPrice]] = field(default_factory=dict)
    fallback: PriceSource | None = None

    @classmethod
    def build(
        cls, entries: Iterable[tuple[str, str, DatedPrice]], fallback: PriceSource | None
    ) -> PriceBook:
        grouped: dict[tuple[str, str], list[DatedPrice]] = {}
        for provider, model, dated in entries:
            grouped.setdefault((provider.lower(), model.lower()), []).append(dated)
        for prices in grouped.values():
            prices.sort(key=lambda d: d.effective_from)
        return cls(user_prices=grouped, fallback=fallback)

    def lookup(self, provider: str, model: str, at: datetime) -> UnitPrice | None:
        key = (provider.lower(), model.lower())
        dated = self.user_prices.get(key)
        if dated:
            in_force = None
            for candidate in dated:
                if candidate.effective_from <= at:
                    in_force = candidate
                else:
                    break
            if in_force is not None:
                return in_force.price
        if self.fallback is None:
            return None
        return self.fallback(provider, model, at)


@dataclass(frozen=True)
class PricedCost:
    cost: Decimal
    computed_cost: Decimal
    cost_source: CostSource
    price_ref: str
    flags: tuple[str, ...]


def decide_cost(
    price: UnitPrice | None,
    tokens: TokenCounts,
    provider_cost: Decimal | None,
    tolerance_percent: Decimal,
) -> PricedCost:
    """The settled ``cost`` of one event.

    ``computed_cost`` is the price book's figure (0 when ``price`` is None). ``provider_cost``
    settles ``cost`` when present; a relative difference above ``tolerance_percent`` of the
    computed figure is flagged ``provider_cost_mismatch`` (any difference when computed is 0 and
    the model is priced). No price and no provider cost: cost 0, ``unpriced``, flagged.
    """
    flags: list[str] = []
    if price is None:
        computed = Decimal(0)
        ref = ""
        flags.append(FLAG_UNPRICED)
    else:
        computed = price.cost(tokens)
        ref = price.ref
    if provider_cost is not None:
        if price is not None:
            allowed = computed * tolerance_percent / _HUNDRED
            if abs(provider_cost - computed) > allowed:
                flags.append(FLAG_COST_MISMATCH)
        return PricedCost(provider_cost, computed, CostSource.PROVIDER, ref, tuple(flags))
    if price is None:
        return PricedCost(Decimal(0), computed, CostSource.UNPRICED, ref, tuple(flags))
    return PricedCost(computed, computed, CostSource.PRICE_BOOK, ref, tuple(flags))
