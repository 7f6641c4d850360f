"""Per-record spend deltas: what the key-partitioned stream sends to ``meterline.budgets.deltas``.

One enriched record (a batch of events of one key) becomes at most one ``SpendDelta`` per budget
subject that has a policy: the key, its team, its owner customer. Events are grouped by minute,
the finest budget bucket, so a delta stays a handful of items however large the batch.

``(source, offset)`` names the record a delta came from (an enriched topic partition, or
``policies`` for the re-evaluation a policy change triggers, which has no items); the evaluator
applies each at most once per subject, so a reprocessed record never counts twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import cast

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from schemas import UNATTRIBUTED
from schemas.budgets import BudgetScope
from schemas.dead_letters import DeadLetter, ErrorKind
from schemas.usage import EnrichedUsage
from stream.spend_fast import SpendRow, decode_spend

__all__ = [
    "OPENING_SOURCE",
    "POLICY_SOURCE",
    "SpendDelta",
    "SpendView",
    "UsageItem",
    "aggregate_record",
    "decode_enriched",
    "subject_key",
    "subjects_of",
]

_MINUTE = 60

POLICY_SOURCE = "policies"
"""``source`` of the item-less deltas that make the evaluator re-check a subject after a
policy change (``offset`` is the policies topic offset)."""

OPENING_SOURCE = "opening"
"""``source`` prefix of the opening balances a starter publishes after the windows' state was
lost (``opening:<policy_id>``, offset 0): spend already stored in ``usage_events``, for one
policy, with the thresholds that already alerted."""


def subject_key(scope: BudgetScope, subject: str) -> str:
    """The record key of a subject on the deltas topic and in the subject table."""
    return f"{scope.value}:{subject}"


@dataclass(frozen=True)
class UsageItem:
    """Usage of one subject within one minute of one record."""

    at: int
    """Epoch second of the last event in this minute (the one named by ``event_id``)."""
    usd: Decimal
    tokens: int
    requests: int
    event_id: str


@dataclass(frozen=True)
class SpendDelta:
    scope: BudgetScope
    subject: str
    source: str
    """The enriched topic partition the record came from, or ``POLICY_SOURCE``."""
    offset: int
    items: tuple[UsageItem, ...]
    policy_id: str = ""
    """Non-empty: the delta applies to this policy of the subject only (an opening balance)."""
    fired: tuple[tuple[int, Decimal], ...] = ()
    """(window instance start, threshold) pairs that already alerted before the state was lost:
    they count as fired, so applying the delta does not alert for them again."""

    @classmethod
    def opening(
        cls,
        scope: BudgetScope,
        subject: str,
        policy_id: str,
        items: tuple[UsageItem, ...],
        fired: tuple[tuple[int, Decimal], ...],
    ) -> SpendDelta:
        """The opening balance of one policy; idempotent per subject like any delta."""
        return cls(scope, subject, f"{OPENING_SOURCE}:{policy_id}", 0, items, policy_id, fired)

    @classmethod
    def policy_trigger(cls, scope: BudgetScope, subject: str, offset: int) -> SpendDelta:
        """A delta without usage: re-evaluate ``subject`` under its current policies."""
        return cls(scope, subject, POLICY_SOURCE, offset, ())

    @property
    def key(self) -> str:
        return subject_key(self.scope, self.subject)

    def to_json(self) -> bytes:
        raw: dict = {
            "scope": self.scope.value,
            "subject": self.subject,
            "source": self.source,
            "offset": self.offset,
            "items": [
                [i.at, format(i.usd, "f"), i.tokens, i.requests, i.event_id] for i in self.items
            ],
        }
        if self.policy_id:
            raw["policy_id"] = self.policy_id
        if self.fired:
            raw["fired"] = [[at, format(t, "f")] for at, t in self.fired]
        return orjson.dumps(raw)

    @classmethod
    def from_json(cls, data: bytes) -> SpendDelta:
        """Raises ``ValueError`` (or ``KeyError``/``TypeError``) on a malformed value."""
        raw = orjson.loads(data)
        items = tuple(
            UsageItem(int(at), Decimal(usd), int(tokens), int(requests), str(event_id))
            for at, usd, tokens, requests, event_id in raw["items"]
        )
        fired = tuple((int(at), Decimal(t)) for at, t in raw.get("fired", ()))
        return cls(BudgetScope(raw["scope"]), str(raw["subject"]), str(raw["source"]),
                   int(raw["offset"]), items, str(raw.get("policy_id", "")), fired)  # fmt: skip


class _Tokens(BaseModel):
    model_config = ConfigDict(extra="ignore")
    input: int = Field(default=0, ge=0)
    output: int = Field(default=0, ge=0)
    cache_read: int = Field(default=0, ge=0)
    cache_write: int = Field(default=0, ge=0)

    @property
    def total(self) -> int:
        return self.input + self.output + self.cache_read + self.cache_write


class SpendView(BaseModel):
    """The fields of an ``EnrichedUsage`` that budgets read; decoding a record into these is
    several times faster than into full models, which only bad records need."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    event_id: str = Field(min_length=1)
    occurred_at: datetime
    api_key_id: str = Field(min_length=1)
    team_id: str = ""
    owner_customer: str = ""
    customer: str = ""
    cost: Decimal = Field(ge=0, allow_inf_nan=False)
    tokens: _Tokens = Field(default_factory=_Tokens)


