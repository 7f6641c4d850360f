"""``make demo`` / ``meterline demo``: one simulated day of gateway traffic, end to end.

Starts the local stack (Tansu, stream worker, sink owning chDB), binds keys, sets budgets,
plays the day through the real ``UsageProducer`` while a real ``BudgetGuard`` gates every call,
waits until ClickHouse holds every event, then prints the cost report, the alerts that fired,
the invoices, the reconciliation and the margin table. Every figure printed is read back from
the store; nothing is computed on the side.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from aiokafka import AIOKafkaProducer

from meterline.budget_admin import build_policy, put_policy
from meterline.demo.scenario import (
    ACME_KEY,
    ACME_POLICY,
    ACME_SHARE_OF_DAY_AT_LIMIT,
    PLANS_YAML,
    SHARED_KEY,
    SHARED_POLICY,
    Scenario,
    build_scenario,
    malformed_records,
    revenue_csv,
)
from meterline.key_bindings import bind_key, make_binding
from meterline.local.ports import free_port
from meterline.stack import LocalStack
from producers.budget_guard import BudgetGuard
from producers.config import GuardSettings, ProducerSettings
from producers.producer import UsageProducer
from reports import (
    CostReport,
    FeatureUnitCost,
    Invoice,
    MarginReport,
    Reconciliation,
    build_invoices,
    cost_report,
    feature_report,
    margin_report,
    month_period,
    parse_plans,
    parse_revenue,
    reconcile,
)
from reports.money_format import money_plain
from reports.render import MONEY_COLUMNS, cost_rows, feature_rows, margin_rows, table_text
from schemas.usage import UsageEvent
from stream.genai_source import GenaiPriceSource

__all__ = ["run_demo"]

DEMO_ROOT = Path(".meterline/demo")
TRAFFIC_WALL_SECONDS = 20.0
ACME_BLOCK_WAIT_S = 30.0
"""Once acme's recorded calls pass its cap (at list price, as the stream prices them), the
gateway waits up to this long for the guard to see the block before the day goes on. On an idle
machine that takes about a second; on a loaded one the pipeline can lag by more than the rest of
the day's wall time, and the story would show no refusal."""
INVOICES_SHOWN = 6
MARGIN_ROWS_SHOWN = 8


@dataclass
class GatewayOutcome:
    recorded: int = 0
    unique_ids: set[str] = field(default_factory=set)
    refused: int = 0
    first_refusal: str = ""
    first_refusal_at: datetime | None = None


def _list_cost(prices: GenaiPriceSource, event: UsageEvent) -> Decimal:
    price = prices(event.provider, event.model, event.occurred_at)
    return price.cost(event.tokens) if price is not None else Decimal(0)


def _acme_limit(scenario: Scenario) -> Decimal:
    """Half of what acme's calls would cost over the day at list price, so it crosses mid-day."""
    prices = GenaiPriceSource()
    seen: set[str] = set()
    total = Decimal(0)
    for event in scenario.events:
        if event.api_key_id != ACME_KEY or event.event_id in seen:
            continue
        seen.add(event.event_id)
        total += _list_cost(prices, event)
    return (total * ACME_SHARE_OF_DAY_AT_LIMIT).quantize(Decimal("0.01"))


async def _await_block(guard: BudgetGuard, api_key_id: str, timeout: float) -> None:
    """Poll the guard until it refuses ``api_key_id`` (or ``timeout`` passes)."""
    deadline = time.monotonic() + timeout
    while guard.check(api_key_id).allowed and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


