from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from schemas import (
    BudgetPolicy,
    DeadLetter,
    EnrichedUsage,
    ErrorKind,
    KeyBinding,
    TokenCounts,
    UsageEvent,
    decode_batch,
    encode_batch,
)
from schemas.json_schema import EXPORTED_MODELS, JSON_DIR, render

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def event(**overrides) -> dict:
    base = {
        "event_id": "0190a6e2-7b1c-7c3e-9a1b-123456789abc",
        "occurred_at": NOW,
        "gateway": "gw-1",
        "api_key_id": "key_live_hash_ab12",
        "provider": "openai",
        "model": "gpt-4o",
        "tokens": {"input": 100, "output": 20, "cache_read": 30, "reasoning": 5},
        "tags": ["customer:acme", "feature:assistant"],
        "provider_cost": "0.00125",
    }
    base.update(overrides)
    return base


def field_of(error: ValidationError) -> str:
    return ".".join(str(p) for p in error.errors()[0]["loc"])


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"tokens": {"input": -1}}, "tokens.input"),
        ({"tokens": {"output": 3, "reasoning": 4}}, "tokens"),
        ({"tokens": {"input": 10**12}}, "tokens.input"),
        ({"occurred_at": datetime(2026, 11, 1, 12, 0)}, "occurred_at"),
        ({"occurred_at": "2026-11-01T12:00:00"}, "occurred_at"),
        ({"provider_cost": 0.1}, "provider_cost"),
        ({"provider_cost": "NaN"}, "provider_cost"),
        ({"provider_cost": "Infinity"}, "provider_cost"),
        ({"provider_cost": "-1"}, "provider_cost"),
        ({"tags": ["customer:" + "x" * 1_000_000]}, "tags.0"),
        ({"tags": ["no-colon"]}, "tags.0"),
        ({"tags": ["Bad Name:x"]}, "tags.0"),
        ({"tags": [f"k{i}:v" for i in range(33)]}, "tags"),
        ({"api_key_id": "has space"}, "api_key_id"),
        ({"model": "m" * 1000}, "model"),
        ({"schema_version": 2}, "schema_version"),
        ({"currency": "usd"}, "currency"),
    ],
)
def test_bad_events_name_the_field(overrides: dict, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        UsageEvent.model_validate(event(**overrides))
    assert field_of(info.value) == field


def test_timestamps_are_normalised_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    e = UsageEvent.model_validate(event(occurred_at=datetime(2026, 11, 1, 14, 0, tzinfo=plus_two)))
    assert e.occurred_at == NOW
    assert e.occurred_at.tzinfo == UTC


def test_money_round_trips_exactly_through_json() -> None:
    e = UsageEvent.model_validate(event(provider_cost="0.000000123456"))
    again = UsageEvent.model_validate_json(e.model_dump_json())
    assert again.provider_cost == Decimal("0.000000123456")
    assert '"provider_cost":"0.000000123456"' in e.model_dump_json()


def test_json_float_money_is_refused() -> None:
    raw = UsageEvent.model_validate(event()).model_dump_json().replace('"0.00125"', "0.00125")
    with pytest.raises(ValidationError) as info:
        UsageEvent.model_validate_json(raw)
    assert field_of(info.value) == "provider_cost"


def test_token_buckets_and_totals() -> None:
    tokens = TokenCounts(input=100, output=20, cache_read=30, cache_write=7, reasoning=5)
    assert tokens.prompt_total == 137
    assert tokens.total == 157


def test_tag_values() -> None:
    e = UsageEvent.model_validate(event(tags=["customer:a", "customer:b", "env:prod"]))
    assert e.tag_values("customer") == ["a", "b"]
    assert e.tag_values("feature") == []


def test_batch_codec_round_trip_and_single_object() -> None:
    events = [UsageEvent.model_validate(event(event_id=f"e{i}")) for i in range(3)]
    assert decode_batch(UsageEvent, encode_batch(events)) == events
    assert decode_batch(UsageEvent, events[0].model_dump_json().encode()) == [events[0]]


def test_enriched_requires_cost_fields() -> None:
    raw = UsageEvent.model_validate(event())
    with pytest.raises(ValidationError):
        EnrichedUsage.model_validate(raw.model_dump())
    enriched = EnrichedUsage.model_validate(
        {
            **raw.model_dump(),
            "cost": Decimal("0.00125"),
            "computed_cost": Decimal("0.0013"),
            "cost_source": "provider",
            "enriched_at": NOW,
        }
    )
    assert enriched.customer == "unattributed"


def test_budget_policy_thresholds_below_hundred() -> None:
    with pytest.raises(ValidationError) as info:
        BudgetPolicy(
            policy_id="p1",
            scope="key",
            subject="k1",
            limit=Decimal(10),
            thresholds=[Decimal(50), Decimal(100)],
            updated_at=NOW,
        )
    assert field_of(info.value) == "thresholds"
    policy = BudgetPolicy(policy_id="p1", scope="key", subject="k1", limit=10, updated_at=NOW)
    assert policy.thresholds == [Decimal(50), Decimal(80)]


def test_key_binding_and_dead_letter_round_trip() -> None:
    binding = KeyBinding(api_key_id="k1", team_id="t1", owner_customer="acme", updated_at=NOW)
    assert KeyBinding.model_validate_json(binding.model_dump_json()) == binding
    dead = DeadLetter(
        dead_letter_id="raw/0/5/-1",
        source_topic="raw",
        partition=0,
        offset=5,
        error_kind=ErrorKind.DECODE,
        reason="not JSON",
        raw=b"\xff\x00",
        received_at=NOW,
    )
    assert DeadLetter.model_validate_json(dead.model_dump_json()).raw == b"\xff\x00"


@pytest.mark.parametrize("model", EXPORTED_MODELS, ids=lambda m: m.__name__)
def test_exported_json_schema_matches_model(model) -> None:
    path = JSON_DIR / f"{model.__name__}.json"
    assert path.exists(), f"missing {path}; run `meterline schemas export`"
    assert path.read_text() == render(model), f"{path} is stale; run `meterline schemas export`"
