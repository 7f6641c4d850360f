"""The fast path of the raw topic: a batch record of plainly valid events, decoded with msgspec,
priced from a cache, encoded once. Pure apart from the dedupe index it is given, like
:mod:`stream.enrich`.

Validating a batch with pydantic and serialising each event again cost most of a worker's time.
This path decodes a record's JSON array into typed structs in C (types, lengths, literals,
unknown token keys) and checks the patterns (ids, tags, timestamps, money) with the same rules
as :mod:`schemas._types`, only stricter: it accepts a record only when every element is plainly
valid and written the way the model would write it back (canonical UTC ``Z`` timestamps, plain
decimal money), so the enriched JSON it builds is the one the model path builds. Anything it is
unsure of (a bad event, another schema version, an offset timestamp, a single-object record)
goes to :meth:`stream.enrich.Enricher.process` whole, which then enriches it or explains the dead
letters. ``UsageEvent`` stays the contract; ``tests/unit/test_stream_fast_raw.py`` checks that
both paths give the same enriched events, dead letters, duplicates and counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from operator import attrgetter
from typing import Annotated, Literal, Protocol

import msgspec
import orjson
from msgspec import UNSET, UnsetType

from schemas._types import MAX_TOKENS
from schemas.keys import KeyBinding
from schemas.usage import CostSource
from stream.attribution import attribute_tags
from stream.canonical_text import check_day, plain_money, utc_time
from stream.dedupe import SeenEntry, SeenIndex
from stream.enrich import BindingLookup, Enricher, chunk_encoded
from stream.price_cache import PriceCache
from stream.pricing import UnitPrice, decide_cost
from stream.validation import SourcePosition

__all__ = ["FastEnricher", "FastOutcome", "Outcome", "decode_batch"]


_Name = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
_RequestId = Annotated[str, msgspec.Meta(max_length=256)]
_TagText = Annotated[str, msgspec.Meta(min_length=3, max_length=256)]
_Currency = Annotated[str, msgspec.Meta(min_length=3, max_length=3)]


# The model's patterns (``schemas._types``), as full matches (``$`` would let a trailing newline
# through). Stricter where the model would rewrite a value: UTC times ending in ``Z`` with no
# fraction or six digits not all zero, money as plain decimals.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@/+=\-]*").fullmatch
_TAG = re.compile(r"[a-z0-9][a-z0-9_.\-]{0,63}:[^\x00\r\n]*[^\s\x00\r\n][^\x00\r\n]*").fullmatch
_CURRENCY = re.compile(r"[A-Z]{3}").fullmatch
_Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_TOKENS)]


class RawTokens(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    input: _Count = 0
    output: _Count = 0
    cache_read: _Count = 0
    cache_write: _Count = 0
    reasoning: _Count = 0

    @property
    def prompt_total(self) -> int:
        return self.input + self.cache_read + self.cache_write


class RawEvent(msgspec.Struct, gc=False):
    """A ``UsageEvent`` as this path reads it, with the model's defaults; encoded, every field
    is written, as the model writes them."""

    event_id: _Name
    occurred_at: str
    gateway: _Name
    api_key_id: _Name
    provider: _Name
    model: _Name
    schema_version: Literal[1] = 1
    request_id: _RequestId = ""
    tokens: RawTokens = msgspec.field(default_factory=RawTokens)
    tags: Annotated[list[_TagText], msgspec.Meta(max_length=32)] = msgspec.field(
        default_factory=list
    )
    status: Literal["success", "error", "cancelled"] = "success"
    streamed: bool = False
    latency_ms: Annotated[int, msgspec.Meta(ge=0, le=86_400_000)] = 0
    provider_cost: str | None = None
    currency: _Currency = "USD"
    # The enrichment, set by FastEnricher and written after the event's own fields (UNSET
    # fields are not written). A raw event that carries one of these names is read into it and
    # then overwritten, as the model path ignores it; one of another type goes to that path.
    customer: str | UnsetType = UNSET
    feature: str | UnsetType = UNSET
    team_id: str | UnsetType = UNSET
    owner_customer: str | UnsetType = UNSET
    cost: str | UnsetType = UNSET
    computed_cost: str | UnsetType = UNSET
    cost_source: str | UnsetType = UNSET
    price_ref: str | UnsetType = UNSET
    flags: list[str] | UnsetType = UNSET
    enriched_at: str | UnsetType = UNSET


_DECODER = msgspec.json.Decoder(list[RawEvent])
_ENCODE = msgspec.json.Encoder().encode

# Values that repeat across events (keys, tags, days) are checked once. Bounded: a full cache
# is dropped, which only costs checking again.
_CACHE_MAX = 50_000
_good_keys: set[str] = set()
_good_tags: set[str] = set()


class _Unsure(Exception):
    """Not plainly valid and canonical; the model path decides."""


def _remember(cache: set[str], value: str) -> None:
    if len(cache) >= _CACHE_MAX:
        cache.clear()
    cache.add(value)


def _check(e: RawEvent) -> RawEvent:
    if e.tokens.reasoning > e.tokens.output or not _ID(e.event_id):
        raise _Unsure
    ts = e.occurred_at
    if not utc_time(ts):
        raise _Unsure
    check_day(ts[:10])
    if e.api_key_id not in _good_keys:
        if not _ID(e.api_key_id):
            raise _Unsure
        _remember(_good_keys, e.api_key_id)
    for tag in e.tags:
        if tag not in _good_tags:
            if not _TAG(tag):
                raise _Unsure
            _remember(_good_tags, tag)
    if e.provider_cost is not None and not plain_money(e.provider_cost):
        raise _Unsure
    if e.currency != "USD" and not _CURRENCY(e.currency):
        raise _Unsure
    return e


def decode_batch(value: bytes) -> list[RawEvent] | None:
    """The events of a record holding a JSON array of plainly valid, canonical ``UsageEvent``
    JSON; ``None`` when any element is not (the model path then decides, element by element)."""
    if value[:1] != b"[":
        return None
    try:
        return [_check(e) for e in _DECODER.decode(value)]
    except (_Unsure, msgspec.ValidationError, msgspec.DecodeError, ValueError):
        return None


class Outcome(Protocol):
    """What the agent needs of one raw record's result, from either path."""

    seen_entry: SeenEntry | None

    def enriched_values(self, max_bytes: int) -> list[bytes]: ...

    def dead_letter_values(self, max_bytes: int) -> list[bytes]: ...


