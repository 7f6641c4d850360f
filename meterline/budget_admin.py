"""Budget policy administration over the compacted ``meterline.budgets.policies`` topic.

The CLI (``meterline budgets``) is a thin layer over these functions; tests call them directly.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from meterline.budget_status import BudgetStatusRow, status_rows
from meterline.config_changes import Change, publish_changes, read_compacted
from schemas.budgets import (
    BudgetAction,
    BudgetAlert,
    BudgetPolicy,
    BudgetScope,
    BudgetState,
    BudgetUnit,
    BudgetWindow,
)
from schemas.codec import encode_one
from schemas.keys import KeyBinding
from schemas.topics import Topics

__all__ = [
    "PolicyInputError",
    "build_policy",
    "default_action",
    "delete_policy",
    "list_policies",
    "parse_thresholds",
    "put_policies",
    "put_policy",
    "read_budget_status",
    "unbound_customer_warning",
]


class PolicyInputError(ValueError):
    """A policy given on the command line is not valid; the message says why."""


def parse_thresholds(text: str) -> list[Decimal]:
    """``"50,80"`` -> ``[50, 80]``; ``""`` -> no soft thresholds."""
    try:
        return [Decimal(part.strip().rstrip("%")) for part in text.split(",") if part.strip()]
    except InvalidOperation as exc:
        raise PolicyInputError(f"thresholds must be numbers like 50,80, got {text!r}") from exc


def build_policy(
    *,
    policy_id: str,
    scope: str,
    subject: str,
    limit: str,
    unit: str = "usd",
    window: str = "24h",
    thresholds: str = "50,80",
    action: str = "block",
    max_call_cost: str | None = None,
    now: datetime | None = None,
) -> BudgetPolicy:
    """A validated ``BudgetPolicy``; raises ``PolicyInputError`` with a readable reason."""
    from pydantic import ValidationError

    try:
        amount = Decimal(limit)
    except InvalidOperation as exc:
        raise PolicyInputError(
            f"limit must be a decimal number like 10 or 12.50: {limit!r}"
        ) from exc
    try:
        per_call = None if max_call_cost is None else Decimal(max_call_cost)
    except InvalidOperation as exc:
        raise PolicyInputError(f"max call cost must be a decimal: {max_call_cost!r}") from exc
    try:
        return BudgetPolicy(
            policy_id=policy_id,
            scope=BudgetScope(scope),
            subject=subject,
            limit=amount,
            unit=BudgetUnit(unit),
            window=BudgetWindow(window),
            thresholds=parse_thresholds(thresholds),
            action=BudgetAction(action),
            max_call_cost=per_call,
            updated_at=now or datetime.now(UTC),
        )
    except ValidationError as exc:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise PolicyInputError(reasons) from exc
    except ValueError as exc:
        raise PolicyInputError(str(exc)) from exc


def default_action(scope: str) -> str:
    """``alert`` for tag customers (tags never block), ``block`` for everything else."""
    alert_only = scope == BudgetScope.TAG_CUSTOMER
    return (BudgetAction.ALERT if alert_only else BudgetAction.BLOCK).value


def unbound_customer_warning(policy: BudgetPolicy, bindings: list[KeyBinding]) -> str | None:
    """Why a ``customer`` budget would see no spend (no key is bound to that owner), and how to
    fix it; ``None`` when a key is bound or the scope is not ``customer``."""
    if policy.scope is not BudgetScope.CUSTOMER:
        return None
    if any(b.owner_customer == policy.subject for b in bindings):
        return None
    return (
        f"warning: no API key is bound to customer {policy.subject!r}, so this budget sees no "
        "spend yet (customer budgets follow the key's owner, not customer: tags). Bind the "
        f"customer's key: meterline keys bind KEY_ID --team TEAM --customer {policy.subject}. "
        "For a customer known only by customer: tags on a shared key use --scope tag_customer "
        "(alert-only)."
    )


async def put_policy(
    bootstrap: str, topics: Topics, policy: BudgetPolicy, *, actor: str | None = None
) -> None:
    """Write (create or replace) a policy; the stream applies it from its next record on.
    ``actor`` (default: this OS user) is recorded in the history."""
    await put_policies(bootstrap, topics, [policy], actor=actor)


async def put_policies(
    bootstrap: str, topics: Topics, policies: list[BudgetPolicy], *, actor: str | None = None
) -> None:
    """Write several policies over one connection, in order."""
    changes = [Change(p.policy_id, encode_one(p)) for p in policies]
    await publish_changes(bootstrap, topics.budget_policies, changes, actor=actor)


async def delete_policy(
    bootstrap: str, topics: Topics, policy_id: str, *, actor: str | None = None
) -> None:
    """Write a tombstone for ``policy_id``."""
    await publish_changes(bootstrap, topics.budget_policies, [Change(policy_id, None)], actor=actor)


async def list_policies(bootstrap: str, topics: Topics) -> list[BudgetPolicy]:
    """The current policies: the compacted topic read to its end, latest value per id."""
    latest = await read_compacted(bootstrap, topics.budget_policies)
    return [
        BudgetPolicy.model_validate_json(record.value)
        for _, record in sorted(latest.items())
        if record.value is not None
    ]


async def read_budget_status(bootstrap: str, topics: Topics) -> list[BudgetStatusRow]:
    """Every policy with the stream's latest state and its last alert (see ``status_rows``)."""
    policies = await list_policies(bootstrap, topics)
    states = {
        key: BudgetState.model_validate_json(record.value)
        for key, record in (await read_compacted(bootstrap, topics.budget_state)).items()
        if record.value is not None
    }
    alerts = {
        key: BudgetAlert.model_validate_json(record.value)
        for key, record in (await read_compacted(bootstrap, topics.budget_alerts)).items()
        if record.value is not None
    }
    return status_rows(policies, states, alerts)
