"""Admission rules (pure): may this call start now, and what does it hold until it settles?

One ``Ask`` covers every limit over a call — the rate limits of the key, its team and its owner
customer, and every ``block`` budget over them — and is decided all-or-nothing: a call refused by
one limit consumes nothing from the others. Time (``now``, seconds) is passed in.

* **rpm** — a sliding-window log: a call is admitted while fewer than ``rpm`` calls were admitted
  in the last 60 s (window ``(now - 60, now]``), so *every* 60 s window holds at most ``rpm``.
* **tpm** — the same log carries each call's tokens: admission reserves the estimate (prompt
  estimate + ``max_tokens``); settling replaces it by the real count, refunding or charging the
  difference while the call is still inside the window.
* **max_parallel** — a slot per call in flight, held until the call settles or its lease expires
  (a gateway that died mid-call frees its slots after ``lease_s``).
* **budget** — a call reserves its worst-case cost against the cap's headroom:
  ``limit - max(settled in window, floor) - outstanding reservations``, where ``floor`` is the
  spend the stream last reported (the record), and settles with its real cost. Reservations have
  a lease too. Settled cost lands in time buckets of 1/60 of a rolling window and leaves the
  window with its bucket (at most one bucket late: conservative); a calendar window is a
  separate counter per instance.
* **Idempotent.** Reserving a call id already admitted changes nothing; settling a call id twice
  changes nothing the second time.

Money is counted in integer micro-USD here (the stream's exact Decimal spend stays the record);
costs are rounded up, so the counters never under-count.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import Literal

__all__ = [
    "RATE_WINDOW_S",
    "Admitted",
    "Ask",
    "BudgetAsk",
    "Counters",
    "RateAsk",
    "Refusal",
    "Settle",
    "from_micros",
    "to_micros",
]

RATE_WINDOW_S = 60.0
BUCKETS_PER_WINDOW = 60
_MICRO = Decimal("0.000001")
_SETTLED_REMEMBERED = 100_000
MIN_RETRY_S = 1.0

LimitKind = Literal["rpm", "tpm", "parallel", "budget", "unavailable"]


def to_micros(amount: Decimal) -> int:
    """USD as integer micro-USD, rounded up (counters must never under-count)."""
    return int((amount / _MICRO).to_integral_value(rounding=ROUND_CEILING))


def from_micros(micros: int) -> Decimal:
    return Decimal(micros) * _MICRO


def _usd(micros: int) -> str:
    return format(from_micros(micros).normalize(), "f")


@dataclass(frozen=True, slots=True)
class RateAsk:
    key: str
    """Where the subject's counters live (e.g. ``key:acme-prod``)."""
    subject: str
    """How a refusal names the subject (``key acme-prod``)."""
    rpm: int | None = None
    tpm: int | None = None
    max_parallel: int | None = None
    lease_s: float = 300.0


@dataclass(frozen=True, slots=True)
class BudgetAsk:
    key: str
    """Counter of one policy's window instance (a calendar month includes its start)."""
    subject: str
    limit: int
    """micro-USD"""
    cost: int
    """The call's worst-case cost, micro-USD."""
    floor: int = 0
    """Spend the stream last reported for this window (micro-USD): the counters never go below."""
    window_s: float = 0.0
    """Rolling window length; 0 for a calendar window (the key names the instance)."""
    ends_at: float = 0.0
    """When a calendar window ends (for ``retry_after``)."""
    lease_s: float = 300.0
    unit: str = "usd"
    """What the cap counts: ``usd`` (settled with the cost), ``tokens`` or ``requests``."""

    def amount(self, tokens: int, cost: int) -> int:
        """What a settled call adds to this counter (micro-units of the cap's unit)."""
        if self.unit == "tokens":
            return tokens * 1_000_000
        if self.unit == "requests":
            return 1_000_000
        return cost


@dataclass(frozen=True, slots=True)
class Ask:
    call_id: str
    tokens: int
    rates: tuple[RateAsk, ...] = ()
    budgets: tuple[BudgetAsk, ...] = ()

    def settle(self, tokens: int, cost: int) -> Settle:
        """The settle of this call with its real tokens and cost (micro-USD)."""
        return Settle(
            self.call_id,
            tokens,
            tuple(r.key for r in self.rates),
            tuple((b.key, b.window_s, b.ends_at, b.amount(tokens, cost)) for b in self.budgets),
        )


