from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.budgets import (
    BudgetAction,
    BudgetPolicy,
    BudgetScope,
    BudgetStatus,
    BudgetUnit,
    BudgetWindow,
)
from stream.budget_deltas import SpendDelta, UsageItem
from stream.budgets import SubjectState, alert_id, apply_delta

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def policy(**overrides) -> BudgetPolicy:
    values = {
        "policy_id": "p1",
        "scope": BudgetScope.CUSTOMER,
        "subject": "acme",
        "limit": Decimal(10),
        "window": BudgetWindow.ROLLING_24H,
        "updated_at": T0 - timedelta(days=40),
    }
    values.update(overrides)
    return BudgetPolicy(**values)


class Feed:
    """Applies deltas one record at a time, as the evaluator agent does."""

    def __init__(self, *policies: BudgetPolicy) -> None:
        self.policies = list(policies)
        self.state = SubjectState()
        self.offset = 0
        self.alerts = []
        self.states = []

    def add(self, at: datetime, usd="0", tokens=0, requests=1, now=None, event_id=None):
        self.offset += 1
        item = UsageItem(
            int(at.timestamp()), Decimal(usd), tokens, requests, event_id or f"e{self.offset}"
        )
        delta = SpendDelta(BudgetScope.CUSTOMER, "acme", "0", self.offset, (item,))
        outcome = apply_delta(self.state, self.policies, delta, now=now or at, grace_s=300)
        self.alerts += outcome.alerts
        self.states += outcome.states
        return outcome


def test_crossing_50_80_100_alerts_once_each_in_order() -> None:
    feed = Feed(policy())
    for minute, usd in enumerate(["4", "1.5", "1", "2", "0.5", "1", "5"]):
        feed.add(T0 + timedelta(minutes=minute), usd)
    assert [a.threshold for a in feed.alerts] == [50, 80, 100]
    assert [a.event_id for a in feed.alerts] == ["e2", "e4", "e6"]
    assert feed.alerts[2].spend == Decimal(10)
    assert len({a.alert_id for a in feed.alerts}) == 3
    assert [s.status for s in feed.states] == [
        BudgetStatus.OK,
        BudgetStatus.WARNING,
        BudgetStatus.EXCEEDED,
    ]


def test_one_event_crossing_several_thresholds_alerts_for_each() -> None:
    feed = Feed(policy())
    feed.add(T0, "12")
    assert [a.threshold for a in feed.alerts] == [50, 80, 100]
    assert {a.event_id for a in feed.alerts} == {"e1"}


def test_reprocessed_delta_counts_once_and_alerts_nothing() -> None:
    feed = Feed(policy())
    feed.add(T0, "6")
    item = UsageItem(int(T0.timestamp()), Decimal(6), 0, 1, "e1")
    replay = SpendDelta(BudgetScope.CUSTOMER, "acme", "0", 1, (item,))
    outcome = apply_delta(feed.state, feed.policies, replay, now=T0, grace_s=300)
    assert not outcome.applied
    assert outcome.alerts == [] and outcome.states == []
    feed.add(T0, "1")
    assert sum(feed.state.tallies["p1"].buckets.values()) == Decimal(7)


def test_state_survives_a_json_round_trip() -> None:
    feed = Feed(policy())
    feed.add(T0, "8.5")
    feed.state = SubjectState.from_json(feed.state.to_json())
    feed.add(T0 + timedelta(minutes=1), "0.1")
    assert [a.threshold for a in feed.alerts] == [50, 80]
    feed.add(T0 + timedelta(minutes=2), "1.4")
    assert [a.threshold for a in feed.alerts] == [50, 80, 100]


def test_rolling_window_frees_up_and_rearms() -> None:
    feed = Feed(policy(window=BudgetWindow.ROLLING_1H, thresholds=[]))
    feed.add(T0, "10")
    exceeded = feed.states[-1]
    assert exceeded.status is BudgetStatus.EXCEEDED
    assert exceeded.resets_at == T0 + timedelta(hours=1)
    feed.add(T0 + timedelta(minutes=59, seconds=59), "0")
    assert feed.states[-1].status is BudgetStatus.EXCEEDED
    feed.add(T0 + timedelta(hours=1), "1")
    assert feed.states[-1].status is BudgetStatus.OK
    feed.add(T0 + timedelta(hours=1, minutes=5), "9")
    assert [a.threshold for a in feed.alerts] == [100, 100]
    assert feed.alerts[0].alert_id != feed.alerts[1].alert_id


def test_late_event_inside_rolling_window_counts_older_is_dropped() -> None:
    feed = Feed(policy(window=BudgetWindow.ROLLING_1H))
    now = T0 + timedelta(minutes=30)
    feed.add(T0, "6", now=now)
    assert feed.alerts[-1].threshold == 50
    outcome = feed.add(T0 - timedelta(minutes=31), "9", now=now)
    assert outcome.late_dropped == 1
    assert len(feed.alerts) == 1


def test_future_event_counts_now() -> None:
    feed = Feed(policy(window=BudgetWindow.ROLLING_1H))
    feed.add(T0 + timedelta(days=3), "10", now=T0)
    assert feed.alerts[-1].emitted_at == T0
    assert feed.states[-1].status is BudgetStatus.EXCEEDED


