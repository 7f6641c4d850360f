"""The cost report: cost, computed cost, requests and tokens per group, with an exact total.

Reads ``usage_events FINAL`` so a duplicate ``event_id`` counts once. The total comes from its
own query over the same filter; the groups (with ``--top``'s "other" group) sum to it exactly,
``unattributed`` being a customer group like any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from reports._sql import PERIOD_FILTER, QueryClient, checked_database, period_parameters, rows
from reports.errors import ReportError
from reports.periods import TimeRange
from reports.rerate import as_of_source
from reports.unit_costs import FeatureUnitCost, unit_costs
from schemas import UNATTRIBUTED

__all__ = [
    "DIMENSIONS",
    "NO_FEATURE",
    "NO_OWNER",
    "OTHER",
    "OWNER_MISMATCH",
    "CostFilter",
    "CostGroup",
    "CostReport",
    "Usage",
    "cost_report",
    "feature_report",
]

NO_OWNER = "(no owner)"
"""How ``--by owner`` labels events whose key is bound to no customer (shared or unbound)."""

DIMENSIONS: dict[str, str] = {
    "customer": "customer",
    "feature": "feature",
    "model": "model",
    "provider": "provider",
    "team": "team_id",
    "key": "api_key_id",
    "day": "toDate(occurred_at)",
    "owner": f"if(owner_customer = '', '{NO_OWNER}', owner_customer)",
}
"""``--by`` names and the column (expression) each groups by. ``customer`` is the event's
``customer:`` tag (the books); ``owner`` the customer its key is bound to (budgets)."""

OWNER_MISMATCH = (
    "owner_customer != '' AND customer != owner_customer AND customer != {unattributed:String}"
)
"""A call tagged for one customer on a key bound to another."""

OTHER = "(other)"
NO_FEATURE = "(none)"
"""How the feature view labels events without a ``feature:`` tag."""

_MEASURES = """
    sum(cost) AS cost,
    sum(computed_cost) AS computed_cost,
    count() AS requests,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens"""


class Usage(BaseModel):
    """Measures of a set of events. Tokens by type as in ``TokenCounts`` (reasoning is part of
    output)."""

    model_config = ConfigDict(frozen=True)

    cost: Decimal = Decimal(0)
    computed_cost: Decimal = Decimal(0)
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
        )

    def __add__(self, other: Usage) -> Usage:
        return Usage(**{f: getattr(self, f) + getattr(other, f) for f in Usage.model_fields})


class CostGroup(Usage):
    group: dict[str, str]
    """Dimension name → value, in ``by`` order."""


class CostFilter(BaseModel):
    """Filters on top of the time range: an exact customer, and tags every event must carry."""

    model_config = ConfigDict(frozen=True)

    customer: str | None = None
    tags: tuple[str, ...] = ()
    owner: str | None = None
    """Only events whose key is bound to this owner customer."""


class CostReport(BaseModel):
    """Groups sorted by cost, highest first. With ``top``, groups past the top N are folded
    into one group whose values are ``(other)``; ``other_groups`` says how many."""

    model_config = ConfigDict(frozen=True)

    range: str
    by: tuple[str, ...]
    groups: tuple[CostGroup, ...]
    total: Usage
    other_groups: int = 0
    owner_mismatch_events: int = 0
    """Calls in the report tagged ``customer:X`` on a key bound to another owner customer."""
    owner_mismatch_cost: Decimal = Decimal(0)


def _where(period: TimeRange, flt: CostFilter) -> tuple[str, dict[str, Any]]:
    clauses = [PERIOD_FILTER]
    params = period_parameters(period)
    if flt.customer is not None:
        clauses.append("customer = {customer:String}")
        params["customer"] = flt.customer
    if flt.owner is not None:
        clauses.append("owner_customer = {owner:String}")
        params["owner"] = flt.owner
    if flt.tags:
        clauses.append("hasAll(tags, {tags:Array(String)})")
        params["tags"] = list(flt.tags)
    return " AND ".join(clauses), params


def _usage(row: dict[str, Any]) -> dict[str, Any]:
    return {f: row[f] for f in Usage.model_fields}


def _value(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def cost_report(
    client: QueryClient,
    database: str,
    period: TimeRange,
    by: Sequence[str] = ("customer",),
    flt: CostFilter | None = None,
    top: int | None = None,
    as_of: datetime | None = None,
) -> CostReport:
    """Cost per group of ``by`` (names from ``DIMENSIONS``) in ``period``; raises
    ``ReportError`` for an unknown dimension or a ``top`` below 1. Events carry their latest
    rating; with ``as_of``, the books as they stood then (see ``reports.rerate``)."""
    db = checked_database(database)
    dims = tuple(dict.fromkeys(by))
    unknown = [d for d in dims if d not in DIMENSIONS]
    if not dims or unknown:
        raise ReportError(
            f"--by must name one or more of {', '.join(DIMENSIONS)}; got {', '.join(by) or '—'}"
        )
    if top is not None and top < 1:
        raise ReportError("--top must be at least 1")
    where, params = _where(period, flt or CostFilter())
    source = f"{db}.usage_events FINAL"
    if as_of is not None:
        source, params = as_of_source(db), {**params, "as_of": as_of}
    select = ", ".join(f"{DIMENSIONS[d]} AS g{i}" for i, d in enumerate(dims))
    group_by = ", ".join(f"g{i}" for i in range(len(dims)))
    grouped = rows(
        client,
        f"SELECT {select}, {_MEASURES} FROM {source} WHERE {where} "
        f"GROUP BY {group_by} ORDER BY cost DESC, {group_by}",
        params,
    )
    (total_row,) = rows(client, f"SELECT {_MEASURES} FROM {source} WHERE {where}", params)
    (mismatch,) = rows(
        client,
        f"SELECT count() AS events, sum(cost) AS cost FROM {db}.usage_events FINAL "
        f"WHERE {where} AND {OWNER_MISMATCH}",
        {**params, "unattributed": UNATTRIBUTED},
    )
    groups = [
        CostGroup(group={d: _value(r[f"g{i}"]) for i, d in enumerate(dims)}, **_usage(r))
        for r in grouped
    ]
    other = 0
    if top is not None and len(groups) > top:
        rest = groups[top:]
        other = len(rest)
        folded = sum((Usage(**g.model_dump(exclude={"group"})) for g in rest), Usage())
        groups = [*groups[:top], CostGroup(group=dict.fromkeys(dims, OTHER), **folded.model_dump())]
    return CostReport(
        range=period.label,
        by=dims,
        groups=tuple(groups),
        total=Usage(**_usage(total_row)),
        other_groups=other,
        owner_mismatch_events=mismatch["events"],
        owner_mismatch_cost=mismatch["cost"],
    )


def feature_report(
    client: QueryClient, database: str, period: TimeRange, flt: CostFilter | None = None
) -> tuple[FeatureUnitCost, ...]:
    """Cost versus usage per feature (see ``unit_costs``), most expensive per request first."""
    report = cost_report(client, database, period, by=("feature",), flt=flt)
    return unit_costs(
        [(g.group["feature"] or NO_FEATURE, g.cost, g.requests, g.tokens) for g in report.groups]
    )
