"""The ``usage_events`` row, defined once: each column's name, ClickHouse type and where its
value comes from in an :class:`~schemas.usage.EnrichedUsage` (an attribute path).

Everything else derives from this list: the ``CREATE TABLE`` (``sinks.ddl``), the column names
of inserts, the Arrow layout and the model-path row builder (``sinks.rows``), the fast decoder
and its limits, which are read from the model's own field constraints (``sinks.fast_usage``).
``tests/unit/test_usage_columns.py`` fails when this list and the model drift apart. How to add
a column: ``docs/storage-columns.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["USAGE_COLUMNS", "USAGE_COLUMN_NAMES", "UsageColumn"]

Check = Literal["id", "key", "tags"]


@dataclass(frozen=True)
class UsageColumn:
    name: str
    """Column name in ClickHouse."""
    ch_type: str
    """ClickHouse type; ``Nullable(...)`` for an optional field."""
    source: str
    """Attribute path of the value in ``EnrichedUsage`` (and in its JSON): ``tokens.input``."""
    check: Check | None = None
    """What the fast path checks beyond the model's types and lengths: ``id`` an identifier's
    pattern, ``key`` the same with a cache (values that repeat), ``tags`` each ``name:value``."""

    @property
    def nullable(self) -> bool:
        return self.ch_type.startswith("Nullable(")

    @property
    def base_type(self) -> str:
        return self.ch_type[len("Nullable(") : -1] if self.nullable else self.ch_type

    @property
    def is_timestamp(self) -> bool:
        return self.base_type.startswith("DateTime64(")

    @property
    def is_money(self) -> bool:
        return self.base_type.startswith("Decimal(")

    @property
    def is_array(self) -> bool:
        return self.base_type.startswith("Array(")


_TS = "DateTime64(3, 'UTC')"
_MONEY = "Decimal(38, 12)"
_LC = "LowCardinality(String)"

USAGE_COLUMNS: tuple[UsageColumn, ...] = (
    UsageColumn("event_id", "String", "event_id", check="id"),
    UsageColumn("occurred_at", _TS, "occurred_at"),
    UsageColumn("gateway", _LC, "gateway"),
    UsageColumn("api_key_id", "String", "api_key_id", check="key"),
    UsageColumn("request_id", "String", "request_id"),
    UsageColumn("provider", _LC, "provider"),
    UsageColumn("model", _LC, "model"),
    UsageColumn("input_tokens", "UInt64", "tokens.input"),
    UsageColumn("output_tokens", "UInt64", "tokens.output"),
    UsageColumn("cache_read_tokens", "UInt64", "tokens.cache_read"),
    UsageColumn("cache_write_tokens", "UInt64", "tokens.cache_write"),
    UsageColumn("reasoning_tokens", "UInt64", "tokens.reasoning"),
    UsageColumn("tags", "Array(String)", "tags", check="tags"),
    UsageColumn("status", _LC, "status"),
    UsageColumn("streamed", "Bool", "streamed"),
    UsageColumn("latency_ms", "UInt32", "latency_ms"),
    UsageColumn("provider_cost", f"Nullable({_MONEY})", "provider_cost"),
    UsageColumn("currency", _LC, "currency"),
    UsageColumn("customer", "String", "customer"),
    UsageColumn("feature", _LC, "feature"),
    UsageColumn("team_id", "String", "team_id"),
    UsageColumn("owner_customer", "String", "owner_customer"),
    UsageColumn("cost", _MONEY, "cost"),
    UsageColumn("computed_cost", _MONEY, "computed_cost"),
    UsageColumn("cost_source", _LC, "cost_source"),
    UsageColumn("price_ref", "String", "price_ref"),
    UsageColumn("flags", "Array(String)", "flags"),
    UsageColumn("enriched_at", _TS, "enriched_at"),
)

USAGE_COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in USAGE_COLUMNS)
