"""Cost versus usage per feature: the numbers that make a quietly expensive feature stand out.
Pure."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel, ConfigDict

__all__ = ["EXPENSIVE_RATIO", "FeatureUnitCost", "unit_costs"]

EXPENSIVE_RATIO = Decimal(2)
"""A feature whose share of cost is at least this many times its share of requests stands out."""

_UNIT = Decimal("0.000001")
_PCT = Decimal("0.01")


class FeatureUnitCost(BaseModel):
    """Per-unit costs are rounded to 6 decimals and shares to 2, half up; ``None`` when the
    feature has no requests (or tokens)."""

    model_config = ConfigDict(frozen=True)

    feature: str
    cost: Decimal
    requests: int
    tokens: int
    cost_per_1k_requests: Decimal | None
    cost_per_1m_tokens: Decimal | None
    cost_share_percent: Decimal
    request_share_percent: Decimal
    stands_out: bool
    """Cost share ≥ ``EXPENSIVE_RATIO`` × request share."""


def _per(amount: Decimal, count: int, unit: int) -> Decimal | None:
    if count == 0:
        return None
    return (amount * unit / count).quantize(_UNIT, rounding=ROUND_HALF_UP)


def _share(part: Decimal, whole: Decimal) -> Decimal:
    if whole == 0:
        return Decimal("0.00")
    return (part * 100 / whole).quantize(_PCT, rounding=ROUND_HALF_UP)


def unit_costs(features: Iterable[tuple[str, Decimal, int, int]]) -> tuple[FeatureUnitCost, ...]:
    """``(feature, cost, requests, tokens)`` rows → unit costs, highest cost per 1k requests
    first (features without requests last)."""
    items = list(features)
    total_cost = sum((c for _, c, _, _ in items), Decimal(0))
    total_requests = sum(r for _, _, r, _ in items)
    out = []
    for feature, cost, requests, tokens in items:
        cost_share = (cost / total_cost) if total_cost else Decimal(0)
        request_share = (Decimal(requests) / total_requests) if total_requests else Decimal(0)
        out.append(
            FeatureUnitCost(
                feature=feature,
                cost=cost,
                requests=requests,
                tokens=tokens,
                cost_per_1k_requests=_per(cost, requests, 1_000),
                cost_per_1m_tokens=_per(cost, tokens, 1_000_000),
                cost_share_percent=_share(cost, total_cost),
                request_share_percent=_share(Decimal(requests), Decimal(total_requests)),
                stands_out=cost_share > 0 and cost_share >= EXPENSIVE_RATIO * request_share,
            )
        )
    out.sort(
        key=lambda f: (f.cost_per_1k_requests is None, -(f.cost_per_1k_requests or 0), f.feature)
    )
    return tuple(out)
