"""The traffic simulator: deterministic under a seed, and shaped like real traffic."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from producers.simulator import (
    MODELS,
    TrafficProfile,
    TrafficSummary,
    customer_ids,
    simulate,
)
from schemas.usage import Status, UsageEvent

START = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
REASONING_MODELS = {m.name for m in MODELS if m.reasoning}


def _run(seed: int = 7, count: int = 3_000, **profile: object) -> list[UsageEvent]:
    return list(
        simulate(TrafficProfile(**profile), seed=seed, start=START, rate=50.0, count=count)  # type: ignore[arg-type]
    )


def test_same_seed_same_events_and_ids() -> None:
    first = [e.model_dump_json() for e in _run(seed=42)]
    second = [e.model_dump_json() for e in _run(seed=42)]
    assert first == second


def test_another_seed_other_events_and_ids() -> None:
    ids_a = {e.event_id for e in _run(seed=1, count=500)}
    ids_b = {e.event_id for e in _run(seed=2, count=500)}
    assert not ids_a & ids_b


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32), count=st.integers(1, 300))
def test_deterministic_for_any_seed_and_exact_count(seed: int, count: int) -> None:
    first = list(
        simulate(TrafficProfile(customers=20), seed=seed, start=START, rate=10, count=count)
    )
    again = list(
        simulate(TrafficProfile(customers=20), seed=seed, start=START, rate=10, count=count)
    )
    assert first == again
    assert len(first) == count


def test_retries_resend_the_same_event_right_after() -> None:
    events = _run(count=5_000)
    seen: dict[str, UsageEvent] = {}
    retries = 0
    for previous, event in itertools.pairwise(events):
        if event.event_id == previous.event_id:
            assert event == previous
            retries += 1
    for event in events:
        seen.setdefault(event.event_id, event)
    assert len(seen) + retries == len(events)
    assert 0.015 < retries / len(events) < 0.05


def test_long_tail_of_small_customers_and_a_few_heavy_ones() -> None:
    summary = TrafficSummary()
    for event in _run(count=20_000, customers=200):
        summary.add(event)
    counts = sorted(summary.per_customer.values(), reverse=True)
    total = sum(counts)
    assert sum(counts[:5]) / total > 0.35  # a few customers make a big share
    assert sum(1 for c in counts if c < total / 200) > 150  # most are below an even share
    assert len(counts) > 150  # and the tail is really there


def test_heavy_customers_send_bigger_prompts() -> None:
    events = [e for e in _run(count=20_000, customers=100) if e.status == Status.SUCCESS]
    heavy = [e.tokens.prompt_total for e in events if e.tag_values("customer") == ["cust-0001"]]
    light = [e.tokens.prompt_total for e in events if e.tag_values("customer") != ["cust-0001"]]
    assert sum(heavy) / len(heavy) > 2 * sum(light) / len(light)


def test_mix_of_features_models_providers_streaming_and_failures() -> None:
    events = _run(count=10_000)
    assert len({e.tag_values("feature")[0] for e in events}) >= 5
    assert len({e.model for e in events}) >= 5
    assert {e.provider for e in events} == {"openai", "anthropic"}
    streamed = sum(e.streamed for e in events) / len(events)
    errors = sum(e.status == Status.ERROR for e in events) / len(events)
    assert 0.25 < streamed < 0.45
    assert 0.01 < errors < 0.04


def test_token_buckets_follow_the_providers() -> None:
    events = _run(count=10_000)
    assert all(e.tokens.total == 0 for e in events if e.status == Status.ERROR)
    assert all(e.tokens.reasoning == 0 for e in events if e.model not in REASONING_MODELS)
    assert any(e.tokens.reasoning > 0 for e in events if e.model in REASONING_MODELS)
    assert any(e.tokens.cache_read > 0 for e in events)
    writes = [e for e in events if e.tokens.cache_write > 0]
    assert writes and all(e.provider == "anthropic" for e in writes)


def test_time_advances_at_the_rate() -> None:
    events = list(simulate(TrafficProfile(retry_rate=0), seed=3, start=START, rate=4, count=9))
    assert events[0].occurred_at == START
    assert events[-1].occurred_at == START + timedelta(seconds=2)


def test_each_customer_has_its_own_key_by_default() -> None:
    for event in _run(count=500):
        assert event.api_key_id == f"key-{event.tag_values('customer')[0]}"


def test_given_keys_are_shared_round_robin() -> None:
    events = _run(count=2_000, customers=10, keys=("k-a", "k-b", "k-c"))
    by_key = Counter(e.api_key_id for e in events)
    assert set(by_key) == {"k-a", "k-b", "k-c"}
    for event in events:
        rank = int(event.tag_values("customer")[0].removeprefix("cust-")) - 1
        assert event.api_key_id == ("k-a", "k-b", "k-c")[rank % 3]


def test_customer_ids_sort_in_rank_order() -> None:
    assert customer_ids(3) == ["cust-0001", "cust-0002", "cust-0003"]
    assert customer_ids(12_000)[-1] == "cust-12000"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"customers": 0}, "customers"),
        ({"error_rate": 1.5}, "error_rate"),
        ({"keys": ("ok-key", "bad key")}, "bad key"),
    ],
)
def test_bad_profiles_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrafficProfile(**kwargs)


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rate"):
        list(simulate(TrafficProfile(), seed=1, start=START, rate=0, count=1))


def test_summary_counts_duplicates_once() -> None:
    summary = TrafficSummary()
    events = _run(count=3_000)
    for event in events:
        summary.add(event)
    assert summary.events == 3_000
    assert summary.unique == len({e.event_id for e in events})
    assert summary.duplicates == summary.events - summary.unique
    assert sum(summary.per_customer.values()) == summary.unique
