"""Admission at the gateway: rate limits (rpm, tpm, parallel) and hard budget caps, reserved
before a call and settled after it — in process, or shared by replicas through Valkey/Redis."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from producers.limits.errors import LimitExceeded, LimitsUnavailable
from producers.limits.rules import Ask, Counters, Refusal, Settle

if TYPE_CHECKING:
    from producers.limits.backends import InProcessBackend, ValkeyBackend
    from producers.limits.guard import Admission, LimitGuard, Ticket

__all__ = [
    "Admission",
    "Ask",
    "Counters",
    "InProcessBackend",
    "LimitExceeded",
    "LimitGuard",
    "LimitsUnavailable",
    "Refusal",
    "Settle",
    "Ticket",
    "ValkeyBackend",
]


def __getattr__(name: str) -> Any:
    # The guard imports BudgetGuard, which imports this package's plan module: load lazily.
    if name in {"Admission", "LimitGuard", "Ticket"}:
        from producers.limits import guard

        return getattr(guard, name)
    if name in {"InProcessBackend", "ValkeyBackend"}:
        from producers.limits import backends

        return getattr(backends, name)
    raise AttributeError(name)
