"""What each console page shows.

Figures come through ``Figures``: the ``usage_daily`` rollup where it provably equals
``usage_events FINAL`` for the period, else the exact reports (``cost_report``,
``feature_report``, ``build_invoices``); either way a page says what the CLI and the API say.
Margins, unit costs and invoices use the same pure rules as those reports
(``compute_margins``, ``unit_costs``, ``build_invoice``); the reconciliation is ``reconcile``.
Charts of cost over days read the rollup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from reports._sql import QueryClient, checked_database, rows
from reports.console.figures import Figures, Series
from reports.console.live import BudgetRow, LiveSnapshot, budget_rows, rows_for, worst_status
from reports.cost import NO_FEATURE, CostGroup, CostReport
from reports.csv_inputs import BillLine
from reports.invoice_math import Invoice
from reports.margin import MarginReport, MarginRow, compute_margins
from reports.periods import TimeRange
from reports.plans import PlansFile
from reports.reconcile import DEFAULT_TOLERANCE, Reconciliation, reconcile
from reports.unit_costs import FeatureUnitCost, unit_costs
from schemas.budgets import BudgetStatus

__all__ = [
    "CustomerPage",
    "CustomerRow",
    "FeatureRow",
    "Overview",
    "budget_alerts",
    "customer_names",
    "customer_page",
    "customers_table",
    "dead_letters",
    "feature_table",
    "overview",
    "window_spend",
]

RECONCILE_MAX_AGE_S = 60.0
"""The overview's verdict may be this old while the month is being written."""
TOP_CUSTOMERS_CHART = 5
TOP_CUSTOMERS_TABLE = 10
RECENT_ALERTS = 50
RECENT_DEAD_LETTERS = 100


@dataclass(frozen=True)
class Overview:
    costs: CostReport
    top: tuple[CostGroup, ...]
    revenue: Decimal | None
    margin: MarginReport | None
    reconciliation: Reconciliation
    reconciled_at: datetime
    reconciled_rows: int
    standout: FeatureUnitCost | None
    daily: Series
    source: str


def _revenue(invoices: Sequence[Invoice]) -> dict[str, Decimal]:
    return {i.customer: i.total for i in invoices if i.plan is not None}


def _margins(costs: CostReport, plans: PlansFile | None, invoices: Sequence[Invoice]) -> Any:
    if plans is None:
        return None
    cost = {g.group["customer"]: g.cost for g in costs.groups}
    return compute_margins(costs.range, cost, _revenue(invoices))


def overview(figures: Figures, period: TimeRange, plans: PlansFile | None) -> Overview:
    """Totals, top customers, the reconciliation verdict, the stand-out feature and daily cost
    stacked by the top customers. Revenue is what the configured plans invoice."""
    now = figures.at(period)
    costs = now.cost(("customer",))
    invoices = now.invoices(plans) if plans is not None else []
    margin = _margins(costs, plans, invoices)
    checked = now.recent_reconciliation(RECONCILE_MAX_AGE_S)
    standouts = [f for f in now.features() if f.stands_out]
    standouts.sort(
        key=lambda f: -(f.cost_share_percent / (f.request_share_percent or Decimal("0.01")))
    )
    top_names = [g.group["customer"] for g in costs.groups[:TOP_CUSTOMERS_CHART]]
    return Overview(
        costs=costs,
        top=costs.groups[:TOP_CUSTOMERS_TABLE],
        revenue=margin.total_revenue if margin is not None else None,
        margin=margin,
        reconciliation=checked[1],
        reconciled_at=datetime.fromtimestamp(checked[0], UTC),
        reconciled_rows=checked[2],
        standout=standouts[0] if standouts else None,
        daily=now.daily("customer", keep=top_names),
        source=now.source,
    )


@dataclass(frozen=True)
class CustomerRow:
    customer: str
    cost: Decimal
    requests: int
    tokens: int
    revenue: Decimal | None
    margin: Decimal | None
    margin_percent: Decimal | None
    budget: BudgetStatus | None


SORT_KEYS = ("customer", "cost", "requests", "tokens", "revenue", "margin", "margin_percent")


