"""ClickHouse tables (the storage contract reports query). ``{db}`` is the database name.

``usage_events`` holds one row per event: a ReplacingMergeTree whose sorting key ends in
``event_id`` and whose partition (month of ``occurred_at``) is fixed by the event itself, so a
duplicate row of the same event collapses on merge; reports read it with ``FINAL`` or dedupe by
``event_id`` until then.
"""

from __future__ import annotations

__all__ = ["BUDGET_ALERTS", "DEAD_LETTERS", "USAGE_EVENTS", "USAGE_EVENT_COLUMNS"]

USAGE_EVENT_COLUMNS: tuple[str, ...] = (
    "event_id", "occurred_at", "gateway", "api_key_id", "request_id", "provider", "model",
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
    "reasoning_tokens", "tags", "status", "streamed", "latency_ms", "provider_cost", "currency",
    "customer", "feature", "team_id", "owner_customer", "cost", "computed_cost", "cost_source",
    "price_ref", "flags", "enriched_at",
)  # fmt: skip

USAGE_EVENTS = """
CREATE TABLE IF NOT EXISTS {db}.usage_events
(
    event_id String,
    occurred_at DateTime64(3, 'UTC'),
    gateway LowCardinality(String),
    api_key_id String,
    request_id String,
    provider LowCardinality(String),
    model LowCardinality(String),
    input_tokens UInt64,
    output_tokens UInt64,
    cache_read_tokens UInt64,
    cache_write_tokens UInt64,
    reasoning_tokens UInt64,
    tags Array(String),
    status LowCardinality(String),
    streamed Bool,
    latency_ms UInt32,
    provider_cost Nullable(Decimal(38, 12)),
    currency LowCardinality(String),
    customer String,
    feature LowCardinality(String),
    team_id String,
    owner_customer String,
    cost Decimal(38, 12),
    computed_cost Decimal(38, 12),
    cost_source LowCardinality(String),
    price_ref String,
    flags Array(String),
    enriched_at DateTime64(3, 'UTC'),
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (customer, toDate(occurred_at), event_id)
SETTINGS non_replicated_deduplication_window = 10000
"""

DEAD_LETTERS = """
CREATE TABLE IF NOT EXISTS {db}.dead_letters
(
    dead_letter_id String,
    source_topic String,
    partition Int32,
    offset Int64,
    index_in_record Int32,
    event_id String,
    api_key_id String,
    error_kind LowCardinality(String),
    reason String,
    raw String,
    received_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (dead_letter_id)
SETTINGS non_replicated_deduplication_window = 10000
"""

BUDGET_ALERTS = """
CREATE TABLE IF NOT EXISTS {db}.budget_alerts
(
    alert_id String,
    policy_id String,
    scope LowCardinality(String),
    subject String,
    threshold Decimal(9, 4),
    spend Decimal(38, 12),
    limit Decimal(38, 12),
    unit LowCardinality(String),
    window LowCardinality(String),
    window_start DateTime64(3, 'UTC'),
    action LowCardinality(String),
    event_id String,
    occurred_at DateTime64(3, 'UTC'),
    emitted_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(emitted_at)
ORDER BY (alert_id)
"""