_FAST = TypeAdapter(list[SpendView])


Spent = EnrichedUsage | SpendView | SpendRow
"""An enriched event as budgets read it (full model, pydantic view, or msgspec row)."""


def subjects_of(event: Spent) -> list[tuple[BudgetScope, str]]:
    """Every budget subject an event is charged to: key, team and owner customer from the key
    binding, and the ``customer:`` tag as the (alert-only) ``tag_customer`` subject."""
    subjects = [(BudgetScope.KEY, event.api_key_id)]
    if event.team_id:
        subjects.append((BudgetScope.TEAM, event.team_id))
    if event.owner_customer:
        subjects.append((BudgetScope.CUSTOMER, event.owner_customer))
    if event.customer and event.customer != UNATTRIBUTED:
        subjects.append((BudgetScope.TAG_CUSTOMER, event.customer))
    return subjects


def aggregate_record(
    events: Iterable[Spent],
    has_policy: Callable[[BudgetScope, str], bool],
    *,
    source: str,
    offset: int,
) -> list[SpendDelta]:
    """One delta per subject with a policy, items per minute in first-seen order."""
    groups: dict[tuple[BudgetScope, str], dict[int, list]] = {}
    # The events of a record share a key and mostly a few customers: look the policies up once
    # per who.
    charged: dict[tuple[str, str, str, str], list[dict[int, list]]] = {}
    for event in events:
        who = (event.api_key_id, event.team_id, event.owner_customer, event.customer)
        targets = charged.get(who)
        if targets is None:
            targets = charged[who] = [
                groups.setdefault(subject, {})
                for subject in subjects_of(event)
                if has_policy(*subject)
            ]
        if not targets:
            continue
        if type(event) is SpendRow:
            at, cost = cast(int, event.at), cast(Decimal, event.usd)
        else:
            model = cast(EnrichedUsage | SpendView, event)
            at, cost = int(model.occurred_at.timestamp()), model.cost
        minute = at - at % _MINUTE
        tokens = event.tokens.total
        for minutes in targets:
            acc = minutes.get(minute)
            if acc is None:
                minutes[minute] = [at, cost, tokens, 1, event.event_id]
            else:
                acc[0] = at
                acc[1] += cost
                acc[2] += tokens
                acc[3] += 1
                acc[4] = event.event_id
    return [
        SpendDelta(scope, subject, source, offset, tuple(UsageItem(*acc) for acc in mins.values()))
        for (scope, subject), mins in groups.items()
    ]


def decode_enriched(
    data: bytes | None, *, topic: str, partition: int, offset: int, now: datetime
) -> tuple[list[Spent], list[DeadLetter]]:
    """The good events of an enriched record and a dead letter per bad element (or per record
    when it is not a JSON array/object at all). Never raises on input.

    A record as the stream writes it decodes into ``SpendRow``s (``stream.spend_fast``); another
    well-formed array into ``SpendView``s in one pass; anything else is validated element by
    element as ``EnrichedUsage`` so each bad element gets its own reason."""
    rows = decode_spend(data)
    if rows is not None:
        return list(rows), []
    if data and data.lstrip()[:1] == b"[":
        try:
            return list(_FAST.validate_json(data)), []
        except ValidationError:
            pass  # fall through: find the bad elements and say why each is bad

    def dead(index: int, kind: ErrorKind, reason: str, raw: bytes) -> DeadLetter:
        return DeadLetter(
            dead_letter_id=f"budgets:{topic}:{partition}:{offset}:{index}",
            source_topic=topic,
            partition=partition,
            offset=offset,
            index_in_record=index,
            error_kind=kind,
            reason=reason[:4000],
            raw=raw,
            received_at=now,
        )

    try:
        parsed = orjson.loads(data or b"")
    except orjson.JSONDecodeError as exc:
        return [], [dead(-1, ErrorKind.DECODE, f"not JSON: {exc}", data or b"")]
    elements = parsed if isinstance(parsed, list) else [parsed]
    events: list[Spent] = []
    dead_letters: list[DeadLetter] = []
    for index, element in enumerate(elements):
        try:
            events.append(EnrichedUsage.model_validate(element))
        except ValidationError as exc:
            raw = orjson.dumps(element)
            dead_letters.append(dead(index, ErrorKind.SCHEMA, str(exc), raw))
    return events, dead_letters
