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
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec

from schemas._types import MAX_TOKENS

__all__ = ["as_python", "fast_usage_row", "fast_usage_rows"]

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


# Values that repeat across events (keys, tags, batch timestamps) are checked once. Bounded: the
# caches are dropped when full, which only costs re-checking.
_CACHE_MAX = 50_000
_good_ids: set[str] = set()
_good_tags: set[str] = set()
_timestamps: dict[str, datetime] = {}


def _remember(cache: set[str] | dict, value: str) -> None:
    if len(cache) >= _CACHE_MAX:
        cache.clear()
    if isinstance(cache, set):
        cache.add(value)


def _ident(d: dict, key: str) -> str:
    value = d.get(key)
    if type(value) is not str:
        raise _Unsure
    if value in _good_ids:
        return value
    if not _ID.fullmatch(value):
        raise _Unsure
    _remember(_good_ids, value)
    return value


def _ts(d: dict, key: str) -> datetime:
    value = d.get(key)
    if type(value) is not str:
        raise _Unsure
    parsed = _timestamps.get(value)
    if parsed is None:
        if not _TS.fullmatch(value):
            raise _Unsure
        parsed = datetime.fromisoformat(value).astimezone(UTC)
        _remember(_timestamps, value)
        _timestamps[value] = parsed
    return parsed


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


def _tags(d: dict) -> list[str]:
    value = d.get("tags", [])
    if type(value) is not list or len(value) > 32:
        raise _Unsure
    for item in value:
        if type(item) is not str:
            raise _Unsure
        if item in _good_tags:
            continue
        if not 3 <= len(item) <= 256 or not _TAG.fullmatch(item):
            raise _Unsure
        _remember(_good_tags, item)
    return value


def _flags(d: dict) -> list[str]:
    value = d.get("flags", [])
    if type(value) is not list or len(value) > 32:
        raise _Unsure
    for item in value:
        if type(item) is not str:
            raise _Unsure
    return value


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
        if currency != "USD" and (type(currency) is not str or not _CURRENCY.fullmatch(currency)):
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
            _tags(d),
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
            _flags(d),
            _ts(d, "enriched_at"),
        ]  # fmt: skip
    except (_Unsure, ValueError):  # ValueError: a well-formed but impossible date
        return None


# The whole-record fast path: msgspec decodes a record's JSON array into typed structs in C
# (types, lengths, literals, unknown token keys); the patterns are checked below with the same
# caches as above. Any doubt: None, and the caller goes element by element.
def _text(lo: int, hi: int) -> Any:
    return Annotated[str, msgspec.Meta(min_length=lo, max_length=hi)]


_Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_TOKENS)]


class _Tokens(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    input: _Count = 0
    output: _Count = 0
    cache_read: _Count = 0
    cache_write: _Count = 0
    reasoning: _Count = 0


class _Enriched(msgspec.Struct, gc=False):
    event_id: _text(1, 128)
    occurred_at: str
    gateway: _text(1, 128)
    api_key_id: _text(1, 128)
    provider: _text(1, 128)
    model: _text(1, 128)
    cost: str
    computed_cost: str
    cost_source: Literal["provider", "price_book", "unpriced"]
    enriched_at: str
    schema_version: Literal[1] = 1
    request_id: _text(0, 256) = ""
    tokens: _Tokens = msgspec.field(default_factory=_Tokens)
    tags: Annotated[list[_text(3, 256)], msgspec.Meta(max_length=32)] = msgspec.field(
        default_factory=list
    )
    status: Literal["success", "error", "cancelled"] = "success"
    streamed: bool = False
    latency_ms: Annotated[int, msgspec.Meta(ge=0, le=86_400_000)] = 0
    provider_cost: str | None = None
    currency: _text(3, 3) = "USD"
    customer: _text(1, 128) = "unattributed"
    feature: _text(0, 128) = ""
    team_id: _text(0, 128) = ""
    owner_customer: _text(0, 128) = ""
    price_ref: _text(0, 512) = ""
    flags: Annotated[list[str], msgspec.Meta(max_length=32)] = msgspec.field(default_factory=list)


_BATCH_DECODER = msgspec.json.Decoder(list[_Enriched])
_money_match = _MONEY.fullmatch
_id_match = _ID.fullmatch


# Time and offset fields are range-checked by the pattern; the date (month length, leap years)
# by ``date.fromisoformat`` once per distinct day, as days repeat across events and times do not.
# ASCII [0-9] keeps it stricter than the model.
_TS_STRICT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)
_ts_match = _TS_STRICT.fullmatch
_good_days: set[str] = set()


def _timestamp(value: str) -> str:
    if not _ts_match(value):
        raise _Unsure
    day = value[:10]
    if day not in _good_days:
        date.fromisoformat(day)  # a real date (raises ValueError otherwise)
        _remember(_good_days, day)
    return value


def _key(value: str) -> str:
    if value not in _good_ids:
        if not _id_match(value):
            raise _Unsure
        _remember(_good_ids, value)
    return value


def _check_tags(tags: list[str]) -> list[str]:
    for tag in tags:
        if tag not in _good_tags:
            if not _TAG.fullmatch(tag):
                raise _Unsure
            _remember(_good_tags, tag)
    return tags


def _amount(value: str) -> str:
    if not _money_match(value):
        raise _Unsure
    return value


def fast_usage_rows(value: bytes) -> list[list[Any]] | None:
    """Rows of every element of a record holding a JSON array of plainly valid
    ``EnrichedUsage``; ``None`` if any element is not (then decode element by element).

    Timestamps and money stay the validated JSON strings they arrived as (RFC 3339, plain
    decimals): the store's encoder parses them exactly (in C++, per column), so no
    ``datetime``/``Decimal`` is built per event on the hot path."""
    try:
        events = _BATCH_DECODER.decode(value)
        rows = []
        append = rows.append
        for e in events:
            t = e.tokens
            if t.reasoning > t.output or (
                e.currency != "USD" and not _CURRENCY.fullmatch(e.currency)
            ):
                return None
            event_id = e.event_id
            if not _id_match(event_id):
                return None
            pc = e.provider_cost
            append([
                event_id, _timestamp(e.occurred_at), e.gateway, _key(e.api_key_id),
                e.request_id, e.provider, e.model, t.input, t.output, t.cache_read,
                t.cache_write, t.reasoning, _check_tags(e.tags), e.status, e.streamed,
                e.latency_ms, None if pc is None else _amount(pc), e.currency, e.customer,
                e.feature, e.team_id, e.owner_customer, _amount(e.cost),
                _amount(e.computed_cost), e.cost_source, e.price_ref, e.flags,
                _timestamp(e.enriched_at),
            ])  # fmt: skip
        return rows
    except (_Unsure, msgspec.ValidationError, msgspec.DecodeError, ValueError):
        return None


_TS_COLUMNS = (1, 27)
_MONEY_COLUMNS = (16, 22, 23)


def as_python(row: list[Any]) -> list[Any]:
    """A fast-path row with its timestamp and money strings turned into the ``datetime`` and
    ``Decimal`` values the model path puts there (both insert the same data)."""
    out = list(row)
    for i in _TS_COLUMNS:
        if isinstance(out[i], str):
            out[i] = datetime.fromisoformat(out[i]).astimezone(UTC)
    for i in _MONEY_COLUMNS:
        if isinstance(out[i], str):
            out[i] = Decimal(out[i])
    return out
