from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Coroutine
from decimal import Decimal
from typing import Any, TypeVar

import click
from aiokafka.errors import KafkaError

from meterline.budget_admin import (
    PolicyInputError,
    build_policy,
    default_action,
    delete_policy,
    list_policies,
    put_policy,
    read_budget_status,
    unbound_customer_warning,
)
from meterline.budget_status import BudgetStatusRow
from meterline.commands._config import print_history
from producers.config import ProducerSettings
from reports.money_format import money_text
from reports.render import jsonable, table_text
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
    help="What the cap applies to: an api key, a team, the customer owning the key (customer), "
    "or a customer: tag on shared keys (tag_customer, alert-only).",
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
    "--action", type=click.Choice([a.value for a in BudgetAction]), default=None,
    help="At 100 %: block the subject's keys at every gateway, or only alert "
    "[default: block; alert for tag_customer, which never blocks].",
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
    action: str | None,
    max_call_cost: str | None,
    policy_id: str | None,
) -> None:
    """Create or replace a budget policy.

    A customer budget follows the customer that owns the key (meterline keys bind ...
    --customer); it warns when no key is bound to that customer yet.
    """
    bootstrap, topics = _settings()
    action = action or default_action(scope)
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
    if policy.scope is BudgetScope.CUSTOMER:
        from meterline.key_bindings import list_bindings

        try:
            bindings = asyncio.run(list_bindings(bootstrap, topics.keys))
        except (KafkaError, OSError, TimeoutError, LookupError) as exc:
            click.echo(f"warning: could not read the key bindings to check: {exc}", err=True)
            return
        warning = unbound_customer_warning(policy, bindings)
        if warning:
            click.echo(warning, err=True)


@budgets.command("list")
@click.option("--json", "as_json", is_flag=True, help="The policies, one JSON object per line.")
def list_(as_json: bool) -> None:
    """Print the current policies with where each stands (as `budgets status`)."""
    bootstrap, topics = _settings()
    if as_json:
        for policy in _run(list_policies(bootstrap, topics), bootstrap):
            click.echo(policy.model_dump_json())
        return
    _print_status(_run(read_budget_status(bootstrap, topics), bootstrap))


@budgets.command("status")
@click.argument("subject", required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def status(subject: str | None, as_json: bool) -> None:
    """Spend, limit, %, state, reset time and last alert of every policy (or of the policies
    whose subject or id is SUBJECT), most used first. State is the stream's: ok, warning
    (a soft threshold crossed), exceeded, or "no spend yet"."""
    bootstrap, topics = _settings()
    rows = _run(read_budget_status(bootstrap, topics), bootstrap)
    if subject is not None:
        rows = [r for r in rows if subject in (r.subject, r.policy_id)]
    if as_json:
        for row in rows:
            click.echo(json.dumps(jsonable(row)))
        return
    _print_status(rows)


def _amount(value: Decimal, unit: str) -> str:
    return money_text(value) if unit == BudgetUnit.USD else format(value.normalize(), "f")


def _print_status(rows: list[BudgetStatusRow]) -> None:
    if not rows:
        click.echo("no budget policies (add one: meterline budgets set --help)")
        return
    table = [
        {
            "policy": r.policy_id,
            "subject": f"{r.scope} {r.subject}",
            "window": r.window,
            "action": r.action,
            "spend": _amount(r.spend, r.unit),
            "limit": f"{_amount(r.limit, r.unit)} {r.unit}",
            "used": f"{r.percent} %",
            "state": r.state,
            "resets_at": r.resets_at.strftime("%Y-%m-%d %H:%M UTC") if r.resets_at else "-",
            "last_alert": r.last_alert or "-",
        }
        | (
            {"reserves_per_call": "-" if r.max_call_cost is None else money_text(r.max_call_cost)}
            if any(row.max_call_cost is not None for row in rows)
            else {}
        )
        for r in rows
    ]
    click.echo(table_text(table))


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


UNREACHABLE_EXIT = 4
"""``budgets check`` exit status when the broker cannot be reached (0 allowed, 3 blocked)."""


def _reachable(bootstrap: str, timeout: float) -> bool:
    """Whether any bootstrap server accepts a TCP connection within ``timeout`` seconds."""
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout):
                return True
        except (OSError, ValueError):
            continue
    return False


@budgets.command("check")
@click.argument("api_key_id")
def check(api_key_id: str) -> None:
    """Ask a BudgetGuard (as a gateway would) whether API_KEY_ID may make a call now, and show
    the budgets over the key, its team and its owner customer.

    Exits 0 when allowed, 3 when blocked, 4 when the broker cannot be reached within
    METERLINE_GUARD_START_TIMEOUT_S (the answer would then be a guess).
    """
    from producers.config import GuardSettings
    from producers.guard_sync import SyncBudgetGuard

    settings = GuardSettings()
    unreachable = (
        f"cannot reach the broker at {settings.kafka_bootstrap}: budget state unknown (a "
        f"gateway would answer by its fail mode, {settings.guard_fail_mode}). Is `meterline up` "
        "running?"
    )
    if not _reachable(settings.kafka_bootstrap, min(2.0, settings.guard_start_timeout_s)):
        click.echo(unreachable, err=True)
        raise SystemExit(UNREACHABLE_EXIT)
    with SyncBudgetGuard(settings) as guard:
        if not guard.available:
            click.echo(unreachable, err=True)
            raise SystemExit(UNREACHABLE_EXIT)
        decision = guard.check(api_key_id)
    if decision.allowed:
        click.echo(f"allowed {api_key_id}")
    else:
        until = f" until {decision.blocked_until.isoformat()}" if decision.blocked_until else ""
        click.echo(f"blocked {api_key_id}{until}: {decision.reason}")
    _print_key_budgets(api_key_id, settings.kafka_bootstrap, Topics(settings.topic_prefix))
    if not decision.allowed:
        raise SystemExit(3)


def _print_key_budgets(api_key_id: str, bootstrap: str, topics: Topics) -> None:
    from meterline.key_bindings import list_bindings

    try:
        bindings = asyncio.run(list_bindings(bootstrap, topics.keys))
        rows = asyncio.run(read_budget_status(bootstrap, topics))
    except (KafkaError, OSError, TimeoutError, LookupError) as exc:
        click.echo(f"(budget status unavailable: {exc})", err=True)
        return
    binding = next((b for b in bindings if b.api_key_id == api_key_id), None)
    subjects = {(BudgetScope.KEY.value, api_key_id)}
    if binding is not None:
        subjects |= {(BudgetScope.TEAM.value, binding.team_id),
                     (BudgetScope.CUSTOMER.value, binding.owner_customer)}  # fmt: skip
    mine = [r for r in rows if (r.scope, r.subject) in subjects]
    if mine:
        _print_status(mine)
    else:
        click.echo(f"no budget covers {api_key_id}, its team or its owner customer")