def _prepare(acme_limit: Decimal, say: Callable[[str], None]) -> Callable[[LocalStack], None]:
    def prepare(stack: LocalStack) -> None:
        now = datetime.now(UTC)

        async def publish() -> None:
            topic = stack.topics.keys
            await bind_key(stack.bootstrap, topic, make_binding(SHARED_KEY, "platform", "", now))
            await bind_key(
                stack.bootstrap, topic, make_binding(ACME_KEY, "enterprise", "acme", now)
            )
            for policy in (
                build_policy(
                    policy_id=ACME_POLICY,
                    scope="customer",
                    subject="acme",
                    limit=str(acme_limit),
                    window="24h",
                    action="block",
                    now=now,
                ),
                build_policy(
                    policy_id=SHARED_POLICY,
                    scope="key",
                    subject=SHARED_KEY,
                    limit="500",
                    window="24h",
                    action="alert",
                    now=now,
                ),
            ):
                await put_policy(stack.bootstrap, stack.topics, policy)

        asyncio.run(publish())
        say(
            f"keys       {SHARED_KEY} → team platform (customers by tag); "
            f"{ACME_KEY} → team enterprise, owner acme"
        )
        say(
            f"budgets    acme: {acme_limit} USD per rolling 24h, block at 100 % "
            f"(alerts at 50 % and 80 %); {SHARED_KEY}: 500 USD/24h, alert only"
        )

    return prepare


async def _play_day(
    stack: LocalStack,
    scenario: Scenario,
    spool: Path,
    say: Callable[[str], None],
    acme_limit: Decimal,
) -> GatewayOutcome:
    """The gateway: ask the guard, record the call, at a compressed day's pace; once acme's
    recorded spend passes its cap, wait (bounded) for the pipeline to block it."""
    producer = UsageProducer(
        ProducerSettings(
            kafka_bootstrap=stack.bootstrap,
            topic_prefix=stack.topic_prefix,
            spool_dir=spool,
        )
    )
    guard = BudgetGuard(
        GuardSettings(
            kafka_bootstrap=stack.bootstrap,
            topic_prefix=stack.topic_prefix,
            guard_start_timeout_s=10,
        )
    )
    await producer.start()
    await guard.start()
    outcome = GatewayOutcome()
    day = (scenario.end - scenario.start).total_seconds()
    began = time.monotonic()
    quarter = len(scenario.events) // 4 or 1
    prices = GenaiPriceSource()
    acme_spend, waited = Decimal(0), False
    try:
        for index, event in enumerate(scenario.events):
            if event.api_key_id == ACME_KEY and acme_spend > acme_limit and not waited:
                waited = True  # once: from here on the guard decides alone
                await _await_block(guard, ACME_KEY, ACME_BLOCK_WAIT_S)
            due = began + (event.occurred_at - scenario.start).total_seconds() / day * (
                TRAFFIC_WALL_SECONDS
            )
            # Always yield: a loop running behind schedule would otherwise never let the guard's
            # follower read the block the stream has published.
            await asyncio.sleep(max(due - time.monotonic(), 0))
            decision = guard.check(event.api_key_id)
            if not decision.allowed:
                outcome.refused += 1
                if outcome.first_refusal_at is None:
                    outcome.first_refusal_at = event.occurred_at
                    outcome.first_refusal = decision.reason
                    say(
                        f"gateway    {event.occurred_at:%H:%M} refused a call on {ACME_KEY}: "
                        f"{decision.reason}"
                    )
            else:
                producer.record(event)
                outcome.recorded += 1
                if event.api_key_id == ACME_KEY and event.event_id not in outcome.unique_ids:
                    acme_spend += _list_cost(prices, event)
                outcome.unique_ids.add(event.event_id)
            if index % quarter == quarter - 1:
                say(
                    f"traffic    {index + 1}/{len(scenario.events)} calls "
                    f"(simulated clock {event.occurred_at:%H:%M} UTC)"
                )
        await producer.flush(30)
    finally:
        await producer.stop()
        await guard.stop()
    return outcome


async def _publish_malformed(stack: LocalStack) -> int:
    records = malformed_records()
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap)
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(stack.topics.usage_raw, value, key=key.encode())
    finally:
        await producer.stop()
    return len(records)


