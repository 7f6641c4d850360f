"""Where the console's figures come from: the ``usage_daily`` rollup when it provably equals
``usage_events FINAL`` for the period, the exact reports over ``usage_events FINAL`` otherwise.

The rollup is kept by a materialized view over every insert into ``usage_events``, so it equals
the base table as long as no event was stored twice (the sink skips stored ids, see README) — a
duplicate that arrived some other way is hidden by ``FINAL`` but summed by the rollup. So, per
period and per state of the store:

1. ``rows`` (raw rows in the period) must equal the rollup's ``sum(requests)``, two cheap
   queries run on every page; and
2. the period must hold no event id twice (``count() = uniqExact(event_id)``): a full scan
   once, then, while only rows are added, a check of the rows inserted since the last audit
   (their ids unique and new), once per state of the store (row count and last insert time).

When both hold, a page reads the rollup; else it runs the FINAL reports. Every figure is
remembered per period and state of the store (``PeriodFigures``): a page of a month that no
longer changes costs one cheap query; a page of a month still being written recomputes after
each insert.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from reports._sql import PERIOD_FILTER, QueryClient, checked_database, period_parameters, rows
from reports.cost import (
    NO_FEATURE,
    CostFilter,
    CostGroup,
    CostReport,
    Usage,
    cost_report,
)
from reports.invoice_math import Invoice, ModelUsage, build_invoice
from reports.invoices import build_invoices, usage_by_customer_model
from reports.periods import TimeRange
from reports.plans import PlansFile
from reports.reconcile import Reconciliation, reconcile
from reports.unit_costs import FeatureUnitCost, unit_costs

__all__ = ["Figures", "PeriodFigures", "Series", "StoreAudit", "StoreState"]

T = TypeVar("T")

_ROLLUP_COLUMNS = {
    "customer": "customer",
    "feature": "toString(feature)",
    "model": "toString(model)",
    "provider": "toString(provider)",
    "team": "team_id",
    "key": "api_key_id",
    "day": "day",
}
_ROLLUP_MEASURES = """
    sum(cost) AS cost, sum(computed_cost) AS computed_cost, sum(requests) AS requests,
    sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens, sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens"""
_DAYS = "day >= {first:Date} AND day < {end:Date}"
_MEMO_SIZE = 64


@dataclass(frozen=True)
class StoreState:
    """What identifies the period's data: raw rows, last insert, rollup requests, dead letters."""

    rows: int
    last_insert: datetime | None
    rollup_requests: int
    dead_letters: int

    @property
    def rollup_counts_match(self) -> bool:
        return self.rows == self.rollup_requests


@dataclass(frozen=True)
class Series:
    """Cost per day (labels) per name (datasets), for a stacked chart."""

    labels: list[str]
    datasets: dict[str, list[str]]
    """Name → cost per label as exact decimal strings."""


@dataclass(frozen=True)
class StoreAudit:
    """The last duplicate audit of a period: how many rows it covered, up to which insert."""

    rows: int
    last_insert: datetime | None
    unique: bool


def _days(period: TimeRange) -> dict[str, Any]:
    return {"first": period.start.date(), "end": period.end.date()}