def customers_table(
    figures: Figures,
    period: TimeRange,
    plans: PlansFile | None,
    live: LiveSnapshot | None,
    query: str = "",
    sort: str = "cost",
    descending: bool = True,
) -> list[CustomerRow]:
    """Every customer with usage in ``period`` (and every planned one), filtered by a
    case-insensitive substring of its id and sorted by ``sort`` (one of ``SORT_KEYS``)."""
    now = figures.at(period)
    costs = now.cost(("customer",))
    invoices = now.invoices(plans) if plans is not None else []
    margin = _margins(costs, plans, invoices)
    by_margin: dict[str, MarginRow] = {r.customer: r for r in margin.rows} if margin else {}
    used = {g.group["customer"]: g for g in costs.groups}
    budgets = budget_rows(live) if live is not None else []
    bindings = live.bindings if live is not None else ()
    out = []
    for customer in sorted(set(used) | set(by_margin)):
        if query and query.lower() not in customer.lower():
            continue
        g = used.get(customer)
        m = by_margin.get(customer)
        keys = [b.api_key_id for b in bindings if b.owner_customer == customer]
        out.append(
            CustomerRow(
                customer=customer,
                cost=g.cost if g else Decimal(0),
                requests=g.requests if g else 0,
                tokens=g.tokens if g else 0,
                revenue=m.revenue if m else None,
                margin=m.margin if m else None,
                margin_percent=m.margin_percent if m else None,
                budget=worst_status(rows_for(budgets, customer, keys, ())),
            )
        )
    key = sort if sort in SORT_KEYS else "cost"
    present = [r for r in out if getattr(r, key) is not None]
    missing = [r for r in out if getattr(r, key) is None]
    present.sort(key=lambda r: (getattr(r, key), r.customer), reverse=descending)
    return present + missing


@dataclass(frozen=True)
class CustomerPage:
    customer: str
    total: CostReport
    by_feature: CostReport
    by_model: CostReport
    keys: CostReport
    bound_keys: list[Any]
    budgets: list[BudgetRow]
    alerts: list[dict[str, Any]]
    invoice: Invoice | None
    daily_feature: Series
    daily_model: Series
    live: LiveSnapshot | None = None
    source: str = "usage_events FINAL"


def customer_page(
    figures: Figures,
    period: TimeRange,
    customer: str,
    plans: PlansFile | None,
    live: LiveSnapshot | None,
    own_only: bool = False,
) -> CustomerPage:
    """One customer: cost by feature, model, key and team; its budgets and alerts; its invoice
    preview under the plans. Budgets and alerts cover the customer, its keys and its teams;
    with ``own_only`` (a share link) only the customer and the keys it owns, since a shared
    key's or a team's spend includes other customers'."""
    now = figures.at(period)
    keys = now.cost(("key", "team"), customer)
    bound = [b for b in (live.bindings if live else ()) if b.owner_customer == customer]
    key_ids = {b.api_key_id for b in bound}
    teams: set[str] = set()
    if not own_only:
        key_ids |= {g.group["key"] for g in keys.groups}
        teams = {g.group["team"] for g in keys.groups} | {b.team_id for b in bound}
    spend = window_spend(figures.client, figures.db, live) if live else None
    budgets = rows_for(budget_rows(live, spend), customer, key_ids, teams) if live else []
    subjects = sorted({customer} | {k for k in key_ids if k} | {t for t in teams if t})
    by_feature = now.cost(("feature",), customer)
    return CustomerPage(
        customer=customer,
        total=by_feature,
        by_feature=by_feature,
        by_model=now.cost(("model",), customer),
        keys=keys,
        bound_keys=bound,
        budgets=budgets,
        alerts=budget_alerts(figures.client, figures.db, subjects),
        invoice=now.invoice(customer, plans) if plans is not None else None,
        daily_feature=now.daily("feature", customer=customer),
        daily_model=now.daily("model", customer=customer),
        live=live,
        source=now.source,
    )