def test_calendar_month_rolls_over_and_late_events_count_in_their_own_month() -> None:
    feed = Feed(policy(window=BudgetWindow.MONTH, thresholds=[Decimal(50)]))
    end_of_march = datetime(2026, 3, 31, 23, 59, 30, tzinfo=UTC)
    april = datetime(2026, 4, 1, 0, 2, tzinfo=UTC)
    feed.add(end_of_march, "4")
    feed.add(april, "3")
    feed.add(april, "1.9")
    assert feed.alerts == []  # April holds 4.9: March's 4 do not roll over
    # Within grace: a March event still counts in March and alerts for March.
    feed.add(end_of_march, "1", now=april)
    assert [(a.threshold, a.window_start.month, a.spend) for a in feed.alerts] == [
        (50, 3, Decimal(5))
    ]
    # After the grace: dropped.
    outcome = feed.add(end_of_march, "100", now=april + timedelta(minutes=10))
    assert outcome.late_dropped == 1
    assert len(feed.alerts) == 1


def test_month_instance_is_part_of_the_alert_id() -> None:
    feed = Feed(policy(window=BudgetWindow.MONTH, thresholds=[]))
    feed.add(datetime(2026, 3, 5, tzinfo=UTC), "10")
    feed.add(datetime(2026, 4, 5, tzinfo=UTC), "10")
    march, april = feed.alerts
    assert march.alert_id == alert_id("p1", Decimal(100), int(march.window_start.timestamp()))
    assert march.alert_id != april.alert_id


def test_token_and_request_units() -> None:
    tokens = policy(policy_id="tok", unit=BudgetUnit.TOKENS, limit=Decimal(1000), thresholds=[])
    requests = policy(policy_id="req", unit=BudgetUnit.REQUESTS, limit=Decimal(3), thresholds=[])
    feed = Feed(tokens, requests)
    feed.add(T0, "5", tokens=600)
    feed.add(T0, "5", tokens=399)
    assert feed.alerts == []
    feed.add(T0, "5", tokens=1)
    assert [(a.policy_id, a.spend) for a in feed.alerts] == [
        ("req", Decimal(3)),
        ("tok", Decimal(1000)),
    ]


def test_policy_change_applies_from_next_event() -> None:
    feed = Feed(policy(thresholds=[]))
    feed.add(T0, "6")
    assert feed.alerts == []
    feed.policies = [policy(limit=Decimal(5), thresholds=[], updated_at=T0)]
    feed.add(T0 + timedelta(minutes=1), "0")
    assert [a.limit for a in feed.alerts] == [Decimal(5)]
    assert feed.states[-1].limit == Decimal(5)
    assert feed.states[-1].action is BudgetAction.BLOCK


@settings(max_examples=60, deadline=None)
@given(
    amounts=st.lists(
        st.decimals(min_value=0, max_value=5, places=2, allow_nan=False), min_size=1, max_size=30
    ),
    replay_every=st.integers(min_value=1, max_value=5),
)
def test_each_threshold_fires_at_most_once_and_spend_is_exact(amounts, replay_every) -> None:
    feed = Feed(policy(window=BudgetWindow.ROLLING_7D))
    for i, amount in enumerate(amounts):
        feed.add(T0 + timedelta(minutes=i), amount)
        if i % replay_every == 0:
            item = UsageItem(int(T0.timestamp()), amount, 0, 1, "again")
            replay = SpendDelta(BudgetScope.CUSTOMER, "acme", "0", feed.offset, (item,))
            apply_delta(feed.state, feed.policies, replay, now=T0, grace_s=300)
    total = sum(amounts, Decimal(0))
    assert sum(feed.state.tallies["p1"].buckets.values()) == total
    fired = [a.threshold for a in feed.alerts]
    assert fired == sorted(set(fired))
    assert fired == [t for t in (50, 80, 100) if total >= Decimal(10) * t / 100]


def trigger(feed: Feed, offset: int, now: datetime):
    delta = SpendDelta.policy_trigger(BudgetScope.CUSTOMER, "acme", offset)
    outcome = apply_delta(feed.state, feed.policies, delta, now=now, grace_s=300)
    feed.alerts += outcome.alerts
    feed.states += outcome.states
    return outcome


def test_a_policy_trigger_applies_a_change_without_usage() -> None:
    feed = Feed(policy(thresholds=[]))
    feed.add(T0, "12")
    assert feed.states[-1].status is BudgetStatus.EXCEEDED
    feed.policies = [policy(limit=Decimal(20), thresholds=[], updated_at=T0)]
    trigger(feed, 7, T0 + timedelta(minutes=1))
    assert feed.states[-1].status is BudgetStatus.OK
    assert feed.states[-1].limit == Decimal(20)
    feed.policies = [policy(limit=Decimal(5), thresholds=[], updated_at=T0 + timedelta(minutes=2))]
    trigger(feed, 8, T0 + timedelta(minutes=3))
    assert feed.alerts[-1].limit == Decimal(5)
    assert feed.alerts[-1].event_id == "policies:8"
    # The same trigger again (another worker, or a replay) changes nothing.
    assert not trigger(feed, 8, T0 + timedelta(minutes=4)).applied


def test_a_deleted_policy_is_reported_removed() -> None:
    feed = Feed(policy())
    feed.add(T0, "1")
    feed.policies = []
    outcome = trigger(feed, 3, T0)
    assert outcome.removed == ["p1"]
    assert feed.state.tallies == {}
