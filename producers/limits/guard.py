"""``LimitGuard``: reserve → call → settle at the gateway.

``reserve`` decides before any provider is called: first the stream's record (a ``block`` budget
the stream reports ``exceeded`` refuses, as ``BudgetGuard.check`` does), then every rate limit and
``block`` cap over the key's binding in one backend decision (``rules``). ``settle`` applies the
real tokens and cost once per call id. ``admit`` wraps both around a provider call.

When the backend cannot be reached, ``fail_mode`` decides: ``open`` admits the call unreserved
(its settle still records its cost later), ``closed`` refuses it as ``unavailable``. Either way
the outage is logged once at ERROR and counted in ``backend_unavailable``. A settle that cannot
reach the backend is queued and retried in the background; settles are idempotent per call id,
so a settle that did land before its answer was lost is not applied twice.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal, Protocol, TypedDict, Unpack

from producers.budget_guard import GuardDecision, GuardIndex
from producers.limits.backends import LimitBackend
from producers.limits.errors import LimitExceeded, LimitsUnavailable
from producers.limits.plan import CallEstimate, LimitIndex, estimate_prompt_tokens
from producers.limits.rules import Ask, Refusal, Settle, to_micros

__all__ = ["Admission", "Following", "LimitGuard", "Ticket"]

log = logging.getLogger(__name__)

_RETRY_INTERVAL_S = 0.5


class Following(Protocol):
    """What the guard reads from a ``BudgetGuard`` (or ``SyncBudgetGuard``) that follows the
    compacted topics: the stream's blocks, key bindings, limits and policies."""

    @property
    def index(self) -> GuardIndex: ...
    @property
    def limits(self) -> LimitIndex: ...

    def check(self, api_key_id: str, now: datetime | None = None) -> GuardDecision: ...


class Call(TypedDict, total=False):
    """What ``admit`` passes on to ``reserve`` about one call."""

    prompt_tokens: int | None
    messages: object
    max_tokens: int | None
    max_cost: Decimal | None
    call_id: str | None


@dataclass(frozen=True, slots=True)
class Ticket:
    """An admitted call: what it holds until it settles."""

    ask: Ask
    reserved: bool
    """False when admitted fail-open without the backend (nothing held; the settle still
    records its cost)."""
    admitted_at: float | None = None
    """When the backend admitted it, on the backend's clock (epoch seconds)."""

    @property
    def call_id(self) -> str:
        return self.ask.call_id


