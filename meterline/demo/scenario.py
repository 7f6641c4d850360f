"""The demo's day of traffic and its business files. Pure: no I/O, no clock (``now`` is given).

* ``key-shared`` (team ``platform``) serves a long tail of small customers, told apart by their
  ``customer:`` tags; a few of its calls carry no customer tag (``unattributed``).
* ``key-acme`` (team ``enterprise``) is bound to the big customer ``acme``, whose budget caps it:
  the limit is set to half of what acme would spend over the day, so acme crosses 50 %, 80 % and
  100 % mid-day and its later calls are refused at the gateway.
* ``globex`` rides the shared key on a flat plan whose fee is below its cost: the unprofitable
  account the margin table must surface.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from producers.simulator import TrafficProfile, simulate
from schemas.usage import UsageEvent

__all__ = [
    "ACME_KEY",
    "ACME_POLICY",
    "PLANS_YAML",
    "SHARED_KEY",
    "Scenario",
    "build_scenario",
    "malformed_records",
    "revenue_csv",
]

SHARED_KEY = "key-shared"
ACME_KEY = "key-acme"
ACME_POLICY = "acme-daily-cap"
SHARED_POLICY = "shared-key-daily"
ACME_SHARE_OF_DAY_AT_LIMIT = Decimal("0.5")

_RENAMES = {"cust-0001": "globex", "cust-0002": "initech", "cust-0003": "umbrella"}

PLANS_YAML = """\
# Which plan each customer is on. Money is exact decimal; each invoice line rounds to cents.
default_plan: payg
plans:
  payg:       {kind: markup, markup_percent: 40}
  enterprise: {kind: markup, markup_percent: 25, minimum: 100}
  flat-team:  {kind: flat, monthly_fee: 20, included_cost: 1000, overage_markup_percent: 0}
customers:
  acme: enterprise
  globex: flat-team
"""


@dataclass(frozen=True)
class Scenario:
    start: datetime
    end: datetime
    events: list[UsageEvent]
    """Every call of the day in time order, gateway retries (same ``event_id``) included."""


def _retag(event: UsageEvent, customer: str | None) -> UsageEvent:
    tags = [t for t in event.tags if not t.startswith("customer:")]
    if customer is not None:
        tags.insert(0, f"customer:{customer}")
    return event.model_copy(update={"tags": tags})


def build_scenario(now: datetime, small_calls: int = 6_000, acme_calls: int = 2_000) -> Scenario:
    """The day ending at ``now`` (from the start of the month if that is nearer), in time order."""
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = max(now - timedelta(hours=24), month_start)
    span = max((now - start).total_seconds() - 60, 60.0)
    small = simulate(
        TrafficProfile(customers=24, keys=(SHARED_KEY,), gateway="gw-eu-1"),
        seed=11,
        start=start,
        rate=small_calls / span,
        count=small_calls,
    )
    acme = simulate(
        TrafficProfile(customers=1, keys=(ACME_KEY,), heavy_customers=1, gateway="gw-us-1"),
        seed=12,
        start=start,
        rate=acme_calls / span,
        count=acme_calls,
    )
    events: list[UsageEvent] = []
    for i, event in enumerate(small):
        customer = event.tag_values("customer")[0]
        # One call in 40 comes from an internal job that tags no customer.
        events.append(_retag(event, None if i % 40 == 39 else _RENAMES.get(customer, customer)))
    events.extend(_retag(event, "acme") for event in acme)
    events.sort(key=lambda e: e.occurred_at)
    return Scenario(start=start, end=now, events=events)


def malformed_records() -> list[tuple[str, bytes]]:
    """What buggy gateways might publish, as (record key, value): each must become a dead
    letter with its reason. One comes from acme's own integration."""
    return [
        (SHARED_KEY, b"\xff\xfe not json at all"),
        (
            SHARED_KEY,
            b'{"event_id": "bad-1", "occurred_at": "2026-11-01T00:00:00Z", "gateway": "gw",'
            b' "api_key_id": "key-shared", "provider": "openai", "model": "gpt-4o",'
            b' "tokens": {"input": -5, "output": 3}}',
        ),
        (
            ACME_KEY,
            b'{"event_id": "bad-2", "occurred_at": "2026-11-01T00:00:00", "gateway": "gw",'
            b' "api_key_id": "key-acme", "provider": "openai", "model": "gpt-4o"}',
        ),
    ]


def revenue_csv(billed: dict[str, Decimal]) -> str:
    """The billing system's revenue export: what each customer was invoiced, plus an account
    that pays but sent no traffic this month."""
    lines = ["customer,revenue"]
    lines += [f"{customer},{amount}" for customer, amount in sorted(billed.items())]
    lines.append("hooli,250.00")
    return "\n".join(lines) + "\n"
