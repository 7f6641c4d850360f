"""The admission rules (``producers.limits.rules``): what a gateway admits, holds and frees."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from producers.limits.rules import Ask, BudgetAsk, Counters, RateAsk, to_micros

T0 = 1_800_000_000.0


def rate(**limits: int) -> RateAsk:
    return RateAsk(key="key:k", subject="key k", lease_s=30.0, **limits)  # type: ignore[arg-type]


def ask(call: str, *, tokens: int = 0, rates=(), budgets=()) -> Ask:  # type: ignore[no-untyped-def]
    return Ask(call, tokens, tuple(rates), tuple(budgets))


gaps = st.lists(st.floats(min_value=0, max_value=5, allow_nan=False), min_size=1, max_size=300)


@settings(max_examples=60, deadline=None)
@given(gaps=gaps, rpm=st.integers(min_value=1, max_value=40))
def test_rpm_holds_in_every_sliding_minute_and_refuses_only_when_full(
    gaps: list[float], rpm: int
) -> None:
    counters = Counters()
    admitted: list[float] = []
    now = T0
    for i, gap in enumerate(gaps):
        now += gap
        refusal = counters.reserve(ask(f"c{i}", rates=[rate(rpm=rpm)]), now)
        in_window = [t for t in admitted if t > now - 60]
        if refusal is None:
            assert len(in_window) < rpm
            admitted.append(now)
        else:
            assert refusal.kind == "rpm" and refusal.subject == "key k"
            assert len(in_window) == rpm
            # Retry-After points at when the oldest admission leaves the window.
            assert min(in_window) + 60 - now <= refusal.retry_after_s < min(in_window) + 61 - now


def test_rpm_admits_again_after_retry_after() -> None:
    counters = Counters()
    for i in range(3):
        assert counters.reserve(ask(f"c{i}", rates=[rate(rpm=3)]), T0 + i) is None
    refusal = counters.reserve(ask("late", rates=[rate(rpm=3)]), T0 + 10)
    assert refusal is not None and refusal.retry_after_s == 50
    assert counters.reserve(ask("late", rates=[rate(rpm=3)]), T0 + 10 + 50) is None


calls = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=20, allow_nan=False),  # gap before the call
        st.integers(min_value=1, max_value=400),  # estimate
        st.integers(min_value=0, max_value=400),  # real tokens
    ),
    min_size=1,
    max_size=120,
)


@settings(max_examples=60, deadline=None)
@given(calls=calls, tpm=st.integers(min_value=100, max_value=2000))
def test_tpm_reserves_the_estimate_and_settles_the_real_count(
    calls: list[tuple[float, int, int]], tpm: int
) -> None:
    counters = Counters()
    held: dict[str, tuple[float, int]] = {}  # call -> (admitted at, tokens it counts for)
    now = T0
    for i, (gap, estimate, real) in enumerate(calls):
        now += gap
        call = f"c{i}"
        window = sum(n for at, n in held.values() if at > now - 60)
        refusal = counters.reserve(ask(call, tokens=estimate, rates=[rate(tpm=tpm)]), now)
        if refusal is None:
            assert window + estimate <= tpm
            held[call] = (now, estimate)
            counters.settle(ask(call, tokens=estimate, rates=[rate(tpm=tpm)]).settle(real, 0), now)
            held[call] = (now, real)
        else:
            assert refusal.kind == "tpm"
            assert window + estimate > tpm


def test_parallel_slot_freed_on_settle_and_by_lease() -> None:
    counters = Counters()
    limit = rate(max_parallel=2)
    a, b = ask("a", rates=[limit]), ask("b", rates=[limit])
    assert counters.reserve(a, T0) is None
    assert counters.reserve(b, T0) is None
    refused = counters.reserve(ask("c", rates=[limit]), T0 + 1)
    assert refused is not None and refused.kind == "parallel" and refused.retry_after_s >= 1
    counters.settle(a.settle(10, 0), T0 + 2)
    assert counters.reserve(ask("c", rates=[limit]), T0 + 2) is None
    # "b" and "c" never settle (their gateway died): their leases (30 s) free the slots.
    assert counters.reserve(ask("d", rates=[limit]), T0 + 20) is not None
    assert counters.reserve(ask("d", rates=[limit]), T0 + 32.1) is None


def budget(limit: str = "5", cost: str = "0.05", floor: str = "0") -> BudgetAsk:
    return BudgetAsk(
        key="cap:usd:24h",
        subject="customer acme (budget cap)",
        limit=to_micros(Decimal(limit)),
        cost=to_micros(Decimal(cost)),
        floor=to_micros(Decimal(floor)),
        window_s=86400.0,
        lease_s=30.0,
    )


@settings(max_examples=60, deadline=None)
@given(
    costs=st.lists(st.integers(min_value=0, max_value=50_000), min_size=1, max_size=300),
    concurrency=st.integers(min_value=1, max_value=64),
)
def test_cap_never_overshoots_when_real_cost_stays_within_the_reservation(
    costs: list[int], concurrency: int
) -> None:
    """Calls reserve 0.05 USD and settle a real cost of at most that; however many are in
    flight, settled spend never passes the cap, and it gets within one call of it."""
    counters = Counters()
    cap = budget(limit="5", cost="0.05")
    in_flight: list[tuple[Ask, int]] = []
    settled = 0
    for i, real in enumerate(costs):
        call = ask(f"c{i}", budgets=[cap])
        admitted = counters.reserve(call, T0 + i * 0.001) is None
        if admitted:
            in_flight.append((call, real))
        if len(in_flight) >= concurrency or not admitted:
            for done, cost in in_flight:
                counters.settle(done.settle(0, cost), T0 + i * 0.001)
                settled += cost
            in_flight.clear()
        assert settled <= cap.limit
    assert counters.spent(cap.key) == settled


def test_cap_counts_the_streams_spend_as_a_floor() -> None:
    counters = Counters()
    refused = counters.reserve(ask("a", budgets=[budget(limit="5", cost="0.5", floor="4.8")]), T0)
    assert refused is not None and refused.kind == "budget"
    assert "4.8" in refused.message and "customer acme" in refused.subject
    fits = budget(limit="5", cost="0.1", floor="4.8")
    assert counters.reserve(ask("b", budgets=[fits]), T0) is None


def test_refusal_is_all_or_nothing() -> None:
    counters = Counters()
    limit = rate(rpm=5, max_parallel=5)
    full = budget(limit="1", cost="2")
    for i in range(10):
        refused = counters.reserve(ask(f"c{i}", rates=[limit], budgets=[full]), T0 + i)
        assert refused is not None and refused.kind == "budget"
    assert counters.in_flight("key:k", T0 + 10) == 0
    assert counters.reserve(ask("ok", rates=[limit]), T0 + 10) is None


def test_reserve_and_settle_are_idempotent_per_call_id() -> None:
    counters = Counters()
    cap = budget(limit="1", cost="0.4")
    call = ask("same", tokens=10, rates=[rate(rpm=2, max_parallel=1)], budgets=[cap])
    assert counters.reserve(call, T0) is None
    assert counters.reserve(call, T0 + 1) is None  # a retried reserve holds nothing more
    assert counters.in_flight("key:k", T0 + 1) == 1
    assert counters.settle(call.settle(10, to_micros(Decimal("0.3"))), T0 + 2)
    assert not counters.settle(call.settle(10, 300_000), T0 + 3)
    assert counters.spent(cap.key) == 300_000


def test_rolling_cap_spend_leaves_with_its_bucket() -> None:
    counters = Counters()
    cap = budget(limit="1", cost="0.6")
    first = ask("a", budgets=[cap])
    assert counters.reserve(first, T0) is None
    counters.settle(first.settle(0, 600_000), T0)
    refused = counters.reserve(ask("b", budgets=[cap]), T0 + 3600)
    assert refused is not None
    # 24 h later (plus at most one 24-minute bucket) the spend has left the window.
    assert refused.retry_after_s <= 86400 + 1440
    assert counters.reserve(ask("b", budgets=[cap]), T0 + 86400 + 1440) is None
