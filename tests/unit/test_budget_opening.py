"""Opening balances: a window rebuilt from stored usage equals the window the stream kept."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.budgets import BudgetScope, BudgetWindow
from stream.budget_deltas import SpendDelta, UsageItem
from stream.budget_windows import BUCKET_SECONDS, window_bounds
from stream.budgets import SubjectState, apply_delta
from tests.unit.test_budgets import T0, Feed, policy


def opening_from(feed: Feed, window: BudgetWindow, policy_id: str = "p1") -> SpendDelta:
    """What the starter builds from usage_events and budget_alerts: one item per window bucket
    (its last event's time and the bucket's sums), and every alert that fired."""
    size = BUCKET_SECONDS[window]
    buckets: dict[int, list] = {}
    for item in feed.items:
        acc = buckets.setdefault(item.at // size, [0, Decimal(0), 0, 0, ""])
        acc[0] = max(acc[0], item.at)
        acc[1] += item.usd
        acc[2] += item.tokens
        acc[3] += item.requests
        acc[4] = item.event_id
    items = tuple(UsageItem(*acc) for _, acc in sorted(buckets.items()))
    fired = tuple(
        (int(a.window_start.timestamp()), a.threshold)
        for a in feed.alerts
        if a.policy_id == policy_id
    )
    return SpendDelta.opening(BudgetScope.CUSTOMER, "acme", policy_id, items, fired)


class RecordingFeed(Feed):
    def __init__(self, *policies) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*policies)
        self.items: list[UsageItem] = []

    def add(self, at, usd="0", tokens=0, requests=1, now=None, event_id=None):  # type: ignore[no-untyped-def]
        outcome = super().add(at, usd, tokens, requests, now, event_id)
        self.items.append(UsageItem(int(at.timestamp()), Decimal(usd), tokens, requests,
                                    event_id or f"e{self.offset}"))  # fmt: skip
        return outcome


@settings(max_examples=60, deadline=None)
@given(
    window=st.sampled_from([BudgetWindow.ROLLING_1H, BudgetWindow.ROLLING_24H, BudgetWindow.MONTH]),
    spends=st.lists(
        st.tuples(st.integers(0, 50), st.decimals("0", "4", places=2)), min_size=1, max_size=25
    ),
    later=st.decimals("0", "6", places=2),
)
def test_a_rebuilt_window_has_the_same_spend_status_and_repeats_no_alert(
    window, spends, later
) -> None:  # type: ignore[no-untyped-def]
    cap = policy(window=window)
    kept = RecordingFeed(cap)
    at = T0
    for minutes, usd in spends:
        at += timedelta(minutes=minutes)
        kept.add(at, str(usd))
    now = at + timedelta(seconds=1)

    rebuilt = SubjectState()
    opening = opening_from(kept, window)
    outcome = apply_delta(rebuilt, [cap], opening, now=now, grace_s=300)
    assert outcome.alerts == []
    [state] = outcome.states
    before = kept.state.tallies["p1"]
    start, end = window_bounds(window, int(now.timestamp()))
    assert state.spend == sum((v for b, v in before.buckets.items() if start <= b < end),
                              Decimal(0))  # fmt: skip
    assert state.status is before.status

    # Both go on the same way: the next usage alerts (or not) identically.
    next_item = (UsageItem(int(now.timestamp()), Decimal(later), 0, 1, "next"),)
    usage = SpendDelta(BudgetScope.CUSTOMER, "acme", "0", 10**6, next_item)
    on_kept = apply_delta(kept.state, [cap], usage, now=now, grace_s=300)
    on_rebuilt = apply_delta(rebuilt, [cap], usage, now=now, grace_s=300)
    assert [a.threshold for a in on_rebuilt.alerts] == [a.threshold for a in on_kept.alerts]
    assert [(s.status, s.spend) for s in on_rebuilt.states] == [
        (s.status, s.spend) for s in on_kept.states
    ]


def test_an_opening_balance_applies_to_its_policy_only_and_once() -> None:
    caps = [policy(policy_id="p1"), policy(policy_id="p2", limit=Decimal(100))]
    state = SubjectState()
    item = (UsageItem(int(T0.timestamp()), Decimal(20), 0, 1, "e"),)
    opening = SpendDelta.opening(BudgetScope.CUSTOMER, "acme", "p1", item, ())
    first = apply_delta(state, caps, opening, now=T0, grace_s=300)
    assert [s.policy_id for s in first.states] == ["p1"]
    assert [a.threshold for a in first.alerts] == [50, 80, 100]  # nothing had fired before
    assert "p2" not in state.tallies
    assert not apply_delta(state, caps, opening, now=T0, grace_s=300).applied


def test_opening_balances_travel_as_json() -> None:
    item = UsageItem(1, Decimal("0.000000000001"), 3, 1, "e")
    delta = SpendDelta.opening(BudgetScope.TEAM, "t", "p", (item,), ((60, Decimal("80")),))
    assert SpendDelta.from_json(delta.to_json()) == delta
    plain = SpendDelta(BudgetScope.KEY, "k", "0", 5, (item,))
    assert SpendDelta.from_json(plain.to_json()) == plain
