"""The LiteLLM callback's budget hook in-process: a blocked key gets HTTP 429 with a clear
message and a Retry-After, an allowed key passes, and the refused call is not metered."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from fastapi import HTTPException
from litellm.proxy._types import UserAPIKeyAuth

from producers.budget_guard import GuardDecision
from producers.integrations.config import LiteLLMSettings
from producers.integrations.errors import GuardFactoryError
from producers.integrations.guard import load_guard
from producers.integrations.litellm import MeterlineCallback

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


class Guard:
    """Blocks one key id; records what it was asked."""

    def __init__(self, blocked: str) -> None:
        self.blocked = blocked
        self.asked: list[str] = []

    def check(self, api_key_id: str) -> GuardDecision:
        self.asked.append(api_key_id)
        if api_key_id != self.blocked:
            return GuardDecision(allowed=True)
        return GuardDecision(
            allowed=False,
            reason="spent 10 of 10 USD per day",
            policy_id="pol-1",
            blocked_until=NOW + timedelta(minutes=5),
        )


def _callback(guard: Guard, mode: str = "alias") -> MeterlineCallback:
    return MeterlineCallback(
        guard=guard, settings=LiteLLMSettings(key_identity=mode), clock=lambda: NOW
    )


async def test_blocked_key_gets_429_with_reason_and_retry_after() -> None:
    guard = Guard("runaway")
    callback = _callback(guard)
    key = UserAPIKeyAuth(api_key="sk-secret-value", key_alias="runaway")
    data = {"litellm_call_id": "call-1", "model": "gpt-4o-mini"}
    with pytest.raises(HTTPException) as refused:
        await callback.async_pre_call_hook(key, None, data, "acompletion")
    assert refused.value.status_code == 429
    assert "runaway" in refused.value.detail
    assert "spent 10 of 10 USD per day" in refused.value.detail
    assert "pol-1" in refused.value.detail
    assert refused.value.headers == {"retry-after": "300"}
    assert guard.asked == ["runaway"]
    assert callback.refused == 1

    # LiteLLM then reports the refused call as a failure; it is not usage.
    callback._meter({"standard_logging_object": {"status": "failure", "litellm_call_id": "call-1"}})
    assert callback._producer is None
    assert callback.unmetered == 0


async def test_allowed_key_passes_and_the_secret_is_never_asked_about() -> None:
    guard = Guard("runaway")
    callback = _callback(guard, mode="hash")
    key = UserAPIKeyAuth(api_key="sk-secret-value", key_alias="acme")
    assert await callback.async_pre_call_hook(key, None, {}, "acompletion") is None
    assert len(guard.asked) == 1
    assert "sk-secret-value" not in guard.asked[0]
    assert guard.asked[0] == key.api_key  # LiteLLM's SHA-256 of the key


async def test_without_a_guard_every_call_passes() -> None:
    callback = MeterlineCallback(settings=LiteLLMSettings(guard=""))
    key = UserAPIKeyAuth(api_key="sk-secret-value")
    assert await callback.async_pre_call_hook(key, None, {}, "acompletion") is None


def test_payload_less_call_is_counted_as_unmetered() -> None:
    callback = _callback(Guard("x"))
    callback._meter({"litellm_call_id": "c"})
    assert callback.unmetered == 1


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_colon", "must look like"),
        ("nonexistent.module.xyz:factory", "cannot load"),
        ("producers.budget_guard:missing", "cannot load"),
        ("builtins:object", "has no check"),
    ],
)
def test_bad_guard_factories_fail_loudly(spec: str, message: str) -> None:
    with pytest.raises(GuardFactoryError, match=message):
        load_guard(spec)
