from __future__ import annotations

import asyncio
import contextlib
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
from meterline.commands._config import print_history
from producers.config import ProducerSettings
from schemas.budgets import BudgetAction, BudgetPolicy, BudgetScope, BudgetUnit, BudgetWindow
from schemas.topics import Topics

T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T], bootstrap: str) -> T:
    try:
        return asyncio.run(coro)
    except (KafkaError, OSError, TimeoutError, LookupError) as exc:
        raise click.ClickException(f"Kafka at {bootstrap}: {exc or type(exc).__name__}") from exc


def _settings() -> tuple[str, Topics]:
    settings = ProducerSettings()
    return settings.kafka_bootstrap, Topics(settings.topic_prefix)


@click.group()
def budgets() -> None:
    """Budget policies: caps per key, team or owner customer over a rolling or monthly window.

    Policies live on the compacted meterline.budgets.policies topic; the sink records every
    change (who, when, old and new value) in ClickHouse. The stream applies a change at once
    (it re-checks the subject: a raised limit unblocks its keys), and every gateway's
    BudgetGuard enforces `block` policies.
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
@click.option(
    "--max-call-cost", default=None,
    help="USD a gateway reserves per call against a block cap [default: the call's worst case "
    "from the price book].",
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
    max_call_cost: str | None,
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
            max_call_cost=max_call_cost,
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
    """Delete a policy; keys it blocked are allowed again within a moment."""
    bootstrap, topics = _settings()
    existing = {p.policy_id for p in _run(list_policies(bootstrap, topics), bootstrap)}
    if policy_id not in existing:
        raise click.ClickException(f"no budget policy {policy_id!r} (see `meterline budgets list`)")
    _run(delete_policy(bootstrap, topics, policy_id), bootstrap)
    click.echo(f"deleted {policy_id}")


def _describe(policy: BudgetPolicy) -> str:
    soft = ",".join(format(t.normalize(), "f") for t in policy.thresholds) or "none"
    per_call = (
        f", reserves {format(policy.max_call_cost, 'f')} per call"
        if policy.max_call_cost is not None
        else ""
    )
    return (
        f"{policy.scope.value} {policy.subject}: {format(policy.limit, 'f')} {policy.unit.value} "
        f"per {policy.window.value}, alerts at {soft} %, {policy.action.value} at 100 %{per_call}"
    )


@budgets.command("history")
@click.argument("policy_id")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per change.")
def history_(policy_id: str, as_json: bool) -> None:
    """Every recorded change of POLICY_ID, oldest first, with who made it and when."""
    print_history("budgets", policy_id, as_json)


@budgets.command("notify")
def notify() -> None:
    """Deliver budget alerts to METERLINE_WEBHOOK_URL until interrupted (Ctrl-C).

    Each alert is POSTed once as JSON, signed with METERLINE_WEBHOOK_SECRET in the
    X-Meterline-Signature header (sha256=HMAC-SHA256 of the body), and retried with backoff
    until the endpoint accepts it. Delivered ids are kept in METERLINE_WEBHOOK_STATE_PATH.
    """
    from sinks.config import WebhookSettings
    from sinks.webhook import WebhookConfigError, WebhookNotifier

    settings = WebhookSettings()
    try:
        notifier = WebhookNotifier(settings)
    except WebhookConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(
        f"delivering alerts from {Topics(settings.topic_prefix).budget_alerts} to "
        f"{settings.webhook_url} (Ctrl-C to stop)"
    )
    with contextlib.suppress(KeyboardInterrupt):
        _run(notifier.run(), settings.kafka_bootstrap)
    click.echo(f"stopped: {notifier.sent} alerts delivered in {notifier.attempts} attempts")


@budgets.command("check")
@click.argument("api_key_id")
def check(api_key_id: str) -> None:
    """Ask a BudgetGuard (as a gateway would) whether API_KEY_ID may make a call now.

    Exits 0 when allowed, 3 when blocked.
    """
    from producers.config import GuardSettings
    from producers.guard_sync import SyncBudgetGuard

    with SyncBudgetGuard(GuardSettings()) as guard:
        if not guard.available:
            click.echo("warning: budget state unavailable; answering by the fail mode", err=True)
        decision = guard.check(api_key_id)
    if decision.allowed:
        click.echo(f"allowed {api_key_id}")
        return
    until = f" until {decision.blocked_until.isoformat()}" if decision.blocked_until else ""
    click.echo(f"blocked {api_key_id}{until}: {decision.reason}")
    raise SystemExit(3)
