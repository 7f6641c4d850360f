from __future__ import annotations

import uuid
from decimal import Decimal

from producers.events import new_event_id, usage_event


def test_event_ids_are_time_ordered_uuid7() -> None:
    first = new_event_id(now_ms=1_700_000_000_000)
    later = new_event_id(now_ms=1_700_000_000_001)
    assert uuid.UUID(first).version == 7
    assert first < later
    assert len({new_event_id() for _ in range(1000)}) == 1000


def test_usage_event_from_tag_convention() -> None:
    event = usage_event(
        api_key_id="k1",
        provider="openai",
        model="gpt-4o",
        customer="acme",
        feature="assistant",
        tags=["env:prod"],
        input_tokens=10,
        output_tokens=4,
        reasoning_tokens=2,
        provider_cost="0.0012",
    )
    assert event.tags == ["customer:acme", "feature:assistant", "env:prod"]
    assert event.tokens.reasoning == 2
    assert event.provider_cost == Decimal("0.0012")
    assert event.occurred_at.tzinfo is not None
