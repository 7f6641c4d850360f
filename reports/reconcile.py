"""Reconciliation of a period: the store's facts (``LedgerFacts``), optionally a provider bill,
and the verdict. ``reconciled`` is false whenever ``problems`` is not empty."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from reports._sql import PERIOD_FILTER, QueryClient, checked_database, period_parameters, rows
from reports.aliases import Aliases
from reports.bill_formats import BillLine
from reports.cost import OWNER_MISMATCH
from reports.periods import TimeRange
from reports.reconcile_math import (
    BillComparison,
    CustomerCost,
    LedgerFacts,
    bill_problems,
    compare_bill,
    ledger_problems,
)
from schemas import UNATTRIBUTED, CostSource

__all__ = ["DEFAULT_TOLERANCE", "Reconciliation", "ledger_facts", "reconcile"]

DEFAULT_TOLERANCE = Decimal("0.005")
"""Half a cent: a gap that shows as a cent (on a line or the total) does not reconcile."""

_COST_MATCHES_SOURCE = """(
    (cost_source = {provider:String} AND provider_cost IS NOT NULL
        AND assumeNotNull(provider_cost) = cost)
    OR (cost_source = {price_book:String} AND cost = computed_cost)
    OR (cost_source = {unpriced:String} AND cost = 0)
)"""

_TOTALS = (
    """
    SELECT sum(cost) AS total_cost,
           count() AS rows_after_final,
           uniqExact(event_id) AS events,
           countIf(cost_source = {unpriced:String}) AS unpriced_events,
           countIf(customer = {unattributed:String}) AS unattributed_events,
           sumIf(cost, customer = {unattributed:String}) AS unattributed_cost,
           countIf(cost_source = {provider:String}) AS provider_priced_events,
           countIf(cost_source = {provider:String} AND cost != computed_cost)
               AS provider_vs_computed_events,
           sumIf(cost - computed_cost, cost_source = {provider:String})
               AS provider_vs_computed_delta,
           countIf(cost < 0) AS negative_cost_rows,
           countIf("""
    + OWNER_MISMATCH
    + """) AS owner_mismatch_events,
           sumIf(cost, """
    + OWNER_MISMATCH
    + """) AS owner_mismatch_cost,
           arraySort(groupUniqArray(currency)) AS currencies,
           countIf(NOT """
    + _COST_MATCHES_SOURCE
    + """) AS cost_source_mismatches
    FROM """
)


class Reconciliation(BaseModel):
    model_config = ConfigDict(frozen=True)

    period: str
    reconciled: bool
    problems: tuple[str, ...]
    ledger: LedgerFacts
    bill: BillComparison | None = None


def ledger_facts(client: QueryClient, database: str, period: TimeRange) -> LedgerFacts:
    """Everything the store says about ``period`` (see ``LedgerFacts``)."""
    db = checked_database(database)
    params = period_parameters(period)
    # The contract's literals travel as parameters too, named after themselves.
    params.update({s.value: s.value for s in CostSource}, unattributed=UNATTRIBUTED)
    final = f"{db}.usage_events FINAL WHERE {PERIOD_FILTER}"
    customers = rows(
        client,
        f"SELECT customer, sum(cost) AS cost, count() AS events FROM {final} "
        "GROUP BY customer ORDER BY cost DESC, customer",
        params,
    )
    (totals,) = rows(client, _TOTALS + final, params)
    (conflicts,) = rows(
        client,
        f"SELECT count() AS n FROM (SELECT event_id FROM {final} "
        "GROUP BY event_id HAVING count() > 1)",
        params,
    )
    (raw,) = rows(
        client,
        f"""
        SELECT sum(n) AS rows_stored, count() AS distinct_event_ids,
               sum(one_cost) AS deduped_cost
        FROM (
            -- A re-rated event has one row per rating version until a merge keeps the
            -- latest (``meterline rerate``): those rows are not duplicates, the latest counts.
            SELECT event_id, count() - uniqExact(rating_version) + 1 AS n,
                   argMax(cost, rating_version) AS one_cost
            FROM {db}.usage_events WHERE {PERIOD_FILTER} GROUP BY event_id
        )
        """,
        params,
    )
    flags = rows(
        client,
        f"SELECT flag, count() AS n FROM {db}.usage_events FINAL ARRAY JOIN flags AS flag "
        f"WHERE {PERIOD_FILTER} GROUP BY flag ORDER BY flag",
        params,
    )
    dead = rows(
        client,
        f"SELECT toString(error_kind) AS kind, count() AS n FROM {db}.dead_letters FINAL "
        "WHERE received_at >= {start:DateTime64(3, 'UTC')} "
        "AND received_at < {end:DateTime64(3, 'UTC')} GROUP BY kind ORDER BY kind",
        params,
    )
    return LedgerFacts(
        total_cost=totals["total_cost"],
        customers=tuple(CustomerCost(**c) for c in customers),
        deduped_cost=raw["deduped_cost"],
        events=totals["events"],
        rows_stored=raw["rows_stored"],
        distinct_event_ids=raw["distinct_event_ids"],
        rows_after_final=totals["rows_after_final"],
        conflicting_duplicates=conflicts["n"],
        cost_source_mismatches=totals["cost_source_mismatches"],
        negative_cost_rows=totals["negative_cost_rows"],
        unpriced_events=totals["unpriced_events"],
        unattributed_events=totals["unattributed_events"],
        unattributed_cost=totals["unattributed_cost"],
        provider_priced_events=totals["provider_priced_events"],
        provider_vs_computed_events=totals["provider_vs_computed_events"],
        provider_vs_computed_delta=totals["provider_vs_computed_delta"],
        flags={f["flag"]: f["n"] for f in flags},
        owner_mismatch_events=totals["owner_mismatch_events"],
        owner_mismatch_cost=totals["owner_mismatch_cost"],
        dead_letters=sum(d["n"] for d in dead),
        dead_letters_by_kind={d["kind"]: d["n"] for d in dead},
        currencies=tuple(c for c in totals["currencies"] if c),
    )


def _metered_by_day(client: QueryClient, database: str, period: TimeRange) -> dict[tuple, Decimal]:
    db = checked_database(database)
    return {
        (r["day"], r["provider"], r["model"]): r["cost"]
        for r in rows(
            client,
            f"SELECT toDate(occurred_at) AS day, toString(provider) AS provider, "
            f"toString(model) AS model, sum(cost) AS cost FROM {db}.usage_events FINAL "
            f"WHERE {PERIOD_FILTER} GROUP BY day, provider, model",
            period_parameters(period),
        )
    }


def reconcile(
    client: QueryClient,
    database: str,
    period: TimeRange,
    provider_bill: Sequence[BillLine] | None = None,
    tolerance: Decimal = DEFAULT_TOLERANCE,
    aliases: Aliases | None = None,
) -> Reconciliation:
    """Reconcile ``period``: the ledger must add up (``ledger_problems``) and, given a provider
    bill, every bill line must fall in the period and every provider × model × day and the
    bill's total must match the meter within ``tolerance`` (absolute, in the bill's currency;
    names compared through ``aliases``)."""
    facts = ledger_facts(client, database, period)
    problems = ledger_problems(facts)
    bill = None
    if provider_bill is not None:
        days = (period.start.date(), (period.end - timedelta(days=1)).date())
        bill = compare_bill(
            _metered_by_day(client, database, period), provider_bill, days, tolerance, aliases
        )
        problems.extend(bill_problems(bill, period.label))
    return Reconciliation(
        period=period.label,
        reconciled=not problems,
        problems=tuple(problems),
        ledger=facts,
        bill=bill,
    )
