from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from schemas.budgets import BudgetScope
from schemas.codec import encode_batch
from schemas.dead_letters import ErrorKind
from schemas.usage import EnrichedUsage
from stream.budget_deltas import SpendDelta, UsageItem, aggregate_record, decode_enriched
from stream.budget_policies import PolicyIndex
from tests.unit._enriched import enriched_event

T0 = datetime(2026, 6, 1, 9, 0, 10, tzinfo=UTC)


def event(i: int, key="k1", cost="0.25", at=T0, team="", owner="") -> EnrichedUsage:
    return enriched_event(i, at=at, key=key, cost=cost, team=team, owner=owner)


def test_one_delta_per_subject_with_a_policy_grouped_by_minute() -> None:
    events = [
        event(1, team="ml", owner="acme"),
        event(2, team="ml", owner="acme", at=T0 + timedelta(seconds=20)),
        event(3, team="ml", owner="acme", at=T0 + timedelta(minutes=1)),
    ]
    with_policy = {(BudgetScope.KEY, "k1"), (BudgetScope.CUSTOMER, "acme")}
    deltas = aggregate_record(events, lambda s, x: (s, x) in with_policy, source="2", offset=41)
    assert {d.key for d in deltas} == {"key:k1", "customer:acme"}
    customer = next(d for d in deltas if d.scope is BudgetScope.CUSTOMER)
    assert customer.items == (
        UsageItem(int(T0.timestamp()) + 20, Decimal("0.50"), 36, 2, "e2"),
        UsageItem(int(T0.timestamp()) + 60, Decimal("0.25"), 18, 1, "e3"),
    )
    assert (customer.source, customer.offset) == ("2", 41)


def test_a_customer_tag_is_only_a_tag_customer_subject() -> None:
    deltas = aggregate_record([event(1)], lambda s, x: True, source="0", offset=0)
    assert [d.key for d in deltas] == ["key:k1", "tag_customer:tagged-customer"]
    untagged = event(2).model_copy(update={"customer": "unattributed"})
    deltas = aggregate_record([untagged], lambda s, x: True, source="0", offset=0)
    assert [d.key for d in deltas] == ["key:k1"]


@given(
    st.lists(
        st.tuples(
            st.integers(0, 2_000_000_000),
            st.decimals(0, 10**6, places=12, allow_nan=False),
            st.integers(0, 10**9),
            st.integers(1, 500),
            st.text("abc123", min_size=1, max_size=8),
        ),
        max_size=5,
    )
)
def test_delta_json_round_trip_is_exact(items) -> None:
    delta = SpendDelta(BudgetScope.TEAM, "ml", "3", 9, tuple(UsageItem(*i) for i in items))
    assert SpendDelta.from_json(delta.to_json()) == delta


def test_good_records_decode_fast_and_bad_elements_become_dead_letters() -> None:
    good = encode_batch([event(1), event(2)])
    events, dead = decode_enriched(good, topic="t", partition=1, offset=5, now=T0)
    assert [e.event_id for e in events] == ["e1", "e2"] and dead == []

    mixed = b'[{"event_id": "x"}, ' + good[1:]
    events, dead = decode_enriched(mixed, topic="t", partition=1, offset=6, now=T0)
    assert [e.event_id for e in events] == ["e1", "e2"]
    assert [(d.index_in_record, d.error_kind) for d in dead] == [(0, ErrorKind.SCHEMA)]
    assert dead[0].dead_letter_id == "budgets:t:1:6:0"

    events, dead = decode_enriched(b"\xff not json", topic="t", partition=1, offset=7, now=T0)
    assert events == [] and dead[0].error_kind is ErrorKind.DECODE


def test_negative_cost_is_refused_on_the_fast_path_too() -> None:
    raw = encode_batch([event(1)]).replace(b'"cost":"0.25"', b'"cost":"-1"')
    events, dead = decode_enriched(raw, topic="t", partition=0, offset=0, now=T0)
    assert events == [] and len(dead) == 1


def test_policy_index_finds_policies_by_subject_and_forgets_deleted_ones() -> None:
    from tests.unit.test_budgets import policy

    index = PolicyIndex()
    p = policy()
    old, new = index.apply("p1", p.model_dump_json().encode())
    assert old is None and new == p
    assert index.has_policy(BudgetScope.CUSTOMER, "acme")
    moved = policy(subject="globex")
    assert index.apply("p1", moved.model_dump_json().encode()) == (p, moved)
    assert not index.has_policy(BudgetScope.CUSTOMER, "acme")
    assert index.for_subject(BudgetScope.CUSTOMER, "globex") == [moved]
    index.apply("p1", None)
    assert len(index) == 0 and index.subjects() == []
