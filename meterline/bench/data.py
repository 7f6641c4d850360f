"""Generated data for benchmarks (and the tests that reuse it): varied, valid events."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from schemas.codec import encode_batch
from schemas.usage import CostSource, EnrichedUsage, TokenCounts, UsageEvent

__all__ = ["enriched_events", "keyed_batch_records"]


def enriched_events(
    count: int, *, seed: int = 11, keys: int = 40, start: datetime | None = None
) -> list[EnrichedUsage]:
    """``count`` varied, valid enriched events (unique ids, 12-decimal costs, many days)."""
    rng = random.Random(seed)
    start = start or datetime(2026, 10, 1, tzinfo=UTC)
    models = [("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4-5")]
    out = []
    for i in range(count):
        provider, model = models[i % len(models)]
        key = i % keys
        cost = Decimal(rng.randrange(1, 10**9)) / Decimal(10**12)
        provider_cost = cost if i % 4 == 0 else None
        output = rng.randrange(0, 800)
        out.append(
            EnrichedUsage(
                event_id=f"ev-{seed}-{i:08d}",
                occurred_at=start + timedelta(seconds=i * 37 % (40 * 86400)),
                gateway="gw-test",
                api_key_id=f"key-{key}",
                request_id=f"req-{i}",
                provider=provider,
                model=model,
                tokens=TokenCounts(input=rng.randrange(0, 4000), output=output,
                                   cache_read=rng.randrange(0, 100), reasoning=output // 3),
                tags=[f"customer:cust-{key % 7}", f"feature:f{i % 3}"],
                customer=f"cust-{key % 7}",
                feature=f"f{i % 3}",
                team_id=f"team-{key % 5}",
                owner_customer=f"cust-{key % 7}",
                cost=cost,
                computed_cost=cost,
                cost_source=CostSource.PROVIDER if provider_cost else CostSource.PRICE_BOOK,
                provider_cost=provider_cost,
                price_ref="test",
                enriched_at=start,
            )
        )  # fmt: skip
    return out


def keyed_batch_records(
    events: Sequence[EnrichedUsage | UsageEvent], per_record: int = 500
) -> list[tuple[bytes, bytes]]:
    """(key, value) records as gateways and the stream write them: per api_key_id, JSON arrays
    of at most ``per_record`` events, in event order within a key."""
    by_key: dict[str, list[EnrichedUsage | UsageEvent]] = {}
    for event in events:
        by_key.setdefault(event.api_key_id, []).append(event)
    records = []
    for key, group in by_key.items():
        for i in range(0, len(group), per_record):
            records.append((key.encode(), encode_batch(group[i : i + per_record])))
    return records