@dataclass
class FastOutcome:
    events: list[RawEvent] = field(default_factory=list)
    """The enriched events, their enrichment set."""
    duplicates: list[RawEvent] = field(default_factory=list)
    seen_entry: SeenEntry | None = None

    def enriched_values(self, max_bytes: int) -> list[bytes]:
        # One encode of the whole array; per event only when it must be split (as
        # chunk_encoded splits it: one value while the array is shorter than max_bytes).
        if not self.events:
            return []
        whole = _ENCODE(self.events)
        if len(whole) < max_bytes:
            return [whole]
        return chunk_encoded([_ENCODE(e) for e in self.events], max_bytes)

    def dead_letter_values(self, max_bytes: int) -> list[bytes]:
        return []


_event_id = attrgetter("event_id")


_Who = tuple[str, str, str, str, tuple[str, ...]]
"""customer, feature, team_id, owner_customer and flags of an :class:`Attribution`."""


@dataclass
class FastEnricher:
    """:meth:`process` as :meth:`Enricher.process` does it, the fast way when it can."""

    slow: Enricher
    prices: PriceCache = field(init=False)
    _who: dict[tuple[tuple[str, ...], KeyBinding | None], _Who] = field(default_factory=dict)
    fast_records: int = 0

    def __post_init__(self) -> None:
        self.prices = PriceCache(self.slow.price_book)

    def process(
        self,
        value: bytes | None,
        *,
        key: str,
        position: SourcePosition,
        seen: SeenIndex,
        bindings: BindingLookup,
        now: datetime,
    ) -> Outcome:
        """Everything one raw record yields (see :meth:`Enricher.process`)."""
        events = None
        if value is not None and len(value) <= self.slow.max_record_bytes:
            events = decode_batch(value)
        if events is None:
            return self.slow.process(
                value, key=key, position=position, seen=seen, bindings=bindings, now=now
            )
        self.fast_records += 1
        where = str(position)
        new, duplicates = seen.split(where, events, _event_id)
        enriched_at = orjson.dumps(now)[1:-1].decode()
        price_of = self.prices.price
        who_of = self._who.get
        bound: dict[str, KeyBinding | None] = {}
        for event in new:
            api_key = event.api_key_id
            if api_key not in bound:
                bound[api_key] = bindings(api_key)
            binding = bound[api_key]
            who = who_of((tuple(event.tags), binding)) or self._attribution(event.tags, binding)
            event.customer, event.feature, event.team_id, event.owner_customer, flags = who
            price, int_cost = price_of(event.provider, event.model, event.occurred_at)
            text = None
            if int_cost is not None and event.provider_cost is None:
                text = int_cost.text(event.tokens)
            if text is not None:
                # decide_cost's price-book case: cost = computed, no flags of its own.
                event.cost = event.computed_cost = text
                event.cost_source = "price_book"
                event.price_ref = price.ref  # type: ignore[union-attr]  # int_cost implies a price
                event.flags = list(flags)
            else:
                self._decide(event, price, flags)
            event.enriched_at = enriched_at
        if new:
            outcome_entry = SeenEntry(tuple(e.event_id for e in new), now)
            seen.add(position.partition, where, outcome_entry)
        else:
            outcome_entry = None
        counts = self.slow.counts
        counts.records += 1
        counts.events_in += len(events)
        counts.enriched += len(new)
        counts.duplicates += len(duplicates)
        return FastOutcome(new, duplicates, outcome_entry)

    def _decide(self, event: RawEvent, price: UnitPrice | None, flags: tuple[str, ...]) -> None:
        """Set the cost of an event priced by :func:`decide_cost` itself."""
        pc = event.provider_cost
        priced = decide_cost(
            price,
            event.tokens,  # type: ignore[arg-type]  # the fields TokenCounts prices by
            None if pc is None else Decimal(pc),
            self.slow.tolerance_percent,
        )
        if priced.cost_source is CostSource.UNPRICED:
            self.slow.counts.unpriced += 1
        event.cost = format(priced.cost, "f")
        event.computed_cost = format(priced.computed_cost, "f")
        event.cost_source = priced.cost_source.value
        event.price_ref = priced.price_ref
        event.flags = [*flags, *priced.flags]

    def _attribution(self, tags: list[str], binding: KeyBinding | None) -> _Who:
        """Who, cached by (tags, binding)."""
        who = attribute_tags(tags, binding)
        found = (who.customer, who.feature, who.team_id, who.owner_customer, who.flags)
        if len(self._who) >= 50_000:
            self._who.clear()
        self._who[(tuple(tags), binding)] = found
        return found
