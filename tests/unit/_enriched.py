"""An ``EnrichedUsage`` for the budget unit tests: the fields budgets read, the rest fixed."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from schemas.usage import CostSource, EnrichedUsage, TokenCounts


def enriched_event(i: int, *, at: datetime, key: str = "k1", cost: str = "0.25", team: str = "",
                   owner: str = "", customer: str = "tagged-customer",
                   input_tokens: int = 10) -> EnrichedUsage:  # fmt: skip
    return EnrichedUsage(
        event_id=f"e{i}",
        occurred_at=at,
        gateway="gw",
        api_key_id=key,
        provider="openai",
        model="gpt-4o",
        tokens=TokenCounts(input=input_tokens, output=5, cache_read=3),
        team_id=team,
        owner_customer=owner,
        customer=customer,
        cost=Decimal(cost),
        computed_cost=Decimal(cost),
        cost_source=CostSource.PRICE_BOOK,
        enriched_at=at,
    )
