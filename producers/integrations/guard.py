"""Loading the BudgetGuard the LiteLLM pre-call hook asks, from a ``module:callable`` spec."""

from __future__ import annotations

import atexit
import importlib
from typing import Protocol, runtime_checkable

from producers.budget_guard import GuardDecision
from producers.config import GuardSettings
from producers.guard_sync import SyncBudgetGuard
from producers.integrations.errors import GuardFactoryError
from producers.limits.backends import backend_from_settings
from producers.limits.guard import LimitGuard

__all__ = ["DEFAULT_GUARD", "KeyGuard", "budget_guard", "limit_guard", "load_guard"]

DEFAULT_GUARD = "producers.integrations.guard:limit_guard"


@runtime_checkable
class KeyGuard(Protocol):
    """The ``BudgetGuard`` contract: an O(1) in-memory answer, no network call."""

    def check(self, api_key_id: str) -> GuardDecision: ...


def budget_guard() -> SyncBudgetGuard:
    """The real ``BudgetGuard`` (configured by ``METERLINE_*``: bootstrap, topic prefix, fail
    mode), started (it loads the budget state before it answers) and closed at exit."""
    guard = SyncBudgetGuard().start()
    atexit.register(guard.close)
    return guard


def limit_guard() -> LimitGuard:
    """The admission guard (configured by ``METERLINE_*``): the stream's blocks, plus rate
    limits and ``block`` caps reserved before each call and settled after it, in process or in
    ``METERLINE_LIMITS_URL``. Started (it loads state first) and closed at exit."""
    settings = GuardSettings()
    follower = SyncBudgetGuard(settings).start()
    guard = LimitGuard(
        follower,
        backend_from_settings(settings),
        fail_mode=settings.guard_fail_mode,
        default_max_tokens=settings.limits_default_max_tokens,
    )
    atexit.register(follower.close)
    atexit.register(guard.close)
    return guard


def load_guard(spec: str) -> KeyGuard | None:
    """Call the factory named by ``spec`` (``package.module:callable``) and return its guard;
    ``None`` for an empty spec. Raises ``GuardFactoryError`` naming what is wrong."""
    if not spec:
        return None
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise GuardFactoryError(f"guard factory {spec!r} must look like 'package.module:callable'")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise GuardFactoryError(f"cannot load guard factory {spec!r}: {exc}") from exc
    guard = factory()
    if not isinstance(guard, KeyGuard):
        raise GuardFactoryError(f"{spec!r} returned {type(guard).__name__}, which has no check()")
    return guard