@dataclass(frozen=True, slots=True)
class Settle:
    call_id: str
    tokens: int
    rate_keys: tuple[str, ...]
    budget_keys: tuple[tuple[str, float, float, int], ...]
    """(key, window_s, ends_at, amount) of every budget the call reserved against; the amount
    (micro-units) is the real cost, tokens or 1 request in the cap's unit."""


@dataclass(frozen=True, slots=True)
class Admitted:
    at: float
    """When the backend decided, on its clock (epoch seconds)."""


@dataclass(frozen=True, slots=True)
class Refusal:
    kind: LimitKind
    subject: str
    retry_after_s: float
    detail: str = ""

    @property
    def message(self) -> str:
        text = f"{self.kind} limit of {self.subject} reached"
        return f"{text}: {self.detail}" if self.detail else text


def rate_detail(kind: str, ask: RateAsk, tokens: int) -> str:
    if kind == "rpm":
        return f"{ask.rpm} per minute"
    if kind == "tpm":
        return f"{ask.tpm} tokens per minute, this call needs {tokens}"
    return f"{ask.max_parallel} calls in flight"


def budget_detail(ask: BudgetAsk, spent: int, reserved: int) -> str:
    return (
        f"cap {_usd(ask.limit)} {ask.unit}: {_usd(spent)} spent, {_usd(reserved)} reserved, "
        f"this call may need up to {_usd(ask.cost)}"
    )


def _retry(seconds: float) -> float:
    return max(MIN_RETRY_S, math.ceil(seconds))


@dataclass(slots=True)
class RateCounter:
    log: deque[tuple[float, str]] = field(default_factory=deque)
    tokens: dict[str, int] = field(default_factory=dict)
    token_sum: int = 0
    leases: dict[str, float] = field(default_factory=dict)
    next_expiry: float = math.inf
    """No lease expires before this (scans only when one may have)."""

    def prune(self, now: float) -> None:
        edge = now - RATE_WINDOW_S
        log = self.log
        while log and log[0][0] <= edge:
            _, call = log.popleft()
            self.token_sum -= self.tokens.pop(call, 0)
        if now >= self.next_expiry:
            for call in [c for c, until in self.leases.items() if until <= now]:
                del self.leases[call]
            self.next_expiry = min(self.leases.values(), default=math.inf)

    def check(self, ask: RateAsk, tokens: int, now: float) -> Refusal | None:
        if ask.rpm is not None and len(self.log) >= ask.rpm:
            oldest = self.log[0][0]
            return Refusal(
                "rpm", ask.subject, _retry(oldest + RATE_WINDOW_S - now), rate_detail("rpm", ask, 0)
            )
        if ask.tpm is not None and self.token_sum + tokens > ask.tpm:
            retry = self._tpm_retry(ask.tpm, tokens, now)
            return Refusal("tpm", ask.subject, retry, rate_detail("tpm", ask, tokens))
        if ask.max_parallel is not None and len(self.leases) >= ask.max_parallel:
            soonest = min(self.leases.values())
            retry = _retry(min(soonest - now, MIN_RETRY_S))
            return Refusal("parallel", ask.subject, retry, rate_detail("parallel", ask, 0))
        return None

    def _tpm_retry(self, tpm: int, tokens: int, now: float) -> float:
        if tokens > tpm:
            return _retry(RATE_WINDOW_S)
        freed = 0
        for at, call in self.log:
            freed += self.tokens.get(call, 0)
            if self.token_sum - freed + tokens <= tpm:
                return _retry(at + RATE_WINDOW_S - now)
        return _retry(RATE_WINDOW_S)

    def admit(self, ask: RateAsk, call_id: str, tokens: int, now: float) -> None:
        self.log.append((now, call_id))
        self.tokens[call_id] = tokens
        self.token_sum += tokens
        if ask.max_parallel is not None:
            self.leases[call_id] = until = now + ask.lease_s
            self.next_expiry = min(self.next_expiry, until)

    def settle(self, call_id: str, tokens: int) -> None:
        held = self.tokens.get(call_id)
        if held is not None:
            self.tokens[call_id] = tokens
            self.token_sum += tokens - held
        self.leases.pop(call_id, None)

    @property
    def empty(self) -> bool:
        return not self.log and not self.leases