def _wait_for(
    stack: LocalStack, sql: str, expected: int, timeout: float = 90.0, **parameters: str
) -> int:
    """Poll a count until it reaches ``expected``; returns the last count seen."""
    assert stack.sink is not None
    deadline = time.monotonic() + timeout
    while True:
        seen = int(stack.sink.client.query(sql, parameters=parameters or None).result_rows[0][0])
        if seen >= expected or time.monotonic() > deadline:
            return seen
        time.sleep(0.2)


@dataclass(frozen=True)
class Serve:
    """Keep the stack up after the story and serve the console (``demo --serve``)."""

    port: int
    token: str
    token_was_set: bool
    bootstrap: str | None = None
    """Use (or start) the broker here instead of a private one on a free port."""


def run_demo(as_json: bool = False, root: Path = DEMO_ROOT, serve: Serve | None = None) -> dict:
    """The story; with ``serve``, the stack stays up and serves the console until Ctrl-C
    (or SIGTERM) unwinds this call, which stops every process it started."""
    running: list[LocalStack] = []
    try:
        result = _story(as_json, root, serve, running)
        if serve is not None:
            _serve(running[0], serve, root)
        return result
    finally:
        for stack in running:
            stack.stop()


@contextlib.contextmanager
def _started(stack: LocalStack, keep: bool) -> Iterator[LocalStack]:
    """``with stack``, except that with ``keep`` a stack that got through the block stays up."""
    stack.start()
    try:
        yield stack
    except BaseException:
        stack.stop()
        raise
    if not keep:
        stack.stop()


