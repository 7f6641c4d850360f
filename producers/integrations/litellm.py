"""LiteLLM integration: a ``CustomLogger`` that meters every call and enforces budgets.

Proxy ``config.yaml``::

    litellm_settings:
      callbacks: producers.integrations.litellm.callback

The module-level ``callback`` is configured by the environment (``METERLINE_*`` for the
producer, ``METERLINE_LITELLM_*`` for the integration). With the SDK,
``litellm.callbacks = [MeterlineCallback(...)]`` works the same way.

Each finished call attempt (success or failure, streamed or not) becomes one ``UsageEvent``
recorded through a ``SyncUsageProducer`` (non-blocking; batched, spooled to disk when the broker
is away). The pre-call hook asks the guard about the authenticated key and answers HTTP 429
before any provider is called when the key is blocked. With a ``LimitGuard`` (the default) the
hook reserves the call's rate limits and cap headroom, and the success/failure callbacks settle
it with the real tokens and cost (a streamed call when its final usage is known); the 429 names
the limit (rpm, tpm, parallel, budget), the subject and ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException
from litellm.integrations.custom_logger import CustomLogger

from producers.config import ProducerSettings
from producers.errors import SpoolLocked
from producers.integrations._litellm_event import (
    EventOptions,
    key_identity,
    litellm_usage_event,
    refusal_message,
    retry_after_seconds,
)
from producers.integrations.config import LiteLLMSettings
from producers.integrations.errors import UsageMappingError
from producers.integrations.guard import KeyGuard, load_guard
from producers.integrations.limits import settled_usage, worst_case_cost
from producers.limits.errors import LimitExceeded
from producers.limits.guard import LimitGuard, Ticket
from producers.limits.plan import estimate_prompt_tokens
from producers.sync import SyncUsageProducer

__all__ = ["MeterlineCallback", "callback"]

log = logging.getLogger(__name__)

_REFUSED_REMEMBERED = 10_000
"""Call ids refused by the hook, kept until LiteLLM reports their failure (it does right away)."""

_SPOOL_SLOTS = 16
"""Proxy workers share one environment; each takes the first free spool slot under spool_dir."""


class MeterlineCallback(CustomLogger):
    """Meters LiteLLM calls and enforces Meterline budgets.

    ``producer`` and ``guard`` are injectable (tests, apps that already run a producer); an
    injected producer is the caller's to close. Without them the callback builds both lazily
    from the environment on first use, and closes its own producer at interpreter exit.
    ``unmetered`` counts calls that could not be turned into an event (each logged at ERROR).
    A call the budget hook refused never reached a provider: LiteLLM still reports it as a
    failure, but it is not usage, so no event is recorded for it (``refused`` counts them).
    """

    def __init__(
        self,
        *,
        producer: SyncUsageProducer | None = None,
        guard: KeyGuard | None = None,
        settings: LiteLLMSettings | None = None,
        producer_settings: ProducerSettings | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__()
        self.settings = settings or LiteLLMSettings()
        self._options = EventOptions(
            gateway=self.settings.gateway,
            key_mode=self.settings.key_identity,
            anonymous_key_id=self.settings.anonymous_key_id,
        )
        self._producer = producer
        self._producer_settings = producer_settings
        self._guard = guard
        self._guard_loaded = guard is not None
        self._clock = clock
        # Separate locks: starting the producer or the guard may wait on the broker, and the
        # hook must not queue behind that to note a refusal.
        self._producer_lock = threading.Lock()
        self._guard_lock = threading.Lock()
        self._refused_lock = threading.Lock()
        self._refused_ids: OrderedDict[str, None] = OrderedDict()
        self._tickets_lock = threading.Lock()
        self._tickets: OrderedDict[str, Ticket] = OrderedDict()
        self.unmetered = 0
        self.refused = 0

    # -- metering -------------------------------------------------------------------------------

    def log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._meter(kwargs)

    def log_failure_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._meter(kwargs)

    async def async_log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        await self._ameter(kwargs)

    async def async_log_failure_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        await self._ameter(kwargs)

    async def _ameter(self, kwargs: dict[str, Any]) -> None:
        if self._producer is None:
            # Starting connects to the broker; keep that off the proxy's event loop.
            await asyncio.to_thread(self.producer)
        self._meter(kwargs)

    def _meter(self, kwargs: dict[str, Any]) -> None:
        payload = kwargs.get("standard_logging_object")
        call_id = kwargs.get("litellm_call_id", "?")
        self._settle(kwargs, payload)
        if not payload:
            self.unmetered += 1
            log.error("LiteLLM call %s has no standard_logging_object; not metered", call_id)
            return
        if payload.get("status") == "failure" and self._was_refused(payload, call_id):
            return
        try:
            event = litellm_usage_event(payload, self._options)
        except UsageMappingError as exc:
            self.unmetered += 1
            log.error("LiteLLM call %s not metered: %s", call_id, exc)
            return
        self.producer().record(event)

    def producer(self) -> SyncUsageProducer:
        """The producer events go to, started on first use."""
        with self._producer_lock:
            if self._producer is None:
                self._producer = _start_producer(self._producer_settings or ProducerSettings())
                atexit.register(self._producer.close)
            return self._producer

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until recorded events are sent (True) or spooled."""
        return self._producer.flush(timeout) if self._producer is not None else True

    # -- budgets --------------------------------------------------------------------------------

    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict[str, Any], call_type: Any
    ) -> None:
        """Refuse a call of a blocked key with HTTP 429 before any provider is called."""
        # Building the guard may wait for it to load budget state; keep that off the event loop.
        guard = self._guard if self._guard_loaded else await asyncio.to_thread(self.guard)
        if guard is None:
            return None
        api_key_id = key_identity(
            getattr(user_api_key_dict, "api_key", None),
            getattr(user_api_key_dict, "key_alias", None),
            self._options.key_mode,
            self._options.anonymous_key_id,
        )
        if isinstance(guard, LimitGuard):
            return self._reserve(guard, api_key_id, data)
        decision = guard.check(api_key_id)
        if decision.allowed:
            return None
        self._remember_refused(data.get("litellm_call_id") if isinstance(data, dict) else None)
        now = self._clock()
        seconds = retry_after_seconds(decision, now)
        raise HTTPException(
            status_code=429,
            detail=refusal_message(decision, api_key_id, now),
            headers={"retry-after": str(seconds)} if seconds is not None else None,
        )

    def _reserve(self, guard: LimitGuard, api_key_id: str, data: dict[str, Any]) -> None:
        """Reserve the call's limits and cap headroom, or answer 429 naming the limit."""
        call_id = data.get("litellm_call_id") or None
        max_tokens = data.get("max_tokens") or data.get("max_completion_tokens")
        messages = data.get("messages") or data.get("input") or data.get("prompt")
        prompt = estimate_prompt_tokens(messages) if messages is not None else 0
        output = max_tokens if isinstance(max_tokens, int) else guard.default_max_tokens
        try:
            ticket = guard.reserve(
                api_key_id,
                prompt_tokens=prompt,
                max_tokens=output,
                max_cost=worst_case_cost(data.get("model"), prompt, output),
                call_id=call_id if isinstance(call_id, str) else None,
            )
        except LimitExceeded as refused:
            self._remember_refused(call_id)
            seconds = max(1, math.ceil(refused.retry_after_s))
            raise HTTPException(
                status_code=503 if refused.kind == "unavailable" else 429,
                detail={
                    "error": f"Meterline: {refused.refusal.message}",
                    "limit": refused.kind,
                    "subject": refused.subject,
                    "retry_after_s": seconds,
                },
                headers={"retry-after": str(seconds)},
            ) from None
        with self._tickets_lock:
            self._tickets[ticket.call_id] = ticket
            while len(self._tickets) > _REFUSED_REMEMBERED:
                # A call LiteLLM never reported back: its lease frees what it held.
                self._tickets.popitem(last=False)

    def _settle(self, kwargs: dict[str, Any], payload: dict[str, Any] | None) -> None:
        ids = {kwargs.get("litellm_call_id"), (payload or {}).get("litellm_call_id")}
        with self._tickets_lock:
            found = [i for i in ids if isinstance(i, str) and i in self._tickets]
            tickets = [self._tickets.pop(i) for i in found]
        if not tickets or not isinstance(self._guard, LimitGuard):
            return
        tokens, cost = settled_usage(payload or {})
        for ticket in tickets:
            self._guard.settle(ticket, tokens=tokens, cost=cost)

    def _remember_refused(self, call_id: object) -> None:
        if not isinstance(call_id, str) or not call_id:
            return
        with self._refused_lock:
            self.refused += 1
            self._refused_ids[call_id] = None
            while len(self._refused_ids) > _REFUSED_REMEMBERED:
                self._refused_ids.popitem(last=False)

    def _was_refused(self, payload: dict[str, Any], call_id: object) -> bool:
        ids = {payload.get("litellm_call_id"), call_id}
        with self._refused_lock:
            return any(i in self._refused_ids for i in ids if isinstance(i, str))

    def guard(self) -> KeyGuard | None:
        """The BudgetGuard (``METERLINE_LITELLM_GUARD``), loaded on first use."""
        with self._guard_lock:
            if not self._guard_loaded:
                self._guard = load_guard(self.settings.guard)
                self._guard_loaded = True
            return self._guard


def _start_producer(settings: ProducerSettings) -> SyncUsageProducer:
    """A started producer on the first spool slot no other process holds: ``spool_dir`` itself,
    then ``spool_dir/worker-N``. Fixed slot names mean a restarted worker replays what an
    earlier one spooled."""
    base = settings.spool_dir
    for slot in range(_SPOOL_SLOTS):
        spool = base if slot == 0 else base / f"worker-{slot}"
        producer = SyncUsageProducer(settings.model_copy(update={"spool_dir": spool}))
        try:
            return producer.start()
        except SpoolLocked:
            continue
    raise SpoolLocked(f"all {_SPOOL_SLOTS} spool slots under {base} are in use")


callback = MeterlineCallback()
"""The instance a LiteLLM proxy loads from ``config.yaml``."""
