"""The console's pure rules: signed sessions and share links, durations, how money shows,
budget rows joined from policies and states."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from reports.console.auth import ConsoleKeys, InvalidCredential, parse_duration
from reports.console.live import LiveSnapshot, budget_rows, rows_for, worst_status
from reports.console.routes import _safe_next
from reports.console.views import money
from schemas.budgets import BudgetPolicy, BudgetScope, BudgetState, BudgetStatus

NOW = 1_800_000_000
KEYS = ConsoleKeys("the-api-token")


def test_a_session_is_accepted_until_it_expires() -> None:
    value = KEYS.new_session(NOW, lifetime=60)
    assert KEYS.check_session(value, NOW + 59)
    with pytest.raises(InvalidCredential, match="expired"):
        KEYS.check_session(value, NOW + 60)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda v: v.replace("v1.", "v2.", 1),
        lambda v: v[:-1] + ("A" if v[-1] != "A" else "B"),
        lambda v: "v1.9999999999." + v.split(".", 2)[2],  # a later expiry, same signature
        lambda v: ConsoleKeys("another-token").new_session(NOW),
        lambda v: "",
        lambda v: "v1.x.y.z",
    ],
)
def test_a_forged_session_is_refused(tamper) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidCredential):
        KEYS.check_session(tamper(KEYS.new_session(NOW)), NOW)


def test_a_share_link_names_one_customer_until_it_expires() -> None:
    token = KEYS.share_token("acme", NOW + 100)
    shared = KEYS.check_share(token, NOW)
    assert (shared.customer, shared.expires) == ("acme", NOW + 100)
    with pytest.raises(InvalidCredential, match="expired"):
        KEYS.check_share(token, NOW + 100)


def test_a_share_link_cannot_be_edited_or_made_from_a_session() -> None:
    payload, signature = KEYS.share_token("acme", NOW + 100).split(".")
    other_payload = KEYS.share_token("globex", NOW + 100).split(".")[0]
    with pytest.raises(InvalidCredential):
        KEYS.check_share(f"{other_payload}.{signature}", NOW)
    with pytest.raises(InvalidCredential):
        KEYS.check_share(KEYS.new_session(NOW), NOW)
    with pytest.raises(InvalidCredential):
        ConsoleKeys("rotated-token").check_share(f"{payload}.{signature}", NOW)


@pytest.mark.parametrize(
    ("text", "seconds"), [("30d", 30 * 86400), ("12h", 43200), ("90m", 5400), ("2w", 1209600)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0d", "30", "d", "-1d", "1y", "1.5d"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("target", "safe"),
    [("/customers?period=2026-11", "/customers?period=2026-11"), ("//evil.example/", "/"),
     ("https://evil.example/", "/"), ("/\\evil.example", "/"), (None, "/"), ("", "/")],
)  # fmt: skip
def test_sign_in_only_returns_to_this_site(target: str | None, safe: str) -> None:
    assert _safe_next(target) == safe


@pytest.mark.parametrize(
    ("value", "shown"),
    [(Decimal("1234.565"), "1,234.57"), (Decimal("-0.005"), "-0.01"), (Decimal(0), "0.00"),
     (None, "—")],
)  # fmt: skip
def test_money_shows_cents_half_up(value: Decimal | None, shown: str) -> None:
    assert money(value) == shown


def _policy(pid: str, scope: str, subject: str, limit: str) -> BudgetPolicy:
    return BudgetPolicy(
        policy_id=pid,
        scope=BudgetScope(scope),
        subject=subject,
        limit=Decimal(limit),
        updated_at=datetime(2026, 11, 1, tzinfo=UTC),
    )


def _state(policy: BudgetPolicy, spend: str, status: str) -> BudgetState:
    return BudgetState(
        policy_id=policy.policy_id,
        scope=policy.scope,
        subject=policy.subject,
        status=BudgetStatus(status),
        action=policy.action,
        unit=policy.unit,
        window=policy.window,
        spend=Decimal(spend),
        limit=policy.limit,
        window_start=datetime(2026, 11, 1, tzinfo=UTC),
        updated_at=datetime(2026, 11, 1, 1, tzinfo=UTC),
    )


def test_budget_rows_join_state_and_put_the_worst_first() -> None:
    cap = _policy("acme-cap", "customer", "acme", "10")
    team = _policy("team-cap", "team", "platform", "100")
    fresh = _policy("new-cap", "key", "k1", "5")
    snap = LiveSnapshot(
        ready=True,
        source="test",
        policies=(fresh, team, cap),
        states=(_state(cap, "12.5", "exceeded"), _state(team, "85", "warning")),
    )
    rows = budget_rows(snap)
    assert [r.policy_id for r in rows] == ["acme-cap", "team-cap", "new-cap"]
    assert rows[0].percent == 100 and rows[0].spend == Decimal("12.5")
    assert (rows[2].spend, rows[2].status) == (0, BudgetStatus.OK)
    mine = rows_for(rows, "acme", keys=["k1"], teams=[])
    assert [r.policy_id for r in mine] == ["acme-cap", "new-cap"]
    assert worst_status(mine) is BudgetStatus.EXCEEDED
    assert worst_status(rows_for(rows, "globex", (), ())) is None