def _story(as_json: bool, root: Path, serve: Serve | None, running: list[LocalStack]) -> dict:
    def say(line: str) -> None:
        if not as_json:
            click.echo(line)

    started = time.monotonic()
    say("Meterline demo — one simulated day of LLM gateway traffic, metered end to end\n")
    if root.exists():
        shutil.rmtree(root)
    now = datetime.now(UTC).replace(microsecond=0)
    scenario = build_scenario(now)
    acme_limit = _acme_limit(scenario)
    period = month_period(f"{now:%Y-%m}")
    stack = LocalStack(
        root=root,
        bootstrap=(serve and serve.bootstrap) or f"127.0.0.1:{free_port()}",
        say=say,
        prepare=_prepare(acme_limit, say),
    )
    running.append(stack)
    with _started(stack, keep=serve is not None):
        assert stack.sink is not None
        say(
            f"\nplaying {len(scenario.events)} calls from {scenario.start:%Y-%m-%d %H:%M} to "
            f"{scenario.end:%H:%M} UTC in {TRAFFIC_WALL_SECONDS:.0f} s; every call asks the "
            "BudgetGuard first"
        )
        outcome = asyncio.run(_play_day(stack, scenario, root / "spool", say, acme_limit))
        dead = asyncio.run(_publish_malformed(stack))
        say(
            f"gateway    recorded {outcome.recorded} calls ({len(outcome.unique_ids)} distinct "
            f"event ids, the rest gateway retries), refused {outcome.refused}; "
            f"plus {dead} malformed records from a buggy client"
        )

        db = stack.database
        stored = _wait_for(
            stack, f"SELECT count() FROM {db}.usage_events FINAL", len(outcome.unique_ids)
        )
        letters = _wait_for(stack, f"SELECT count() FROM {db}.dead_letters FINAL", dead)
        alerts_seen = _wait_for(
            stack,
            f"SELECT count() FROM {db}.budget_alerts FINAL WHERE policy_id = '{ACME_POLICY}'",
            3,
            timeout=30,
        )
        say(
            f"pipeline   ClickHouse holds {stored} events and {letters} dead letters "
            f"({time.monotonic() - started:.0f} s since start)\n"
        )

        client = stack.sink.client
        costs = cost_report(client, db, period, by=("customer",), top=12)
        every_customer = cost_report(client, db, period, by=("customer",))
        features = feature_report(client, db, period)
        alerts = client.query(
            f"SELECT policy_id, subject, threshold, spend, `limit`, event_id, occurred_at "
            f"FROM {db}.budget_alerts FINAL ORDER BY occurred_at, threshold"
        ).result_rows
        plans = parse_plans(PLANS_YAML)
        invoices = build_invoices(client, db, period, plans)
        billed = {i.customer: i.total for i in invoices if i.plan is not None}
        revenue_text = revenue_csv(billed)
        margins = margin_report(client, db, period, parse_revenue(revenue_text))
        ledger = reconcile(client, db, period)
        root.mkdir(parents=True, exist_ok=True)
        (root / "plans.yaml").write_text(PLANS_YAML)
        (root / "revenue.csv").write_text(revenue_text)
        (root / "invoices").mkdir(exist_ok=True)
        for invoice in invoices:
            (root / "invoices" / f"{invoice.customer}.json").write_text(
                invoice.model_dump_json(indent=2)
            )

    problems = list(ledger.problems)
    result: dict[str, Any] = {
        "period": period.label,
        "calls": len(scenario.events),
        "recorded": outcome.recorded,
        "refused_by_budget": outcome.refused,
        "events_stored": stored,
        "dead_letters": letters,
        "customers": [
            {"customer": g.group["customer"], "cost": format(g.cost, "f")}
            for g in every_customer.groups
        ],
        "total_cost": format(costs.total.cost, "f"),
        "alerts": [
            {
                "policy_id": a[0],
                "subject": a[1],
                "threshold": format(a[2], "f"),
                "spend": format(a[3], "f"),
                "limit": format(a[4], "f"),
                "event_id": a[5],
                "occurred_at": a[6].isoformat(),
            }
            for a in alerts
        ],
        "invoices": [
            {
                "customer": i.customer,
                "plan": i.plan,
                "total": format(i.total, "f"),
                "usage_cost": format(i.usage_cost, "f"),
            }
            for i in invoices
        ],
        "reconciled": ledger.reconciled,
        "reconciliation_problems": problems,
        "margins": [
            {
                "customer": r.customer,
                "revenue": None if r.revenue is None else format(r.revenue, "f"),
                "cost": format(r.cost, "f"),
                "margin": format(r.margin, "f"),
                "margin_percent": None
                if r.margin_percent is None
                else format(r.margin_percent, "f"),
                "status": r.status.value,
            }
            for r in margins.rows
        ],
        "data_dir": str(stack.paths.chdb),
        "elapsed_s": round(time.monotonic() - started, 1),
    }
    if alerts_seen < 3:
        problems.append("expected 3 acme alerts, saw " + str(alerts_seen))
    if as_json:
        click.echo(json.dumps(result))
        return result
    _print_story(result, costs, features, alerts, invoices, ledger, margins, stack, root)
    return result


def _serve(stack: LocalStack, serve: Serve, root: Path) -> None:
    """Serve the console on the demo's stack until interrupted."""
    stack.serve_api(
        serve.port,
        serve.token,
        {"METERLINE_REPORT_PLANS_FILE": str((root / "plans.yaml").resolve())},
    )
    url = f"http://127.0.0.1:{serve.port}/"
    click.echo(f"\n== The console is up: {url} ==")
    if serve.token_was_set:
        click.echo("  sign in with METERLINE_REPORT_API_TOKEN")
    else:
        click.echo(f"  token (random; set METERLINE_REPORT_API_TOKEN to fix it): {serve.token}")
    click.echo(f"  kafka {stack.bootstrap}; Ctrl-C stops everything.")
    sys.stdout.flush()
    while True:
        time.sleep(3600)


