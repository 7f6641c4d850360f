"""Where admission counters live: in this process (one gateway), or in Valkey/Redis (replicas).

Both take an ``Ask``/``Settle`` from ``producers.limits.rules`` and answer the same way; the
Valkey backend runs one atomic Lua script per decision and one per settle (never a
read-modify-write from Python), so gateways sharing a server share every limit exactly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol, cast

from producers.config import GuardSettings
from producers.limits._lua import RESERVE, SETTLE
from producers.limits.errors import LimitsUnavailable
from producers.limits.rules import (
    MIN_RETRY_S,
    Admitted,
    Ask,
    Counters,
    Refusal,
    Settle,
    budget_detail,
    rate_detail,
)

__all__ = ["InProcessBackend", "LimitBackend", "ValkeyBackend", "backend_from_settings"]

SETTLED_MARKER_TTL_S = 24 * 3600


class LimitBackend(Protocol):
    def reserve(self, ask: Ask) -> Admitted | Refusal:
        """Admit (holding slots, tokens and reservations) or refuse. Raises
        ``LimitsUnavailable`` when the counters cannot be reached."""
        ...

    def settle(self, settle: Settle) -> bool:
        """Apply a call's real usage once per call id (False: settled before). Raises
        ``LimitsUnavailable`` when the counters cannot be reached."""
        ...

    def close(self) -> None: ...


class InProcessBackend:
    """``rules.Counters`` behind a lock: exact for one gateway process, no I/O."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.counters = Counters()
        self._clock = clock
        self._lock = threading.Lock()

    def reserve(self, ask: Ask) -> Admitted | Refusal:
        with self._lock:
            now = self._clock()
            return self.counters.reserve(ask, now) or Admitted(now)

    def settle(self, settle: Settle) -> bool:
        with self._lock:
            return self.counters.settle(settle, self._clock())

    def close(self) -> None:
        pass


ScriptArg = str | int | float
"""What a Lua script argument may be (valkey encodes each to bytes)."""


def _retry(seconds: bytes | str) -> float:
    value = float(seconds)
    return max(MIN_RETRY_S, float(int(value) + (value > int(value))))


class ValkeyBackend:
    """Counters in a Valkey/Redis server shared by every gateway (``METERLINE_LIMITS_URL``).

    Uses the synchronous client: a decision is one ~0.1 ms loopback round trip, and
    ``timeout_s`` bounds how long an unreachable server can hold a caller.
    """

    def __init__(self, url: str, *, prefix: str = "", timeout_s: float = 0.2) -> None:
        import valkey

        self._errors: tuple[type[BaseException], ...] = (
            valkey.exceptions.ConnectionError,
            valkey.exceptions.TimeoutError,
            OSError,
        )
        self.client = valkey.Valkey.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            health_check_interval=0,
        )
        self._reserve = self.client.register_script(RESERVE)
        self._settle = self.client.register_script(SETTLE)
        self.prefix = f"{prefix}ml:"

    def warm(self) -> None:
        """Connect and load both scripts now, so the first decision is one round trip."""
        try:
            self.client.ping()
            # valkey types every command for its sync and async clients alike; this one is sync.
            self._reserve.sha = cast(str, self.client.script_load(RESERVE))
            self._settle.sha = cast(str, self.client.script_load(SETTLE))
        except self._errors as exc:
            raise LimitsUnavailable(f"limits backend unreachable: {exc}") from exc

    def _rate_keys(self, key: str) -> list[str]:
        base = f"{self.prefix}r:{key}:"
        return [base + "log", base + "tok", base + "par"]

    def _budget_keys(self, key: str) -> list[str]:
        base = f"{self.prefix}b:{key}:"
        return [base + "spend", base + "res", base + "resz"]

    def reserve(self, ask: Ask) -> Admitted | Refusal:
        keys: list[str] = []
        args: list[ScriptArg] = [ask.call_id, ask.tokens, len(ask.rates), len(ask.budgets)]
        for r in ask.rates:
            keys += self._rate_keys(r.key)
            args += [_none(r.rpm), _none(r.tpm), _none(r.max_parallel), r.lease_s]
        for b in ask.budgets:
            keys += self._budget_keys(b.key)
            args += [b.limit, b.cost, b.floor, b.window_s, b.ends_at, b.lease_s]
        try:
            answer = self._reserve(keys=keys, args=args)
        except self._errors as exc:
            raise LimitsUnavailable(f"limits backend unreachable: {exc}") from exc
        if int(answer[0]) == 1:
            return Admitted(float(answer[1]))
        kind = answer[1].decode()
        index = int(answer[2])
        retry = _retry(answer[3])
        if kind == "budget":
            b = ask.budgets[index]
            detail = budget_detail(b, int(answer[4]), int(answer[5]))
            return Refusal("budget", b.subject, retry, detail)
        r = ask.rates[index]
        return Refusal(kind, r.subject, retry, rate_detail(kind, r, ask.tokens))

    def settle(self, settle: Settle) -> bool:
        keys = [f"{self.prefix}s:{settle.call_id}"]
        args: list[ScriptArg] = [
            settle.call_id,
            settle.tokens,
            len(settle.rate_keys),
            len(settle.budget_keys),
            SETTLED_MARKER_TTL_S,
        ]
        for key in settle.rate_keys:
            keys += self._rate_keys(key)
        for key, window_s, ends_at, amount in settle.budget_keys:
            keys += self._budget_keys(key)
            args += [window_s, ends_at, amount]
        try:
            return int(self._settle(keys=keys, args=args)) == 1
        except self._errors as exc:
            raise LimitsUnavailable(f"limits backend unreachable: {exc}") from exc

    def close(self) -> None:
        self.client.close()


def _none(value: int | None) -> int:
    return -1 if value is None else value


def backend_from_settings(settings: GuardSettings) -> LimitBackend:
    """Valkey/Redis when ``limits_url`` is set (replicas share it), else in-process."""
    if settings.limits_url:
        return ValkeyBackend(
            settings.limits_url,
            prefix=settings.topic_prefix,
            timeout_s=settings.limits_timeout_ms / 1000,
        )
    return InProcessBackend()
