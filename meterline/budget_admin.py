"""Budget policy administration over the compacted ``meterline.budgets.policies`` topic.

The CLI (``meterline budgets``) is a thin layer over these functions; tests call them directly.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from meterline.budget_status import BudgetStatusRow, status_rows
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


async def _send(bootstrap: str, topic: str, records: list[tuple[str, bytes | None]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, client_id="meterline-budgets-admin")
    try:
        await producer.start()
        for key, value in records:
            await producer.send(topic, value, key=key.encode(), partition=0)
        await producer.flush()
    finally:
        await producer.stop()


async def put_policy(bootstrap: str, topics: Topics, policy: BudgetPolicy) -> None:
    """Write (create or replace) a policy; the stream applies it from its next record on."""
    await put_policies(bootstrap, topics, [policy])


async def put_policies(bootstrap: str, topics: Topics, policies: list[BudgetPolicy]) -> None:
    """Write several policies over one connection, in order."""
    records = [(p.policy_id, encode_one(p)) for p in policies]
    await _send(bootstrap, topics.budget_policies, records)


async def delete_policy(bootstrap: str, topics: Topics, policy_id: str) -> None:
    """Write a tombstone for ``policy_id``."""
    await _send(bootstrap, topics.budget_policies, [(policy_id, None)])


async def _latest_per_key(bootstrap: str, topic: str) -> dict[str, bytes]:
    """Partition 0 of ``topic`` read to its end: the latest value per key, tombstones removed."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        await consumer.start()
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        latest: dict[str, bytes | None] = {}
        while await consumer.position(tp) < end:
            batches = await consumer.getmany(tp, timeout_ms=500)
            for message in batches.get(tp, []):
                latest[(message.key or b"").decode()] = message.value
        return {k: v for k, v in sorted(latest.items()) if v is not None}
    finally:
        await consumer.stop()


async def list_policies(bootstrap: str, topics: Topics) -> list[BudgetPolicy]:
    """The current policies: the compacted topic read to its end, latest value per id."""
    latest = await _latest_per_key(bootstrap, topics.budget_policies)
    return [BudgetPolicy.model_validate_json(value) for value in latest.values()]


async def read_budget_status(bootstrap: str, topics: Topics) -> list[BudgetStatusRow]:
    """Every policy with the stream's latest state and its last alert (see ``status_rows``)."""
    policies = await list_policies(bootstrap, topics)
    states = {
        k: BudgetState.model_validate_json(v)
        for k, v in (await _latest_per_key(bootstrap, topics.budget_state)).items()
    }
    alerts = {
        k: BudgetAlert.model_validate_json(v)
        for k, v in (await _latest_per_key(bootstrap, topics.budget_alerts)).items()
    }
    return status_rows(policies, states, alerts)
