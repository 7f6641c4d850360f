"""Pure rules of the LiteLLM integration: payload → event, key identity, tags, cost, refusal."""

from __future__ import annotations

import copy
import hashlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from producers.budget_guard import GuardDecision
from producers.integrations._litellm_event import (
    EventOptions,
    clean_tags,
    decimal_cost,
    key_identity,
    litellm_usage_event,
    refusal_message,
    retry_after_seconds,
)
from producers.integrations.errors import UsageMappingError
from schemas.usage import Status

KEY_HASH = "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b"

# Shape of LiteLLM's standard_logging_object, trimmed to the fields the callback reads, as seen
# from a proxy call authenticated by a virtual key with an alias and a team.
PAYLOAD = {
    "id": "chatcmpl-1",
    "litellm_call_id": "2e776850-bdb5-4c54-af4c-4297dd0e4881",
    "status": "success",
    "stream": None,
    "response_cost": 3.4200000000000005e-05,
    "response_cost_failure_debug_info": None,
    "custom_llm_provider": "openai",
    "model": "gpt-4o-mini",
    "model_group": "gpt-4o-mini",
    "request_tags": [
        "customer:acme",
        "feature:assistant",
        "User-Agent: OpenAI",
        "User-Agent: OpenAI/Python 3.57.0",
    ],
    "prompt_tokens": 100,
    "completion_tokens": 40,
    "startTime": 1795970454.768051,
    "endTime": 1795970454.923084,
    "metadata": {
        "user_api_key_hash": KEY_HASH,
        "user_api_key_alias": "acme-prod",
        "user_api_key_team_id": "team-support",
        "usage_object": {
            "prompt_tokens": 100,
            "completion_tokens": 40,
            "total_tokens": 140,
            "prompt_tokens_details": {"cached_tokens": 64},
            "completion_tokens_details": {"reasoning_tokens": 16},
        },
    },
}
OPTIONS = EventOptions()


def test_success_payload_becomes_one_complete_event() -> None:
    event = litellm_usage_event(PAYLOAD, OPTIONS)
    assert event.api_key_id == KEY_HASH
    assert event.tags == ["customer:acme", "feature:assistant", "team:team-support"]
    assert (event.tokens.input, event.tokens.cache_read, event.tokens.output) == (36, 64, 40)
    assert event.tokens.reasoning == 16
    assert event.provider_cost == Decimal("0.000034200000")
    assert event.provider == "openai"
    assert event.model == "gpt-4o-mini"
    assert event.status == Status.SUCCESS
    assert event.streamed is False
    assert event.latency_ms == 155
    assert event.request_id == "chatcmpl-1"
    assert event.gateway == "litellm"
    assert event.occurred_at == datetime.fromtimestamp(PAYLOAD["startTime"], UTC)


def test_same_attempt_twice_gives_the_same_event_id_and_a_retry_another() -> None:
    first = litellm_usage_event(PAYLOAD, OPTIONS)
    assert litellm_usage_event(copy.deepcopy(PAYLOAD), OPTIONS).event_id == first.event_id
    retried = {**PAYLOAD, "startTime": PAYLOAD["startTime"] + 1.5}
    assert litellm_usage_event(retried, OPTIONS).event_id != first.event_id
    failed = {**PAYLOAD, "status": "failure"}
    assert litellm_usage_event(failed, OPTIONS).event_id != first.event_id


def test_failure_is_recorded_as_error() -> None:
    failed = {
        **PAYLOAD,
        "status": "failure",
        "response_cost": 0.0,
        "metadata": {**PAYLOAD["metadata"], "usage_object": None},
        "prompt_tokens": 0,
        "completion_tokens": 0,
    }
    event = litellm_usage_event(failed, OPTIONS)
    assert event.status == Status.ERROR
    assert event.tokens.total == 0
    assert event.provider_cost == Decimal(0)


@pytest.mark.parametrize(
    ("provider", "model", "expected"),
    [
        ("openai", "openai/gpt-4o-mini", "gpt-4o-mini"),
        ("anthropic", "anthropic/claude-sonnet-4-20250514", "claude-sonnet-4-20250514"),
        ("bedrock", "bedrock/anthropic.claude-3-haiku", "anthropic.claude-3-haiku"),
        ("openai", "gpt-4o", "gpt-4o"),
        ("openai", "azure/gpt-4o", "azure/gpt-4o"),
    ],
)
def test_model_loses_the_litellm_routing_prefix(provider: str, model: str, expected: str) -> None:
    payload = {**PAYLOAD, "custom_llm_provider": provider, "model": model}
    event = litellm_usage_event(payload, OPTIONS)
    assert (event.provider, event.model) == (provider, expected)


def test_streamed_flag_is_carried() -> None:
    assert litellm_usage_event({**PAYLOAD, "stream": True}, OPTIONS).streamed is True


def test_unpriced_call_leaves_cost_to_the_price_book() -> None:
    unpriced = {**PAYLOAD, "response_cost": 0.0, "response_cost_failure_debug_info": {"e": "x"}}
    assert litellm_usage_event(unpriced, OPTIONS).provider_cost is None


def test_anthropic_cache_write_via_litellm_is_its_own_bucket() -> None:
    usage = {
        "prompt_tokens": 1000,
        "completion_tokens": 10,
        "prompt_tokens_details": {"cached_tokens": 300, "cache_creation_tokens": 600},
        "cache_creation_input_tokens": 600,
        "cache_read_input_tokens": 300,
    }
    payload = {**PAYLOAD, "metadata": {**PAYLOAD["metadata"], "usage_object": usage}}
    event = litellm_usage_event(payload, OPTIONS)
    assert (event.tokens.input, event.tokens.cache_read, event.tokens.cache_write) == (
        100,
        300,
        600,
    )


