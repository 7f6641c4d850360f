"""Rating versions: the storage half of re-rating (``meterline rerate``).

An event's first rating is the one the stream gave it (``rating_version`` 0, ``rated_at`` =
``enriched_at``). A re-rate appends one row per changed event to ``usage_ratings`` — the audit
trail: the rating it replaces (``old_*``) and the new one, with a ``version``, ``rated_at`` and
the ``rerate_id`` of the run — then writes the event again into ``usage_events`` carrying the new
rating and version; ``FINAL`` (last insert wins) makes it the event's current rating.

The rollup stays equal to the base table: ``usage_daily_mv`` counts only version-0 rows (the
event itself, once), and ``usage_ratings_mv`` adds each re-rate's difference (new − old cost,
no requests, no tokens) to the same day and dimensions.
"""

from __future__ import annotations

from sinks import ddl

__all__ = [
    "RATING_COLUMNS",
    "USAGE_DAILY_MV_RATED",
    "USAGE_EVENTS_RATING_COLUMNS",
    "USAGE_RATINGS",
    "USAGE_RATINGS_MV",
]

USAGE_EVENTS_RATING_COLUMNS = (
    "ALTER TABLE {db}.usage_events ADD COLUMN IF NOT EXISTS rating_version UInt32 DEFAULT 0",
    "ALTER TABLE {db}.usage_events "
    "ADD COLUMN IF NOT EXISTS rated_at DateTime64(3, 'UTC') DEFAULT enriched_at",
)

USAGE_RATINGS = """
CREATE TABLE IF NOT EXISTS {db}.usage_ratings
(
    event_id String,
    occurred_at DateTime64(3, 'UTC'),
    customer String,
    feature LowCardinality(String),
    provider LowCardinality(String),
    model LowCardinality(String),
    team_id String,
    api_key_id String,
    version UInt32,
    rerate_id String,
    rated_at DateTime64(3, 'UTC'),
    old_cost Decimal(38, 12),
    old_computed_cost Decimal(38, 12),
    old_cost_source LowCardinality(String),
    old_price_ref String,
    cost Decimal(38, 12),
    computed_cost Decimal(38, 12),
    cost_source LowCardinality(String),
    price_ref String,
    flags Array(String)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (event_id, version)
"""

RATING_COLUMNS: tuple[str, ...] = (
    "event_id", "occurred_at", "customer", "feature", "provider", "model", "team_id",
    "api_key_id", "version", "rerate_id", "rated_at", "old_cost", "old_computed_cost",
    "old_cost_source", "old_price_ref", "cost", "computed_cost", "cost_source", "price_ref",
    "flags",
)  # fmt: skip

# ddl.USAGE_DAILY_MV restricted to the event's first rating (a re-rated event's later rows add
# only their difference, through USAGE_RATINGS_MV).
_FROM_EVENTS = "FROM {db}.usage_events\n"
assert ddl.USAGE_DAILY_MV.count(_FROM_EVENTS) == 1
USAGE_DAILY_MV_RATED = (
    "DROP VIEW IF EXISTS {db}.usage_daily_mv",
    ddl.USAGE_DAILY_MV.replace(_FROM_EVENTS, _FROM_EVENTS + "WHERE rating_version = 0\n"),
)

USAGE_RATINGS_MV = """
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.usage_ratings_mv TO {db}.usage_daily AS
SELECT
    toDate(occurred_at) AS day,
    customer, feature, provider, model, team_id, api_key_id,
    sum(cost - old_cost) AS cost,
    sum(computed_cost - old_computed_cost) AS computed_cost,
    toUInt64(0) AS input_tokens,
    toUInt64(0) AS output_tokens,
    toUInt64(0) AS cache_read_tokens,
    toUInt64(0) AS cache_write_tokens,
    toUInt64(0) AS reasoning_tokens,
    toUInt64(0) AS requests
FROM {db}.usage_ratings
GROUP BY day, customer, feature, provider, model, team_id, api_key_id
"""