@dataclass(slots=True)
class BudgetCounter:
    buckets: dict[int, int] = field(default_factory=dict)
    total: int = 0
    reservations: dict[str, tuple[int, float]] = field(default_factory=dict)
    reserved: int = 0
    next_expiry: float = math.inf

    def prune(self, now: float, window_s: float) -> None:
        if window_s > 0 and self.buckets:
            width = window_s / BUCKETS_PER_WINDOW
            edge = now - window_s
            for bucket in [b for b in self.buckets if (b + 1) * width <= edge]:
                self.total -= self.buckets.pop(bucket)
        if now >= self.next_expiry:
            expired = [c for c, (_, until) in self.reservations.items() if until <= now]
            for call in expired:
                self.reserved -= self.reservations.pop(call)[0]
            self.next_expiry = min((u for _, u in self.reservations.values()), default=math.inf)

    def check(self, ask: BudgetAsk, now: float) -> Refusal | None:
        spent = max(self.total, ask.floor)
        if spent + self.reserved + ask.cost <= ask.limit:
            return None
        if spent + ask.cost <= ask.limit:
            retry = MIN_RETRY_S  # calls in flight hold the headroom; they settle soon
        elif ask.window_s > 0 and self.buckets:
            width = ask.window_s / BUCKETS_PER_WINDOW
            retry = (min(self.buckets) + 1) * width + ask.window_s - now
        else:
            retry = ask.ends_at - now if ask.ends_at else RATE_WINDOW_S
        detail = budget_detail(ask, spent, self.reserved)
        return Refusal("budget", ask.subject, _retry(retry), detail)

    def admit(self, ask: BudgetAsk, call_id: str, now: float) -> None:
        until = now + ask.lease_s
        self.reservations[call_id] = (ask.cost, until)
        self.reserved += ask.cost
        self.next_expiry = min(self.next_expiry, until)

    def settle(self, call_id: str, cost: int, now: float, window_s: float) -> None:
        held = self.reservations.pop(call_id, None)
        if held is not None:
            self.reserved -= held[0]
        if cost:
            bucket = int(now // (window_s / BUCKETS_PER_WINDOW)) if window_s > 0 else 0
            self.buckets[bucket] = self.buckets.get(bucket, 0) + cost
            self.total += cost


class Counters:
    """Every subject's counters (the in-process backend's whole state). Not thread-safe."""

    def __init__(self) -> None:
        self.rates: dict[str, RateCounter] = {}
        self.budgets: dict[str, BudgetCounter] = {}
        self._settled: OrderedDict[str, None] = OrderedDict()

    def reserve(self, ask: Ask, now: float) -> Refusal | None:
        """Admit ``ask`` (holding what it needs) or say which limit refuses it."""
        rates = [(r, self.rates.get(r.key) or RateCounter()) for r in ask.rates]
        budgets = [(b, self.budgets.get(b.key) or BudgetCounter()) for b in ask.budgets]
        for _, counter in rates:
            counter.prune(now)
            if ask.call_id in counter.tokens:
                return None  # already admitted: a retried reserve
        for b, budget in budgets:
            budget.prune(now, b.window_s)
            if ask.call_id in budget.reservations:
                return None
        for r, counter in rates:
            refusal = counter.check(r, ask.tokens, now)
            if refusal is not None:
                return refusal
        for b, budget in budgets:
            refusal = budget.check(b, now)
            if refusal is not None:
                return refusal
        for r, counter in rates:
            counter.admit(r, ask.call_id, ask.tokens, now)
            self.rates[r.key] = counter
        for b, budget in budgets:
            budget.admit(b, ask.call_id, now)
            self.budgets[b.key] = budget
        return None

    def settle(self, settle: Settle, now: float) -> bool:
        """Apply the real tokens and cost of an admitted call and free its slot and
        reservations. False (and no change) when this call id was settled before."""
        if settle.call_id in self._settled:
            return False
        self._settled[settle.call_id] = None
        if len(self._settled) > _SETTLED_REMEMBERED:
            self._settled.popitem(last=False)
        for key in settle.rate_keys:
            rate = self.rates.get(key)
            if rate is not None:
                rate.prune(now)
                rate.settle(settle.call_id, settle.tokens)
        for key, window_s, _, amount in settle.budget_keys:
            budget = self.budgets.setdefault(key, BudgetCounter())
            budget.prune(now, window_s)
            budget.settle(settle.call_id, amount, now, window_s)
        return True

    def in_flight(self, key: str, now: float) -> int:
        rate = self.rates.get(key)
        if rate is None:
            return 0
        rate.prune(now)
        return len(rate.leases)

    def spent(self, key: str) -> int:
        budget = self.budgets.get(key)
        return budget.total if budget else 0