class LimitGuard:
    def __init__(
        self,
        follower: Following,
        backend: LimitBackend,
        *,
        fail_mode: Literal["open", "closed"] = "open",
        default_max_tokens: int = 4096,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.follower = follower
        self.backend = backend
        self.fail_mode = fail_mode
        self.default_max_tokens = default_max_tokens
        self._clock = clock
        self.refused: collections.Counter[str] = collections.Counter()
        self.admitted = 0
        self.backend_unavailable = 0
        """Decisions and settles that could not reach the backend."""
        self._down = False
        self._pending: collections.deque[Settle] = collections.deque()
        self._pending_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._retrier: threading.Thread | None = None

    # -- the KeyGuard contract (stream blocks only) ------------------------------------------

    def check(self, api_key_id: str) -> GuardDecision:
        return self.follower.check(api_key_id)

    # -- reserve / settle -----------------------------------------------------------------

    def reserve(
        self,
        api_key_id: str,
        *,
        prompt_tokens: int | None = None,
        messages: object = None,
        max_tokens: int | None = None,
        max_cost: Decimal | None = None,
        call_id: str | None = None,
    ) -> Ticket:
        """Admit one call or raise ``LimitExceeded`` (kind, subject, retry-after) before any
        provider is called. ``max_cost`` is the call's worst case in USD (prompt estimate ×
        input price + ``max_tokens`` × output price), when the caller can price it."""
        now = self._clock()
        decision = self.follower.check(api_key_id, now)
        if not decision.allowed:
            retry = 60.0
            if decision.blocked_until is not None:
                retry = max(1.0, (decision.blocked_until - now).total_seconds())
            refusal = Refusal("budget", decision.subject or f"key {api_key_id}", retry,
                              decision.reason)  # fmt: skip
            self.refused["budget"] += 1
            raise LimitExceeded(refusal)
        if prompt_tokens is None:
            prompt_tokens = estimate_prompt_tokens(messages) if messages is not None else 0
        tokens = prompt_tokens + (max_tokens or self.default_max_tokens)
        call = CallEstimate(call_id or uuid.uuid4().hex, tokens, max_cost)
        ask = self.follower.limits.ask(api_key_id, self.follower.index.binding(api_key_id),
                                       call, now)  # fmt: skip
        if not ask.rates and not ask.budgets:
            self.admitted += 1
            return Ticket(ask, reserved=False)
        try:
            outcome = self.backend.reserve(ask)
        except LimitsUnavailable as exc:
            self._unavailable(exc)
            if self.fail_mode == "closed":
                self.refused["unavailable"] += 1
                raise LimitExceeded(
                    Refusal("unavailable", "limits backend", 1.0, f"{exc} (fail-closed)")
                ) from exc
            self.admitted += 1
            return Ticket(ask, reserved=False)
        self._up()
        if isinstance(outcome, Refusal):
            self.refused[outcome.kind] += 1
            raise LimitExceeded(outcome)
        self.admitted += 1
        return Ticket(ask, reserved=True, admitted_at=outcome.at)

    def settle(self, ticket: Ticket, *, tokens: int = 0, cost: Decimal = Decimal(0)) -> None:
        """Apply the call's real tokens and USD cost and free what it held. Never raises: when
        the backend is away the settle is queued and retried until it lands (once)."""
        if not ticket.ask.rates and not ticket.ask.budgets:
            return
        settle = ticket.ask.settle(max(tokens, 0), to_micros(max(cost, Decimal(0))))
        try:
            self.backend.settle(settle)
        except LimitsUnavailable as exc:
            self._unavailable(exc)
            self._queue(settle)
            return
        self._up()

    @property
    def pending_settles(self) -> int:
        return len(self._pending)

    @contextlib.contextmanager
    def admit(self, api_key_id: str, **call: Unpack[Call]) -> Iterator[Admission]:
        """Reserve (raising ``LimitExceeded``), run the body, settle with what the body
        reported through ``Admission.usage`` (nothing reported: zero, e.g. a failed call)."""
        admission = Admission(self, self.reserve(api_key_id, **call))
        try:
            yield admission
        finally:
            admission.close()

    @contextlib.asynccontextmanager
    async def aadmit(self, api_key_id: str, **call: Unpack[Call]) -> AsyncIterator[Admission]:
        """``admit`` for async code (decisions are in memory or one short round trip)."""
        admission = Admission(self, self.reserve(api_key_id, **call))
        try:
            yield admission
        finally:
            admission.close()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the settle retrier after trying the queue once more."""
        self._closed.set()
        self._wake.set()
        if self._retrier is not None:
            self._retrier.join(timeout)
        self.backend.close()

    # -- outage handling ------------------------------------------------------------------

    def _unavailable(self, exc: Exception) -> None:
        self.backend_unavailable += 1
        if not self._down:
            self._down = True
            log.error("limits backend unreachable (%s); failing %s until it answers",
                      exc, self.fail_mode)  # fmt: skip

    def _up(self) -> None:
        if self._down:
            self._down = False
            log.warning("limits backend answers again; %d settles queued", len(self._pending))

    def _queue(self, settle: Settle) -> None:
        with self._pending_lock:
            self._pending.append(settle)
            if self._retrier is None:
                self._retrier = threading.Thread(
                    target=self._retry_loop, name="meterline-limits-settle", daemon=True
                )
                self._retrier.start()
        self._wake.set()

    def _retry_loop(self) -> None:
        while True:
            self._wake.wait(_RETRY_INTERVAL_S)
            self._wake.clear()
            while self._pending:
                settle = self._pending[0]
                try:
                    self.backend.settle(settle)
                except LimitsUnavailable:
                    break
                with self._pending_lock:
                    self._pending.popleft()
                self._up()
            if self._closed.is_set():
                return
            if self._pending:
                time.sleep(_RETRY_INTERVAL_S)


class Admission:
    """One admitted call inside ``LimitGuard.admit``: report usage, it settles on exit."""

    def __init__(self, guard: LimitGuard, ticket: Ticket) -> None:
        self.guard = guard
        self.ticket = ticket
        self.tokens = 0
        self.cost = Decimal(0)
        self._closed = False

    def usage(self, *, tokens: int, cost: Decimal) -> None:
        """The call's real tokens and USD cost so far (a cancelled stream: what was used)."""
        self.tokens = tokens
        self.cost = cost

    def usage_from(self, response: object, *, cost: Decimal) -> None:
        """``usage`` from an OpenAI (``usage.total_tokens``) or Anthropic (``usage.input_tokens``
        + ``output_tokens`` + cache tokens) response object or dict, with the call's cost."""
        usage = getattr(response, "usage", None)
        if usage is None and isinstance(response, dict):
            usage = response.get("usage")

        def count(name: str) -> int:
            value = usage.get(name) if isinstance(usage, dict) else getattr(usage, name, None)
            return value if isinstance(value, int) else 0

        total = count("total_tokens") or sum(
            count(n) for n in ("input_tokens", "output_tokens", "cache_read_input_tokens",
                               "cache_creation_input_tokens")
        )  # fmt: skip
        self.usage(tokens=total, cost=cost)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.guard.settle(self.ticket, tokens=self.tokens, cost=self.cost)