def _print_story(
    result: dict[str, Any],
    costs: CostReport,
    features: Sequence[FeatureUnitCost],
    alerts: Sequence[Sequence[Any]],
    invoices: Sequence[Invoice],
    ledger: Reconciliation,
    margins: MarginReport,
    stack: LocalStack,
    root: Path,
) -> None:
    echo = click.echo
    echo(f"== What each customer cost us in {result['period']} (sums exactly to TOTAL) ==")
    echo(table_text(cost_rows(costs), MONEY_COLUMNS))
    echo("\n== Cost versus usage per feature (the quietly expensive one is marked) ==")
    echo(table_text(feature_rows(features), MONEY_COLUMNS))
    echo("\n== Budget alerts that fired (each exactly once) ==")
    for policy_id, subject, threshold, spend, limit, event_id, occurred_at in alerts:
        echo(
            f"  {occurred_at:%H:%M} {policy_id}: {subject} reached {threshold:.0f} % "
            f"({spend:.2f} of {limit:.2f} USD) with event {event_id}"
        )
    echo(f"  → the gateway then refused {result['refused_by_budget']} of acme's calls")
    echo(
        f"\n== Invoices for {result['period']} (plans: {root / 'plans.yaml'}; each line "
        "rounded to cents once) =="
    )
    billed = sorted(invoices, key=lambda i: i.total, reverse=True)
    for invoice in billed[:INVOICES_SHOWN]:
        lines = "; ".join(f"{line.description} {line.amount}" for line in invoice.lines)
        echo(
            f"  {invoice.customer:<13} {invoice.plan or '(no plan)':<11} "
            f"total {invoice.total:>8} {invoice.currency}   {lines or invoice.warnings[0]}"
        )
    if len(billed) > INVOICES_SHOWN:
        echo(f"  … {len(billed) - INVOICES_SHOWN} more; every invoice is in {root / 'invoices'}")
    echo("\n== Reconciliation ==")
    facts = ledger.ledger
    echo(
        f"  sum of customer costs {money_plain(facts.customer_cost_sum)} == total metered "
        f"{money_plain(facts.total_cost)}: "
        f"{'OK' if facts.customer_cost_sum == facts.total_cost else 'MISMATCH'}"
    )
    echo(
        f"  events {facts.events}, duplicates collapsed {facts.rows_stored - facts.events}, "
        f"unattributed {facts.unattributed_events}, unpriced {facts.unpriced_events}, "
        f"dead letters {facts.dead_letters}"
        + "".join(f", {kind} {n}" for kind, n in facts.dead_letters_by_kind.items())
    )
    echo(f"  reconciled: {'YES' if ledger.reconciled else 'NO — ' + '; '.join(ledger.problems)}")
    echo(f"\n== Gross margin per account (revenue from {root / 'revenue.csv'}) ==")
    rows = margin_rows(margins)
    # The biggest accounts (by cost to serve), in the report's order: worst margin first.
    accounts, total = rows[:-1], rows[-1]
    by_cost = sorted(accounts, key=lambda r: r["cost"], reverse=True)
    biggest = {id(r) for r in by_cost[:MARGIN_ROWS_SHOWN]}
    shown = [r for r in accounts if id(r) in biggest] + [total]
    echo(table_text(shown, ("revenue", "cost", "margin")))
    if len(rows) > MARGIN_ROWS_SHOWN + 1:
        echo(
            f"  (the {MARGIN_ROWS_SHOWN} biggest accounts by cost; "
            f"{len(rows) - MARGIN_ROWS_SHOWN - 1} more in the total; "
            "`meterline margin` lists all)"
        )
    if margins.cost_without_revenue:
        echo(f"  cost but no revenue: {', '.join(margins.cost_without_revenue)}")
    if margins.revenue_without_usage:
        echo(f"  revenue but no usage: {', '.join(margins.revenue_without_usage)}")
    echo("\n== Where the data lives ==")
    echo(f"  ClickHouse (embedded chDB): {result['data_dir']}, database {stack.database}")
    echo(
        f"  Query it: METERLINE_CLICKHOUSE_URL=chdb://{Path(result['data_dir']).resolve()} "
        f'meterline sql "SELECT customer, sum(cost) FROM {stack.database}.usage_events FINAL '
        'GROUP BY customer ORDER BY 2 DESC"'
    )
    echo("  Run the stack yourself: meterline up   (then meterline report cost: this month)")
    echo(f"\ndemo finished in {result['elapsed_s']} s")
