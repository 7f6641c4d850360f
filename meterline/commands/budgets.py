from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import click
from aiokafka.errors import KafkaError

from meterline.budget_admin import (
    PolicyInputError,
    build_policy,
    delete_policy,
    list_policies,
    put_policy,
)
from producers.config import ProducerSettings
from schemas.budgets import BudgetAction, BudgetPolicy, BudgetScope, BudgetUnit, BudgetWindow
from schemas.topics import Topics

T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T], bootstrap: str) -> T:
    try:
        return asyncio.run(coro)
    except KafkaError as exc:
        raise click.ClickException(f"cannot reach Kafka at {bootstrap}: {exc}") from exc


def _settings() -> tuple[str, Topics]:
    settings = ProducerSettings()
    return settings.kafka_bootstrap, Topics(settings.topic_prefix)


@click.group()
def budgets() -> None:
    """Budget policies: caps per key, team or owner customer over a rolling or monthly window.

    Policies live on the compacted meterline.budgets.policies topic; the stream applies a change
    from the next usage event on, and every gateway's BudgetGuard enforces `block` policies.
    """


@budgets.command("set")
@click.option(
    "--scope", type=click.Choice([s.value for s in BudgetScope]), required=True,
    help="What the cap applies to: an api key, a team, or the customer owning the key.",
)  # fmt: skip
@click.option("--subject", required=True, help="The key id, team id or customer id.")
@click.option("--limit", "limit", required=True, help="The cap, e.g. 10 or 12.50 (exact decimal).")
@click.option(
    "--unit", type=click.Choice([u.value for u in BudgetUnit]), default="usd", show_default=True
)
@click.option(
    "--window", type=click.Choice([w.value for w in BudgetWindow]), default="24h",
    show_default=True, help="Rolling 1h/24h/7d/30d, or the calendar month in UTC.",
)  # fmt: skip
@click.option(
    "--thresholds", default="50,80", show_default=True,
    help="Soft alert thresholds in percent, comma-separated ('' for none); 100 % always alerts.",
)  # fmt: skip
@click.option(
    "--action", type=click.Choice([a.value for a in BudgetAction]), default="block",
    show_default=True, help="At 100 %: block the subject's keys at every gateway, or only alert.",
)  # fmt: skip
@click.option("--id", "policy_id", default=None, help="Policy id [default: scope:subject:window].")
def set_(
    scope: str,
    subject: str,
    limit: str,
    unit: str,
    window: str,
    thresholds: str,
    action: str,
    policy_id: str | None,
) -> None:
    """Create or replace a budget policy."""
    bootstrap, topics = _settings()
    try:
        policy = build_policy(
            policy_id=policy_id or f"{scope}:{subject}:{window}",
            scope=scope,
            subject=subject,
            limit=limit,
            unit=unit,
            window=window,
            thresholds=thresholds,
            action=action,
        )
    except PolicyInputError as exc:
        raise click.UsageError(f"invalid policy: {exc}") from exc
    _run(put_policy(bootstrap, topics, policy), bootstrap)
    click.echo(f"set {policy.policy_id}: {_describe(policy)}")


@budgets.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_(as_json: bool) -> None:
    """Print the current policies."""
    bootstrap, topics = _settings()
    policies = _run(list_policies(bootstrap, topics), bootstrap)
    if not policies and not as_json:
        click.echo("no budget policies")
    for policy in policies:
        if as_json:
            click.echo(policy.model_dump_json())
        else:
            click.echo(f"{policy.policy_id:40} {_describe(policy)}")


@budgets.command("delete")
@click.argument("policy_id")
def delete(policy_id: str) -> None:
    """Delete a policy (its keys are no longer blocked from the next event on)."""
    bootstrap, topics = _settings()
    existing = {p.policy_id for p in _run(list_policies(bootstrap, topics), bootstrap)}
    if policy_id not in existing:
        raise click.ClickException(f"no budget policy {policy_id!r} (see `meterline budgets list`)")
    _run(delete_policy(bootstrap, topics, policy_id), bootstrap)
    click.echo(f"deleted {policy_id}")


def _describe(policy: BudgetPolicy) -> str:
    soft = ",".join(format(t.normalize(), "f") for t in policy.thresholds) or "none"
    return (
        f"{policy.scope.value} {policy.subject}: {format(policy.limit, 'f')} {policy.unit.value} "
        f"per {policy.window.value}, alerts at {soft} %, {policy.action.value} at 100 %"
    )
