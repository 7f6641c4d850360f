"""The Lua scripts decide like the pure rules: the same random sequence of reserves and settles
(within one window, so no time-dependent expiry) gets the same answers from ``rules.Counters``
and from a real Valkey."""

from __future__ import annotations

import time
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from producers.limits.backends import ValkeyBackend
from producers.limits.rules import Admitted, Ask, BudgetAsk, Counters, RateAsk

pytestmark = pytest.mark.integration

RATES = (
    RateAsk(key="key:k", subject="key k", rpm=6, tpm=3000, max_parallel=3),
    RateAsk(key="team:t", subject="team t", rpm=9, max_parallel=4),
)
CAP = BudgetAsk(
    key="cap:usd:24h",
    subject="customer c",
    limit=2_000_000,
    cost=0,
    floor=300_000,
    window_s=86400.0,
)

ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("reserve"),
            st.integers(0, 1500),
            st.integers(0, 900_000),
            st.sampled_from(["key", "team", "both"]),
        ),
        st.tuples(
            st.just("settle"), st.integers(0, 1500), st.integers(0, 900_000), st.integers(0, 30)
        ),
    ),
    min_size=1,
    max_size=40,
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sequence=ops)
def test_same_answers_as_the_pure_rules(valkey_server, sequence) -> None:  # type: ignore[no-untyped-def]
    backend = ValkeyBackend(valkey_server.url, prefix=f"eq{uuid.uuid4().hex[:8]}:")
    counters = Counters()
    now = time.time()
    admitted: list[Ask] = []
    try:
        for i, (op, tokens, cost, which) in enumerate(sequence):
            if op == "reserve":
                rates = {"key": RATES[:1], "team": RATES[1:], "both": RATES}[which]
                ask = Ask(f"c{i}", tokens, rates, (BudgetAsk(**{**_fields(CAP), "cost": cost}),))
                pure = counters.reserve(ask, now)
                lua = backend.reserve(ask)
                assert (pure is None) == isinstance(lua, Admitted), (i, pure, lua)
                if pure is None:
                    admitted.append(ask)
                else:
                    assert (pure.kind, pure.subject) == (lua.kind, lua.subject)  # type: ignore[union-attr]
                    assert pure.message == lua.message  # type: ignore[union-attr]
            elif admitted:
                ask = admitted[which % len(admitted)]
                settle = ask.settle(tokens, cost)
                assert counters.settle(settle, now) == backend.settle(settle)
    finally:
        backend.close()


def _fields(ask: BudgetAsk) -> dict[str, object]:
    return {name: getattr(ask, name) for name in BudgetAsk.__slots__}  # type: ignore[attr-defined]
