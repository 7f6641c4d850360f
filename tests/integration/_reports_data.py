"""A small, hand-checked usage dataset for the report tests, inserted straight into chDB
through the storage contract (``sinks/ddl.py``)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sinks.ddl import BUDGET_ALERTS, DEAD_LETTERS, USAGE_EVENT_COLUMNS, USAGE_EVENTS
from sinks.ddl_ratings import USAGE_EVENTS_RATING_COLUMNS, USAGE_RATINGS

HOSTILE = "o'brien\"; DROP TABLE usage_events; -- ünï🙂"

_ENRICHED = datetime(2026, 12, 1, 1, tzinfo=UTC)


def create_tables(client: Any, db: str) -> None:
    for ddl in (USAGE_EVENTS, DEAD_LETTERS, BUDGET_ALERTS, *USAGE_EVENTS_RATING_COLUMNS,
                USAGE_RATINGS):  # fmt: skip
        client.command(ddl.format(db=db))
    # Keep unmerged duplicates unmerged, so FINAL (not a lucky merge) is what collapses them.
    client.command(f"SYSTEM STOP MERGES {db}.usage_events")


def row(
    event_id: str,
    occurred_at: datetime,
    customer: str,
    cost: str,
    *,
    feature: str = "",
    model: str = "gpt-4o",
    provider: str = "openai",
    key: str = "k_shared",
    team: str = "",
    computed_cost: str | None = None,
    cost_source: str = "price_book",
    provider_cost: str | None = None,
    tokens: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0),
    tags: tuple[str, ...] = (),
    flags: tuple[str, ...] = (),
    enriched_at: datetime = _ENRICHED,
) -> list[Any]:
    values: dict[str, Any] = {
        "event_id": event_id,
        "occurred_at": occurred_at,
        "gateway": "gw-1",
        "api_key_id": key,
        "request_id": f"req-{event_id}",
        "provider": provider,
        "model": model,
        "input_tokens": tokens[0],
        "output_tokens": tokens[1],
        "cache_read_tokens": tokens[2],
        "cache_write_tokens": tokens[3],
        "reasoning_tokens": tokens[4],
        "tags": list(tags),
        "status": "success",
        "streamed": False,
        "latency_ms": 100,
        "provider_cost": Decimal(provider_cost) if provider_cost is not None else None,
        "currency": "USD",
        "customer": customer,
        "feature": feature,
        "team_id": team,
        "owner_customer": "",
        "cost": Decimal(cost),
        "computed_cost": Decimal(computed_cost if computed_cost is not None else cost),
        "cost_source": cost_source,
        "price_ref": "test",
        "flags": list(flags),
        "enriched_at": enriched_at,
    }
    return [values[c] for c in USAGE_EVENT_COLUMNS]


def insert(client: Any, db: str, rows: list[list[Any]]) -> None:
    client.insert(f"{db}.usage_events", rows, column_names=list(USAGE_EVENT_COLUMNS))


def nov(day: int, hour: int = 12, minute: int = 0, second: int = 0, ms: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, ms * 1000, tzinfo=UTC)


def known_rows() -> list[list[Any]]:
    """November 2026, hand-summed: total 4.883333333334; acme 3.250000000001,
    hostile 0.7, initech 0.5, globex 0.333333333333, unattributed 0.1. Two rows fall just
    outside the month."""
    return [
        row("e1", nov(1, 10), "acme", "1.25", feature="chat", team="team_a",
            tokens=(100_000, 20_000, 0, 0, 0),
            tags=("customer:acme", "feature:chat", "env:prod")),
        row("e2", nov(1, 11), "acme", "2.000000000001", feature="search", team="team_a",
            model="claude-sonnet", provider="anthropic", computed_cost="1.9",
            cost_source="provider", provider_cost="2.000000000001",
            tokens=(50_000, 10_000, 200_000, 30_000, 4_000),
            tags=("customer:acme", "feature:search"), flags=("provider_cost_differs",)),
        row("e3", nov(2, 9), "globex", "0.333333333333", feature="chat", key="k_globex",
            team="team_b", tokens=(10_000, 1_000, 0, 0, 0),
            tags=("customer:globex", "feature:chat", "env:staging")),
        row("e4", nov(2, 12), "unattributed", "0.1", model="gpt-4o-mini",
            tokens=(1_000, 100, 0, 0, 0)),
        row("e5", nov(3), "globex", "0", feature="summarize", model="mystery-model",
            provider="acme-ai", key="k_globex", team="team_b", cost_source="unpriced",
            tokens=(5_000, 500, 0, 0, 0), tags=("customer:globex",),
            flags=("unknown_model",)),
        row("e6", datetime(2026, 10, 31, 23, 59, 59, 999_000, tzinfo=UTC), "acme", "100"),
        row("e7", datetime(2026, 12, 1, tzinfo=UTC), "acme", "100"),
        row("e8", nov(30, 23, 59, 59, 999), "initech", "0.5", feature="chat",
            tokens=(2_000, 2_000, 0, 0, 0), tags=("customer:initech",)),
        row("e9", nov(15), HOSTILE, "0.7", feature="chat", tags=(f"customer:{HOSTILE}",),
            tokens=(7_000, 700, 0, 0, 0)),
    ]  # fmt: skip


def load_known(client: Any, db: str) -> None:
    """The known rows, then a retried copy of ``e1`` in a separate insert (not merged)."""
    create_tables(client, db)
    insert(client, db, known_rows())
    retry = known_rows()[0]
    retry[USAGE_EVENT_COLUMNS.index("enriched_at")] = datetime(2026, 12, 2, tzinfo=UTC)
    insert(client, db, [retry])


TOTAL = Decimal("4.883333333334")
BY_CUSTOMER = {
    "acme": Decimal("3.250000000001"),
    HOSTILE: Decimal("0.7"),
    "initech": Decimal("0.5"),
    "globex": Decimal("0.333333333333"),
    "unattributed": Decimal("0.1"),
}