def budget_alerts(
    client: QueryClient, database: str, subjects: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """The most recent alerts (of ``subjects`` only, when given), newest first."""
    db = checked_database(database)
    where, params = "", {}
    if subjects is not None:
        where, params = "WHERE subject IN {subjects:Array(String)}", {"subjects": list(subjects)}
    return rows(
        client,
        f"SELECT alert_id, policy_id, toString(scope) AS scope, subject, threshold, spend, "
        f"`limit`, toString(unit) AS unit, toString(window) AS window, event_id, occurred_at, "
        f"emitted_at FROM {db}.budget_alerts FINAL {where} "
        f"ORDER BY emitted_at DESC, threshold DESC LIMIT {RECENT_ALERTS}",
        params,
    )


_SUBJECT_COLUMN = {"key": "api_key_id", "team": "team_id", "customer": "owner_customer"}
_UNIT_AMOUNT = {
    "usd": "cost",
    "tokens": "input_tokens + output_tokens + cache_read_tokens + cache_write_tokens",
    "requests": "1",
}


def window_spend(client: QueryClient, database: str, live: LiveSnapshot) -> dict[str, Decimal]:
    """Each live policy's spend in its current window from the stored events
    (``usage_events FINAL``), charged by the key binding as the stream charges it."""
    db = checked_database(database)
    policies = [p for p in live.policies if p.policy_id in live.window_starts]
    if not policies:
        return {}
    params: dict[str, Any] = {"since": min(live.window_starts[p.policy_id] for p in policies)}
    sums = []
    for i, p in enumerate(policies):
        params[f"s{i}"], params[f"t{i}"] = p.subject, live.window_starts[p.policy_id]
        sums.append(
            f"sumIf(toDecimal128({_UNIT_AMOUNT[p.unit.value]}, 12), "
            f"{_SUBJECT_COLUMN[p.scope.value]} = {{s{i}:String}} "
            f"AND occurred_at >= {{t{i}:DateTime64(3, 'UTC')}}) AS p{i}"
        )
    (row,) = rows(
        client,
        f"SELECT {', '.join(sums)} FROM {db}.usage_events FINAL "
        "WHERE occurred_at >= {since:DateTime64(3, 'UTC')}",
        params,
    )
    return {p.policy_id: row[f"p{i}"] for i, p in enumerate(policies)}


def dead_letters(
    client: QueryClient, database: str, period: TimeRange
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The period's most recent dead letters (newest first) and their count per kind."""
    db = checked_database(database)
    params = {"start": period.start, "end": period.end}
    where = (
        "received_at >= {start:DateTime64(3, 'UTC')} AND received_at < {end:DateTime64(3, 'UTC')}"
    )
    recent = rows(
        client,
        f"SELECT dead_letter_id, received_at, toString(error_kind) AS kind, reason, "
        f"source_topic, partition, offset, event_id, api_key_id, substring(raw, 1, 300) AS raw "
        f"FROM {db}.dead_letters FINAL WHERE {where} "
        f"ORDER BY received_at DESC, dead_letter_id LIMIT {RECENT_DEAD_LETTERS}",
        params,
    )
    kinds = rows(
        client,
        f"SELECT toString(error_kind) AS kind, count() AS n FROM {db}.dead_letters FINAL "
        f"WHERE {where} GROUP BY kind ORDER BY n DESC, kind",
        params,
    )
    return recent, {k["kind"]: int(k["n"]) for k in kinds}


@dataclass(frozen=True)
class FeatureRow:
    unit: FeatureUnitCost
    top_customer: str
    top_customer_cost: Decimal


def feature_table(
    figures: Figures, period: TimeRange, customer: str | None = None
) -> list[FeatureRow]:
    """``feature_report`` (of one customer's usage, when given) with the customer that spends
    most on each feature."""
    now = figures.at(period)
    if customer is None:
        features = now.features()
    else:
        report = now.cost(("feature",), customer)
        features = unit_costs(
            [
                (g.group["feature"] or NO_FEATURE, g.cost, g.requests, g.tokens)
                for g in report.groups
            ]
        )
    pairs = now.cost(("feature", "customer"), customer)
    top: dict[str, CostGroup] = {}
    for g in pairs.groups:  # sorted by cost, highest first
        top.setdefault(g.group["feature"] or NO_FEATURE, g)
    return [
        FeatureRow(
            unit=f,
            top_customer=top[f.feature].group["customer"] if f.feature in top else "",
            top_customer_cost=top[f.feature].cost if f.feature in top else Decimal(0),
        )
        for f in features
    ]


def customer_names(figures: Figures, period: TimeRange) -> list[str]:
    """Customers with usage in ``period``, by cost, highest first."""
    return [g.group["customer"] for g in figures.at(period).cost(("customer",)).groups]


def reconcile_with_bill(
    client: QueryClient, database: str, period: TimeRange, bill: Sequence[BillLine] | None
) -> Reconciliation:
    return reconcile(client, database, period, bill, DEFAULT_TOLERANCE)
