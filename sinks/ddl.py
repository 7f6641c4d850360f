"""ClickHouse tables (the storage contract reports query). ``{db}`` is the database name.

``usage_events`` holds one row per event: a ReplacingMergeTree whose sorting key ends in
``event_id`` and whose partition (month of ``occurred_at``) is fixed by the event itself, so a
duplicate row of the same event collapses on merge; reports read it with ``FINAL`` or dedupe by
``event_id`` until then.

The statements are applied in order by :mod:`sinks.migrations`; a released statement is never
edited, a change is a new migration there. The one exception is ``usage_events``, whose
``CREATE`` is generated from ``sinks.usage_columns`` (a new column there comes with its own
``ADD COLUMN`` migration).
"""

from __future__ import annotations

from sinks.usage_columns import USAGE_COLUMN_NAMES, USAGE_COLUMNS

__all__ = [
    "BUDGET_ALERTS",
    "BUDGET_ALERT_COLUMNS",
    "CONFIG_HISTORY",
    "CONFIG_HISTORY_COLUMNS",
    "DEAD_LETTERS",
    "DEAD_LETTER_COLUMNS",
    "USAGE_DAILY",
    "USAGE_DAILY_MV",
    "USAGE_EVENTS",
    "USAGE_EVENTS_GUARDS",
    "USAGE_EVENT_COLUMNS",
]

USAGE_EVENT_COLUMNS: tuple[str, ...] = USAGE_COLUMN_NAMES

_USAGE_COLUMN_LINES = ",\n".join(f"    {c.name} {c.ch_type}" for c in USAGE_COLUMNS)

# Generated from ``sinks.usage_columns``: a fresh database gets the current columns; every
# column added after a release also has its ``ADD COLUMN IF NOT EXISTS`` migration, so an older
# database reaches the same columns (see docs/storage-columns.md).
USAGE_EVENTS = f"""
CREATE TABLE IF NOT EXISTS {{db}}.usage_events
(
{_USAGE_COLUMN_LINES},
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

DEAD_LETTER_COLUMNS: tuple[str, ...] = (
    "dead_letter_id", "source_topic", "partition", "offset", "index_in_record", "event_id",
    "api_key_id", "error_kind", "reason", "raw", "received_at",
)  # fmt: skip

BUDGET_ALERT_COLUMNS: tuple[str, ...] = (
    "alert_id", "policy_id", "scope", "subject", "threshold", "spend", "limit", "unit", "window",
    "window_start", "action", "event_id", "occurred_at", "emitted_at",
)  # fmt: skip

# A gateway with a broken clock (year 2999) would land in a partition nobody reads and outside
# DateTime64's range; the database refuses such a row and the sink dead-letters it. The bloom
# filter lets the writer look up already stored event ids without reading every granule.
USAGE_EVENTS_GUARDS = (
    """
ALTER TABLE {db}.usage_events
    ADD CONSTRAINT IF NOT EXISTS occurred_at_sane CHECK
        occurred_at >= toDateTime64('2000-01-01 00:00:00', 3, 'UTC')
        AND occurred_at < toDateTime64('2200-01-01 00:00:00', 3, 'UTC')
""",
    """
ALTER TABLE {db}.usage_events
    ADD INDEX IF NOT EXISTS event_id_bloom event_id TYPE bloom_filter(0.01) GRANULARITY 1
""",
)

USAGE_DAILY = """
CREATE TABLE IF NOT EXISTS {db}.usage_daily
(
    day Date,
    customer String,
    feature LowCardinality(String),
    provider LowCardinality(String),
    model LowCardinality(String),
    team_id String,
    api_key_id String,
    cost Decimal(38, 12),
    computed_cost Decimal(38, 12),
    input_tokens UInt64,
    output_tokens UInt64,
    cache_read_tokens UInt64,
    cache_write_tokens UInt64,
    reasoning_tokens UInt64,
    requests UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, customer, feature, provider, model, team_id, api_key_id)
SETTINGS non_replicated_deduplication_window = 10000
"""

USAGE_DAILY_MV = """
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.usage_daily_mv TO {db}.usage_daily AS
SELECT
    toDate(occurred_at) AS day,
    customer, feature, provider, model, team_id, api_key_id,
    sum(cost) AS cost,
    sum(computed_cost) AS computed_cost,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    count() AS requests
FROM {db}.usage_events
GROUP BY day, customer, feature, provider, model, team_id, api_key_id
"""

# Append-only history of the compacted configuration topics (``schemas.config``): one row per
# change, never updated. The current configuration is the row with the highest ``version`` per
# (kind, entity_id); ``change_id`` (first column: the sink's idempotency key) makes a replayed
# or republished change a no-op.
CONFIG_HISTORY = """
CREATE TABLE IF NOT EXISTS {db}.config_history
(
    change_id String,
    kind LowCardinality(String),
    entity_id String,
    version UInt64,
    op LowCardinality(String),
    old_value String,
    new_value String,
    actor String,
    origin LowCardinality(String),
    changed_at DateTime64(3, 'UTC'),
    source String,
    recorded_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (kind, entity_id, version, change_id)
SETTINGS non_replicated_deduplication_window = 10000
"""

CONFIG_HISTORY_COLUMNS: tuple[str, ...] = (
    "change_id", "kind", "entity_id", "version", "op", "old_value", "new_value", "actor",
    "origin", "changed_at", "source",
)  # fmt: skip
