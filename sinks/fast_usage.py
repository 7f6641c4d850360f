"""A fast path from one decoded JSON element to a ``usage_events`` row. Pure.

Validating ``EnrichedUsage`` with pydantic costs ~20 µs an event here, more than the insert.
The sink's input was validated by the stream already, so this path only confirms the plain,
canonical shape the stream writes and builds the row directly. It is deliberately stricter than
the model: anything it is unsure of returns ``None`` and the caller validates that element with
the model (which then stores it or explains the dead letter). So it can only ever accept what
the model accepts, and yields the same row (``tests/unit/test_sink_fast_usage.py`` checks both).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from schemas._types import MAX_TOKENS

__all__ = ["fast_usage_row"]

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@/+=\-]{0,127}")
_TS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})")
_MONEY = re.compile(r"\d{1,26}(?:\.\d{1,12})?")
_TAG = re.compile(r"[a-z0-9][a-z0-9_.\-]{0,63}:[^\x00\r\n]*[^\s\x00\r\n][^\x00\r\n]*")
_CURRENCY = re.compile(r"[A-Z]{3}")
_STATUS = frozenset({"success", "error", "cancelled"})
_COST_SOURCE = frozenset({"provider", "price_book", "unpriced"})
_TOKEN_KEYS = frozenset({"input", "output", "cache_read", "cache_write", "reasoning"})


class _Unsure(Exception):
    """Not plainly valid; let the model decide."""


def _str(d: dict, key: str, lo: int, hi: int, default: str | None = None) -> str:
    value = d.get(key, default)
    if type(value) is not str or not lo <= len(value) <= hi:
        raise _Unsure
    return value


def _ident(d: dict, key: str) -> str:
    value = d.get(key)
    if type(value) is not str or not _ID.fullmatch(value):
        raise _Unsure
    return value


def _ts(d: dict, key: str) -> datetime:
    value = d.get(key)
    if type(value) is not str or not _TS.fullmatch(value):
        raise _Unsure
    return datetime.fromisoformat(value).astimezone(UTC)


def _money(value: Any) -> Decimal:
    if type(value) is str and _MONEY.fullmatch(value):
        return Decimal(value)
    if type(value) is int and 0 <= value < 10**26:
        return Decimal(value)
    raise _Unsure


def _tokens(d: dict) -> tuple[int, int, int, int, int]:
    tokens = d.get("tokens", {})
    if type(tokens) is not dict or not tokens.keys() <= _TOKEN_KEYS:
        raise _Unsure
    counts = []
    for key in ("input", "output", "cache_read", "cache_write", "reasoning"):
        value = tokens.get(key, 0)
        if type(value) is not int or not 0 <= value <= MAX_TOKENS:
            raise _Unsure
        counts.append(value)
    if counts[4] > counts[1]:
        raise _Unsure
    return counts[0], counts[1], counts[2], counts[3], counts[4]


def _str_list(d: dict, key: str, pattern: re.Pattern[str] | None, lo: int, hi: int) -> list[str]:
    value = d.get(key, [])
    if type(value) is not list or len(value) > 32:
        raise _Unsure
    for item in value:
        if type(item) is not str or not lo <= len(item) <= hi:
            raise _Unsure
        if pattern is not None and not pattern.fullmatch(item):
            raise _Unsure
    return list(value)


def fast_usage_row(element: Any) -> list[Any] | None:
    """The ``usage_events`` row (``ddl.USAGE_EVENT_COLUMNS`` order) of ``element`` if it is a
    plainly valid ``EnrichedUsage`` in canonical JSON form; ``None`` when unsure."""
    if type(element) is not dict:
        return None
    d = element
    try:
        version = d.get("schema_version", 1)
        if type(version) is not int or version != 1:
            raise _Unsure
        status = d.get("status", "success")
        cost_source = d.get("cost_source")
        if type(status) is not str or type(cost_source) is not str:
            raise _Unsure
        if status not in _STATUS or cost_source not in _COST_SOURCE:
            raise _Unsure
        streamed = d.get("streamed", False)
        latency = d.get("latency_ms", 0)
        if type(streamed) is not bool or type(latency) is not int:
            raise _Unsure
        if not 0 <= latency <= 86_400_000:
            raise _Unsure
        provider_cost = d.get("provider_cost")
        currency = d.get("currency", "USD")
        if type(currency) is not str or not _CURRENCY.fullmatch(currency):
            raise _Unsure
        t_in, t_out, t_read, t_write, t_reason = _tokens(d)
        return [
            _ident(d, "event_id"),
            _ts(d, "occurred_at"),
            _str(d, "gateway", 1, 128),
            _ident(d, "api_key_id"),
            _str(d, "request_id", 0, 256, ""),
            _str(d, "provider", 1, 128),
            _str(d, "model", 1, 128),
            t_in, t_out, t_read, t_write, t_reason,
            _str_list(d, "tags", _TAG, 3, 256),
            status,
            streamed,
            latency,
            None if provider_cost is None else _money(provider_cost),
            currency,
            _str(d, "customer", 1, 128, "unattributed"),
            _str(d, "feature", 0, 128, ""),
            _str(d, "team_id", 0, 128, ""),
            _str(d, "owner_customer", 0, 128, ""),
            _money(d.get("cost")),
            _money(d.get("computed_cost")),
            cost_source,
            _str(d, "price_ref", 0, 512, ""),
            _str_list(d, "flags", None, 0, 10**9),
            _ts(d, "enriched_at"),
        ]  # fmt: skip
    except (_Unsure, ValueError):  # ValueError: a well-formed but impossible date
        return None
