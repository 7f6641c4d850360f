"""The Valkey backend against a real ``valkey-server``: the Lua scripts decide exactly like the
pure rules, atomically under concurrent callers, and settle once per call id."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from meterline.local.valkey import ValkeyServer
from producers.limits.backends import ValkeyBackend
from producers.limits.errors import LimitsUnavailable
from producers.limits.rules import Admitted, Ask, BudgetAsk, RateAsk, to_micros

pytestmark = pytest.mark.integration


def admitted(outcome: object) -> bool:
    return isinstance(outcome, Admitted)


@pytest.fixture
def backends(valkey_server: ValkeyServer):  # type: ignore[no-untyped-def]
    """Two backends (two gateways' clients) sharing one server under a fresh prefix."""
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    a = ValkeyBackend(valkey_server.url, prefix=prefix)
    b = ValkeyBackend(valkey_server.url, prefix=prefix)
    yield a, b
    a.close()
    b.close()


def rate(**limits: float) -> RateAsk:
    return RateAsk(key="key:k", subject="key k", **limits)  # type: ignore[arg-type]


def cap(limit: str, cost: str) -> BudgetAsk:
    return BudgetAsk(
        key="cap:usd:24h",
        subject="customer acme (budget cap)",
        limit=to_micros(Decimal(limit)),
        cost=to_micros(Decimal(cost)),
        window_s=86400.0,
    )


def ask(call: str, *, tokens: int = 0, rates=(), budgets=()) -> Ask:  # type: ignore[no-untyped-def]
    return Ask(call, tokens, tuple(rates), tuple(budgets))


def test_rpm_is_shared_by_two_clients(backends) -> None:  # type: ignore[no-untyped-def]
    a, b = backends
    answers = [(a if i % 2 else b).reserve(ask(f"c{i}", rates=[rate(rpm=5)])) for i in range(8)]
    assert [admitted(x) for x in answers] == [True] * 5 + [False] * 3
    refusal = answers[-1]
    assert refusal is not None and refusal.kind == "rpm" and refusal.subject == "key k"
    assert 59 <= refusal.retry_after_s <= 60


def test_concurrent_reserves_never_pass_the_limit(backends) -> None:  # type: ignore[no-untyped-def]
    a, b = backends
    limit = rate(rpm=100, max_parallel=1000)
    with ThreadPoolExecutor(16) as pool:
        answers = list(
            pool.map(lambda i: (a if i % 2 else b).reserve(ask(f"c{i}", rates=[limit])), range(400))
        )
    assert sum(admitted(x) for x in answers) == 100


def test_tpm_reservation_is_refunded_at_settle(backends) -> None:  # type: ignore[no-untyped-def]
    a, b = backends
    limit = rate(tpm=1000)
    first = ask("first", tokens=600, rates=[limit])
    assert admitted(a.reserve(first))
    refused = b.reserve(ask("second", tokens=600, rates=[limit]))
    assert refused is not None and refused.kind == "tpm" and "needs 600" in refused.message
    assert a.settle(first.settle(100, 0))
    assert admitted(b.reserve(ask("second", tokens=600, rates=[limit])))


def test_parallel_slot_of_a_call_that_never_settles_expires_with_its_lease(backends) -> None:  # type: ignore[no-untyped-def]
    a, b = backends
    limit = rate(max_parallel=2, lease_s=1.0)
    assert admitted(a.reserve(ask("x", rates=[limit])))
    assert admitted(a.reserve(ask("y", rates=[limit])))
    refused = b.reserve(ask("z", rates=[limit]))
    assert refused is not None and refused.kind == "parallel"
    deadline = time.monotonic() + 10
    while not admitted(b.reserve(ask("z", rates=[limit]))):
        assert time.monotonic() < deadline, "slots of unsettled calls never expired"
        time.sleep(0.05)


def test_cap_reserves_worst_case_and_settles_real_cost_once(backends) -> None:  # type: ignore[no-untyped-def]
    a, b = backends
    first, second = ask("a", budgets=[cap("1", "0.4")]), ask("b", budgets=[cap("1", "0.4")])
    assert admitted(a.reserve(first))
    assert admitted(b.reserve(second))
    refused = a.reserve(ask("c", budgets=[cap("1", "0.4")]))
    assert refused is not None and refused.kind == "budget"
    assert "0.8 reserved" in refused.message.replace("0.800000", "0.8")
    settle = first.settle(0, to_micros(Decimal("0.1")))
    assert a.settle(settle)
    assert not b.settle(settle)  # the same call id settled again (a retry): no change
    assert admitted(a.reserve(ask("c", budgets=[cap("1", "0.4")])))  # 0.1 + 0.4 + 0.4 <= 1
    assert not admitted(b.reserve(ask("d", budgets=[cap("1", "0.2")])))  # 0.1 + 0.8 + 0.2 > 1
    spend = a.client.hget(f"{a.prefix}b:cap:usd:24h:spend", "total")
    assert int(spend) == to_micros(Decimal("0.1"))


def test_a_retried_reserve_holds_nothing_more(backends) -> None:  # type: ignore[no-untyped-def]
    a, b = backends
    limit = rate(max_parallel=1)
    call = ask("same", rates=[limit])
    assert admitted(a.reserve(call))
    assert admitted(b.reserve(call))
    assert not admitted(b.reserve(ask("other", rates=[limit])))


def test_unreachable_server_raises_limits_unavailable() -> None:
    server = ValkeyServer().start()
    backend = ValkeyBackend(server.url, timeout_s=0.2)
    assert admitted(backend.reserve(ask("a", rates=[rate(rpm=1)])))
    server.stop()
    with pytest.raises(LimitsUnavailable):
        backend.reserve(ask("b", rates=[rate(rpm=1)]))
    backend.close()


def test_many_threads_settle_each_call_once(backends) -> None:  # type: ignore[no-untyped-def]
    a, _ = backends
    calls = [ask(f"c{i}", budgets=[cap("100", "1")]) for i in range(20)]
    for call in calls:
        assert admitted(a.reserve(call))
    settled = []
    lock = threading.Lock()

    def settle_twice(call: Ask) -> None:
        for _ in range(2):
            ok = a.settle(call.settle(0, to_micros(Decimal("0.5"))))
            with lock:
                settled.append(ok)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(settle_twice, calls))
    assert settled.count(True) == 20
    assert int(a.client.hget(f"{a.prefix}b:cap:usd:24h:spend", "total")) == 20 * 500_000