def test_without_usage_object_the_totals_are_used() -> None:
    payload = {**PAYLOAD, "metadata": {**PAYLOAD["metadata"], "usage_object": None}}
    event = litellm_usage_event(payload, OPTIONS)
    assert (event.tokens.input, event.tokens.output) == (100, 40)


def test_inconsistent_usage_is_a_mapping_error() -> None:
    usage = {
        "prompt_tokens": 10,
        "completion_tokens": 1,
        "prompt_tokens_details": {"cached_tokens": 20},
    }
    payload = {**PAYLOAD, "metadata": {**PAYLOAD["metadata"], "usage_object": usage}}
    with pytest.raises(UsageMappingError):
        litellm_usage_event(payload, OPTIONS)


@pytest.mark.parametrize(
    ("key_hash", "alias", "mode", "expected"),
    [
        (KEY_HASH, "acme-prod", "hash", KEY_HASH),
        (KEY_HASH, "acme-prod", "alias", "acme-prod"),
        (KEY_HASH, None, "alias", KEY_HASH),
        (KEY_HASH, "has spaces", "alias", KEY_HASH),
        (None, None, "hash", "anon"),
        (None, "acme-prod", "hash", "anon"),
        # Not a hash (a raw secret handed in by mistake): never used as is, hashed instead.
        ("sk-live-secret", None, "hash", hashlib.sha256(b"sk-live-secret").hexdigest()),
        (KEY_HASH.upper(), None, "hash", hashlib.sha256(KEY_HASH.upper().encode()).hexdigest()),
        ("sk-live-secret", "has spaces", "alias", hashlib.sha256(b"sk-live-secret").hexdigest()),
    ],
)
def test_key_identity(key_hash, alias, mode, expected) -> None:  # type: ignore[no-untyped-def]
    assert key_identity(key_hash, alias, mode, "anon") == expected


def test_alias_mode_reaches_the_event() -> None:
    event = litellm_usage_event(PAYLOAD, EventOptions(key_mode="alias", gateway="edge-1"))
    assert event.api_key_id == "acme-prod"
    assert event.gateway == "edge-1"


def test_anonymous_call_uses_the_configured_key_id() -> None:
    payload = {**PAYLOAD, "metadata": {"usage_object": PAYLOAD["metadata"]["usage_object"]}}
    event = litellm_usage_event(payload, EventOptions(anonymous_key_id="sdk-app"))
    assert event.api_key_id == "sdk-app"
    assert "team:team-support" not in event.tags


def test_clean_tags_keeps_ours_and_reports_the_rest() -> None:
    kept, rejected = clean_tags(
        ["customer:acme", "User-Agent: curl", "nocolon", "customer:acme", 7, "feature:x"]
    )
    assert kept == ["customer:acme", "feature:x"]
    assert rejected == ["User-Agent: curl", "nocolon", "7"]


def test_clean_tags_caps_the_count() -> None:
    kept, rejected = clean_tags([f"k:{i}" for i in range(40)])
    assert len(kept) == 32
    assert rejected == [f"k:{i}" for i in range(32, 40)]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (3.4200000000000005e-05, Decimal("0.000034200000")),
        (0.1, Decimal("0.100000000000")),
        (1e-13, Decimal("0E-12")),
        (2, Decimal("2.000000000000")),
        ("0.0125", Decimal("0.012500000000")),
        (None, None),
    ],
)
def test_decimal_cost_goes_through_str_never_float_math(raw, expected) -> None:  # type: ignore[no-untyped-def]
    assert decimal_cost(raw) == expected
    if expected is not None:
        assert decimal_cost(raw).as_tuple().exponent == -12  # type: ignore[union-attr]


@pytest.mark.parametrize("raw", [-0.01, float("nan"), float("inf"), True, "abc", [1]])
def test_decimal_cost_refuses_nonsense(raw) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageMappingError):
        decimal_cost(raw)


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_decimal_cost_matches_the_float_repr(value: float) -> None:
    cost = decimal_cost(value)
    assert cost is not None
    assert abs(cost - Decimal(repr(value))) <= Decimal("0.0000000000005")


NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_refusal_message_names_key_reason_policy_and_time() -> None:
    decision = GuardDecision(
        allowed=False,
        reason="spent 100.00 of 100.00 USD in 24h",
        policy_id="pol-acme-daily",
        blocked_until=NOW + timedelta(seconds=90, milliseconds=300),
    )
    text = refusal_message(decision, "acme-prod", NOW)
    assert "acme-prod" in text
    assert "spent 100.00 of 100.00 USD in 24h" in text
    assert "pol-acme-daily" in text
    assert "in 91 s" in text
    assert retry_after_seconds(decision, NOW) == 91


def test_refusal_without_window_has_no_retry_after() -> None:
    decision = GuardDecision(allowed=False)
    assert retry_after_seconds(decision, NOW) is None
    assert "budget exhausted" in refusal_message(decision, "k", NOW)


def test_retry_after_is_at_least_one_second() -> None:
    decision = GuardDecision(allowed=False, blocked_until=NOW - timedelta(seconds=5))
    assert retry_after_seconds(decision, NOW) == 1
