"""One raw record in, its enriched events and dead letters out: validate, dedupe, attribute,
price. Pure apart from the in-memory dedupe index it is given; the Faust agent around it only
moves bytes and persists the index's new entry."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import orjson

from schemas.codec import encode_one, join_encoded
from schemas.dead_letters import DeadLetter
from schemas.keys import KeyBinding
from schemas.usage import CostSource, EnrichedUsage, UsageEvent
from stream.attribution import Attribution, attribute
from stream.dedupe import SeenEntry, SeenIndex
from stream.pricing import PriceBook, PricedCost, decide_cost
from stream.validation import SourcePosition, parse_record

__all__ = ["EnrichedRow", "Enricher", "RecordOutcome", "StreamCounts", "chunk_encoded"]

BindingLookup = Callable[[str], KeyBinding | None]


@dataclass
class StreamCounts:
    """Running totals of one worker, logged periodically."""

    records: int = 0
    events_in: int = 0
    enriched: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    unpriced: int = 0


@dataclass(frozen=True)
class EnrichedRow:
    """One enriched event, kept as its parts so the hot path can encode it without building
    a second pydantic model."""

    event: UsageEvent
    who: Attribution
    priced: PricedCost
    enriched_at: datetime

    def _extra(self) -> dict:
        who, priced = self.who, self.priced
        return {
            "customer": who.customer,
            "feature": who.feature,
            "team_id": who.team_id,
            "owner_customer": who.owner_customer,
            "cost": format(priced.cost, "f"),
            "computed_cost": format(priced.computed_cost, "f"),
            "cost_source": priced.cost_source.value,
            "price_ref": priced.price_ref,
            "flags": [*who.flags, *priced.flags],
        }

    def to_json(self) -> bytes:
        """The ``EnrichedUsage`` JSON of this event (what ``model().model_dump_json()`` gives,
        field order aside): the event's own JSON with the enrichment fields appended."""
        base = self.event.__pydantic_serializer__.to_json(self.event)
        extra = orjson.dumps({**self._extra(), "enriched_at": self.enriched_at})
        return base[:-1] + b"," + extra[1:]

    def model(self) -> EnrichedUsage:
        """The validated model (slower; for callers that want objects)."""
        return EnrichedUsage.model_validate(
            {**self.event.model_dump(), **self._extra(), "enriched_at": self.enriched_at}
        )


@dataclass
class RecordOutcome:
    enriched: list[EnrichedRow] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    duplicates: list[UsageEvent] = field(default_factory=list)
    seen_entry: SeenEntry | None = None
    """The ids to persist for this record's position (None when nothing new)."""

    def enriched_value(self) -> bytes:
        """The enriched record value: a JSON array of ``EnrichedUsage``."""
        return join_encoded(row.to_json() for row in self.enriched)

    def enriched_values(self, max_bytes: int) -> list[bytes]:
        """The enriched output as record values of at most ``max_bytes`` each: one value for
        any record the gateway's producer makes, more only for an unusually large one."""
        return chunk_encoded((row.to_json() for row in self.enriched), max_bytes)

    def dead_letter_values(self, max_bytes: int) -> list[bytes]:
        """The dead letters as JSON-array record values of at most ``max_bytes`` each."""
        return chunk_encoded((encode_one(d) for d in self.dead_letters), max_bytes)


def chunk_encoded(encoded: Iterable[bytes], max_bytes: int) -> list[bytes]:
    """JSON arrays of the encoded messages, in order, each at most ``max_bytes`` long (a single
    message longer than that gets an array of its own)."""
    chunks: list[bytes] = []
    current: list[bytes] = []
    size = 2
    for item in encoded:
        if current and size + len(item) + 1 > max_bytes:
            chunks.append(join_encoded(current))
            current, size = [], 2
        current.append(item)
        size += len(item) + 1
    if current:
        chunks.append(join_encoded(current))
    return chunks


def _event_id(event: UsageEvent) -> str:
    return event.event_id


@dataclass
class Enricher:
    price_book: PriceBook
    tolerance_percent: Decimal
    max_record_bytes: int
    counts: StreamCounts = field(default_factory=StreamCounts)
    _who: dict[tuple[tuple[str, ...], KeyBinding | None], Attribution] = field(default_factory=dict)
    """Attribution by (tags, binding): the same customer/feature tags recur on most events."""

    def enrich(self, event: UsageEvent, binding: KeyBinding | None, now: datetime) -> EnrichedRow:
        """Attribute and price one valid event."""
        who_key = (tuple(event.tags), binding)
        who = self._who.get(who_key)
        if who is None:
            who = attribute(event, binding)
            if len(self._who) >= 50_000:
                self._who.clear()
            self._who[who_key] = who
        price = self.price_book.lookup(event.provider, event.model, event.occurred_at)
        priced = decide_cost(price, event.tokens, event.provider_cost, self.tolerance_percent)
        if priced.cost_source is CostSource.UNPRICED:
            self.counts.unpriced += 1
        return EnrichedRow(event, who, priced, now)

    def process(
        self,
        value: bytes | None,
        *,
        key: str,
        position: SourcePosition,
        seen: SeenIndex,
        bindings: BindingLookup,
        now: datetime,
    ) -> RecordOutcome:
        """Everything one raw record yields. Records the new ids in ``seen`` (so a later copy
        is a duplicate) and returns them as ``seen_entry`` for the caller to persist."""
        parsed = parse_record(
            value,
            key=key,
            position=position,
            received_at=now,
            max_record_bytes=self.max_record_bytes,
        )
        where = str(position)
        new, duplicates = seen.split(where, parsed.events, _event_id)
        outcome = RecordOutcome(dead_letters=parsed.dead_letters, duplicates=duplicates)
        cache: dict[str, KeyBinding | None] = {}
        for event in new:
            api_key = event.api_key_id
            if api_key not in cache:
                cache[api_key] = bindings(api_key)
            outcome.enriched.append(self.enrich(event, cache[api_key], now))
        if new:
            outcome.seen_entry = SeenEntry(tuple(e.event_id for e in new), now)
            seen.add(position.partition, where, outcome.seen_entry)
        counts = self.counts
        counts.records += 1
        counts.events_in += len(parsed.events) + len(parsed.dead_letters)
        counts.enriched += len(new)
        counts.duplicates += len(duplicates)
        counts.dead_letters += len(parsed.dead_letters)
        return outcome