def _value(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


class Figures:
    """Page figures for one store; thread-safe (its memo is locked)."""

    def __init__(self, client: QueryClient, database: str) -> None:
        self.client = client
        self.db = checked_database(database)
        self._memo: OrderedDict[Hashable, Any] = OrderedDict()
        self._audits: dict[str, StoreAudit] = {}
        self._checked: dict[str, tuple[float, Reconciliation, int]] = {}
        self._lock = threading.Lock()

    def _remember(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key]
        value = compute()
        with self._lock:
            self._memo[key] = value
            while len(self._memo) > _MEMO_SIZE:
                self._memo.popitem(last=False)
        return value

    def state(self, period: TimeRange) -> StoreState:
        params = {**period_parameters(period), **_days(period)}
        (row,) = rows(
            self.client,
            f"SELECT (SELECT count() FROM {self.db}.usage_events WHERE {PERIOD_FILTER}) AS rows, "
            f"(SELECT max(inserted_at) FROM {self.db}.usage_events WHERE {PERIOD_FILTER}) "
            f"AS last_insert, (SELECT sum(requests) FROM {self.db}.usage_daily WHERE {_DAYS}) "
            f"AS rollup_requests, (SELECT count() FROM {self.db}.dead_letters "
            "WHERE received_at >= {start:DateTime64(3, 'UTC')} "
            "AND received_at < {end:DateTime64(3, 'UTC')}) AS dead_letters",
            params,
        )
        return StoreState(
            rows=int(row["rows"]),
            last_insert=row["last_insert"] if row["rows"] else None,
            rollup_requests=int(row["rollup_requests"] or 0),
            dead_letters=int(row["dead_letters"]),
        )

    def rollup_is_exact(self, period: TimeRange, state: StoreState) -> bool:
        """Whether ``usage_daily`` equals ``usage_events FINAL`` for ``period`` (see module)."""
        if not state.rollup_counts_match:
            return False
        return self._remember(("unique", period.label, state), lambda: self._audit(period, state))

    def _audit(self, period: TimeRange, state: StoreState) -> bool:
        """No event id twice in ``period``: checked for the rows inserted since the last audit
        when it passed and only rows were added since, else over the whole period."""
        with self._lock:
            last = self._audits.get(period.label)
        unique = None
        if (
            last is not None
            and last.unique
            and last.last_insert is not None
            and state.last_insert is not None
            and state.rows > last.rows
            and state.last_insert > last.last_insert
        ):
            unique = self._new_rows_unique(period, last.last_insert, state.rows - last.rows)
        if unique is None:
            (row,) = rows(
                self.client,
                f"SELECT count() = uniqExact(event_id) AS unique FROM {self.db}.usage_events "
                f"WHERE {PERIOD_FILTER}",
                period_parameters(period),
            )
            unique = bool(row["unique"])
        with self._lock:
            self._audits[period.label] = StoreAudit(state.rows, state.last_insert, unique)
        return unique

    def _new_rows_unique(self, period: TimeRange, since: datetime, expected: int) -> bool | None:
        """Whether the rows inserted after ``since`` carry ids unique among themselves and new
        to the period; ``None`` when they are not exactly ``expected`` rows (then the caller
        audits the whole period). The event_id bloom filter keeps the lookup cheap."""
        params = {**period_parameters(period), "since": since}
        new = f"{PERIOD_FILTER} AND inserted_at > {{since:DateTime64(3, 'UTC')}}"
        (row,) = rows(
            self.client,
            f"SELECT count() AS new_rows, uniqExact(event_id) AS new_ids, "
            f"(SELECT count() FROM {self.db}.usage_events WHERE {PERIOD_FILTER} AND event_id IN "
            f"(SELECT event_id FROM {self.db}.usage_events WHERE {new})) AS matching "
            f"FROM {self.db}.usage_events WHERE {new}",
            params,
        )
        if int(row["new_rows"]) != expected:
            return None
        return int(row["new_ids"]) == expected == int(row["matching"])

    def cost(
        self,
        period: TimeRange,
        by: Sequence[str],
        exact_rollup: bool,
        customer: str | None = None,
    ) -> CostReport:
        """``cost_report`` (same groups, order and total), from the rollup when it is exact."""
        if not exact_rollup:
            flt = CostFilter(customer=customer)
            return cost_report(self.client, self.db, period, by=by, flt=flt)
        dims = tuple(dict.fromkeys(by))
        select = ", ".join(f"{_ROLLUP_COLUMNS[d]} AS g{i}" for i, d in enumerate(dims))
        group_by = ", ".join(f"g{i}" for i in range(len(dims)))
        where, params = _DAYS, _days(period)
        if customer is not None:
            where += " AND customer = {customer:String}"
            params["customer"] = customer
        found = rows(
            self.client,
            f"SELECT {select}, {_ROLLUP_MEASURES} FROM {self.db}.usage_daily WHERE {where} "
            f"GROUP BY {group_by} ORDER BY cost DESC, {group_by}",
            params,
        )
        groups = tuple(
            CostGroup(
                group={d: _value(r[f"g{i}"]) for i, d in enumerate(dims)},
                **{f: r[f] for f in Usage.model_fields},
            )
            for r in found
        )
        total = sum((Usage(**g.model_dump(exclude={"group"})) for g in groups), Usage())
        return CostReport(range=period.label, by=dims, groups=groups, total=total)

    def features(self, period: TimeRange, exact_rollup: bool) -> tuple[FeatureUnitCost, ...]:
        """``feature_report``, from the rollup when it is exact."""
        report = self.cost(period, ("feature",), exact_rollup)
        return unit_costs(
            [
                (g.group["feature"] or NO_FEATURE, g.cost, g.requests, g.tokens)
                for g in report.groups
            ]
        )

    def _model_usage(
        self, period: TimeRange, exact_rollup: bool, customer: str | None = None
    ) -> dict[str, list[ModelUsage]]:
        if not exact_rollup:
            usage = usage_by_customer_model(self.client, self.db, period)
            return usage if customer is None else {customer: usage.get(customer, [])}
        where, params = _DAYS, _days(period)
        if customer is not None:
            where += " AND customer = {customer:String}"
            params["customer"] = customer
        out: dict[str, list[ModelUsage]] = {}
        for r in rows(
            self.client,
            f"SELECT customer, toString(model) AS model, sum(requests) AS requests, "
            f"sum(cost) AS cost, sum(input_tokens) AS input_tokens, "
            f"sum(output_tokens) AS output_tokens, sum(cache_read_tokens) AS cache_read_tokens, "
            f"sum(cache_write_tokens) AS cache_write_tokens FROM {self.db}.usage_daily "
            f"WHERE {where} GROUP BY customer, model ORDER BY customer, model",
            params,
        ):
            out.setdefault(r.pop("customer"), []).append(ModelUsage(**r))
        return out

    def invoices(self, period: TimeRange, plans: PlansFile, exact_rollup: bool) -> list[Invoice]:
        """``build_invoices``, with the usage from the rollup when it is exact."""
        if not exact_rollup:
            return build_invoices(self.client, self.db, period, plans)
        usage = self._model_usage(period, exact_rollup)
        customers = sorted(set(usage) | set(plans.customers))
        return [build_invoice(c, period.label, usage.get(c, []), plans) for c in customers]

    def invoice(
        self, period: TimeRange, customer: str, plans: PlansFile, exact_rollup: bool
    ) -> Invoice:
        usage = self._model_usage(period, exact_rollup, customer).get(customer, [])
        return build_invoice(customer, period.label, usage, plans)

    def daily(
        self,
        period: TimeRange,
        dimension: str,
        customer: str | None = None,
        keep: Sequence[str] | None = None,
    ) -> Series:
        """Cost per day by ``dimension`` (customer, feature or model) from ``usage_daily``;
        with ``keep``, other values are folded into ``(other)``."""
        column = {"customer": "customer", "feature": "feature", "model": "model"}[dimension]
        where, params = _DAYS, _days(period)
        if customer is not None:
            where += " AND customer = {customer:String}"
            params["customer"] = customer
        found = rows(
            self.client,
            f"SELECT day, toString({column}) AS name, sum(cost) AS cost FROM {self.db}.usage_daily "
            f"WHERE {where} GROUP BY day, name ORDER BY day, name",
            params,
        )
        days = sorted({r["day"] for r in found})
        index = {d: i for i, d in enumerate(days)}
        kept = set(keep) if keep is not None else None
        sums: dict[str, list[Decimal]] = {}
        for r in found:
            name = r["name"] or NO_FEATURE
            if kept is not None and name not in kept:
                name = "(other)"
            sums.setdefault(name, [Decimal(0)] * len(days))[index[r["day"]]] += r["cost"]
        order = list(keep or []) + sorted(n for n in sums if kept is None or n not in kept)
        return Series(
            labels=[d.isoformat() for d in days],
            datasets={n: [format(v, "f") for v in sums[n]] for n in order if n in sums},
        )

    def at(self, period: TimeRange) -> PeriodFigures:
        """The figures of ``period`` as the store is now (one cheap query)."""
        return PeriodFigures(self, period, self.state(period))


class PeriodFigures:
    """One period's figures for one state of the store, each computed once."""

    def __init__(self, figures: Figures, period: TimeRange, state: StoreState) -> None:
        self._f = figures
        self.period = period
        self.state = state
        self.exact = figures.rollup_is_exact(period, state)

    def _memo(self, name: str, args: tuple[Any, ...], compute: Callable[[], T]) -> T:
        return self._f._remember((name, self.period.label, self.state, args), compute)

    @property
    def source(self) -> str:
        if self.exact:
            return "usage_daily (checked equal to usage_events FINAL for this period)"
        return "usage_events FINAL"

    def cost(self, by: Sequence[str], customer: str | None = None) -> CostReport:
        key = (tuple(by), customer)
        return self._memo("cost", key, lambda: self._f.cost(self.period, by, self.exact, customer))

    def features(self) -> tuple[FeatureUnitCost, ...]:
        return self._memo("features", (), lambda: self._f.features(self.period, self.exact))

    def invoices(self, plans: PlansFile) -> list[Invoice]:
        return self._memo(
            "invoices", (id(plans),), lambda: self._f.invoices(self.period, plans, self.exact)
        )

    def invoice(self, customer: str, plans: PlansFile) -> Invoice:
        return self._memo(
            "invoice",
            (customer, id(plans)),
            lambda: self._f.invoice(self.period, customer, plans, self.exact),
        )

    def daily(
        self, dimension: str, customer: str | None = None, keep: Sequence[str] | None = None
    ) -> Series:
        key = (dimension, customer, tuple(keep) if keep is not None else None)
        return self._memo(
            "daily", key, lambda: self._f.daily(self.period, dimension, customer, keep)
        )

    def reconciliation(self) -> Reconciliation:
        """The period's reconciliation for this state of the store."""
        return self._memo("reconcile", (), self._reconcile)

    def _reconcile(self) -> Reconciliation:
        result = reconcile(self._f.client, self._f.db, self.period)
        with self._f._lock:
            self._f._checked[self.period.label] = (time.time(), result, self.state.rows)
        return result

    def recent_reconciliation(self, max_age_s: float) -> tuple[float, Reconciliation, int]:
        """``(checked_at, verdict, rows_then)``: the verdict for this state when known, else
        the last one if younger than ``max_age_s`` (a month being written changes with every
        insert; the full audit runs at most that often for the overview), else a fresh one."""
        key = ("reconcile", self.period.label, self.state, ())
        with self._f._lock:
            known = key in self._f._memo
            last = self._f._checked.get(self.period.label)
        if not known and last is not None and time.time() - last[0] < max_age_s:
            return last
        result = self.reconciliation()
        with self._f._lock:
            return self._f._checked.get(self.period.label, (time.time(), result, self.state.rows))
