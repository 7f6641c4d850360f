"""Re-rating in ClickHouse: preview, apply and read the books as of a time.

The corrected prices travel as one ``Array(Array(String))`` parameter that the query turns into
a table (``arrayJoin``) and joins to the events with an ``ASOF`` join on provider, model and
``occurred_at >= effective_from`` — one set-based statement, no event passes through Python.
The cost is computed in ``Decimal256`` (rates at 20 places, the discount factor at 10, the
product shifted to 38 places exactly) and rounded half-even to ``Decimal(38, 12)``, as
:meth:`stream.pricing.UnitPrice.cost` does.

``apply_rerate`` writes in this order (see :mod:`sinks.ddl_ratings`):

1. sync: events whose latest rating in ``usage_ratings`` is newer than their row (a run that
   stopped between 2 and 3) are written again with it;
2. ratings: one ``usage_ratings`` row per event whose rating changes (cost, computed cost or
   source), version + 1 — the rollup gets the difference through ``usage_ratings_mv``;
3. sync again: the changed events are written to ``usage_events`` with their new rating.

Repeating a run changes nothing: every event already carries the file's price, so step 2 finds
no change. Writes need a full store client (the owner's); previews and ``as_of_source`` are
plain SELECTs a guest client may run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reports._sql import PERIOD_FILTER, QueryClient, checked_database, period_parameters, rows
from reports.periods import TimeRange
from reports.rerate_math import PriceRow, RerateLine
from sinks.ddl import USAGE_EVENT_COLUMNS
from sinks.ddl_ratings import RATING_COLUMNS

__all__ = [
    "NEW_COST",
    "PRICE_TABLE",
    "RerateResult",
    "RerateScope",
    "apply_rerate",
    "as_of_source",
    "current_ratings",
    "preview_rerate",
]

PRICE_TABLE = """
    SELECT p[1] AS pkey, p[2] AS mkey,
        parseDateTime64BestEffort(p[3], 3, 'UTC') AS effective_from,
        toDecimal256(p[4], 20) AS r_in, toDecimal256(p[5], 20) AS r_out,
        toDecimal256(p[6], 20) AS r_cr, toDecimal256(p[7], 20) AS r_cw,
        toDecimal256(p[8], 20) AS r_rs, toDecimal256(p[9], 10) AS factor, p[10] AS ref
    FROM (SELECT arrayJoin({prices:Array(Array(String))}) AS p)"""

NEW_COST = """CAST(roundBankers(toDecimal256(
        (cur.in_t * pr.r_in + cur.cr_t * pr.r_cr + cur.cw_t * pr.r_cw
         + (cur.out_t - cur.rs_t) * pr.r_out + cur.rs_t * pr.r_rs) * pr.factor, 38)
        / 100000000, 12) AS Decimal(38, 12))"""


@dataclass(frozen=True)
class RerateScope:
    """Which stored events a re-rate looks at."""

    period: TimeRange
    customer: str | None = None
    model: str | None = None
    include_provider_cost: bool = False


@dataclass(frozen=True)
class RerateResult:
    rerate_id: str
    rated_at: datetime
    events: int
    """Events whose rating changed in this run (0: nothing to do, e.g. a repeated run)."""


def current_ratings(db: str, scope: RerateScope) -> tuple[str, dict[str, Any]]:
    """The events of ``scope`` with their current rating (``cur_*``), tokens and join keys."""
    clauses = [PERIOD_FILTER]
    params: dict[str, Any] = period_parameters(scope.period)
    if scope.customer is not None:
        clauses.append("customer = {customer:String}")
        params["customer"] = scope.customer
    if scope.model is not None:
        clauses.append("lower(model) = lower({model:String})")
        params["model"] = scope.model
    if not scope.include_provider_cost:
        clauses.append("cost_source != 'provider'")
    sql = f"""
    SELECT event_id AS ev, occurred_at AS at, lower(provider) AS pkey, lower(model) AS mkey,
        customer AS c_customer, feature AS c_feature, provider AS c_provider, model AS c_model,
        team_id AS c_team, api_key_id AS c_key,
        input_tokens AS in_t, output_tokens AS out_t, cache_read_tokens AS cr_t,
        cache_write_tokens AS cw_t, reasoning_tokens AS rs_t,
        cost AS cur_cost, computed_cost AS cur_computed, cost_source AS cur_source,
        price_ref AS cur_ref, flags AS cur_flags, rating_version AS cur_version
    FROM {db}.usage_events FINAL
    WHERE {" AND ".join(clauses)}"""
    return sql, params


def _changes(db: str, scope: RerateScope, prices: list[PriceRow]) -> tuple[str, dict[str, Any]]:
    """Every event of ``scope`` whose rating the prices change: its current and new rating."""
    current, params = current_ratings(db, scope)
    params["prices"] = [p.as_strings() for p in prices]
    sql = f"""
    SELECT cur.*, pr.ref AS new_ref, {NEW_COST} AS new_cost
    FROM ({current}) AS cur
    ASOF INNER JOIN ({PRICE_TABLE}) AS pr
        ON cur.pkey = pr.pkey AND cur.mkey = pr.mkey AND cur.at >= pr.effective_from"""
    changed = f"""
    SELECT * FROM ({sql})
    WHERE new_cost != cur_cost OR new_cost != cur_computed OR cur_source != 'price_book'"""
    return changed, params


def preview_rerate(
    client: QueryClient, database: str, scope: RerateScope, prices: list[PriceRow]
) -> list[RerateLine]:
    """What ``apply_rerate`` would change, per customer and model (largest change first);
    writes nothing."""
    db = checked_database(database)
    changed, params = _changes(db, scope, prices)
    found = rows(
        client,
        f"""
        SELECT c_customer AS customer, toString(c_model) AS model, count() AS events,
            sum(cur_cost) AS old_cost, sum(new_cost) AS new_cost
        FROM ({changed})
        GROUP BY customer, model
        ORDER BY abs(new_cost - old_cost) DESC, customer, model""",
        params,
    )
    return [RerateLine(**r) for r in found]


def _sync(client: Any, db: str, period: TimeRange, rerate_id: str | None = None) -> None:
    """Write again every event of ``period`` whose latest rating is newer than its row; with
    ``rerate_id``, only the events that run rated (their latest rating by construction)."""
    replaced = {
        "cost": "r.r_cost",
        "computed_cost": "r.r_computed",
        "cost_source": "r.r_source",
        "price_ref": "r.r_ref",
        "flags": "r.r_flags",
    }
    select = ", ".join(replaced.get(c, f"e.{c}") for c in USAGE_EVENT_COLUMNS)
    columns = ", ".join((*USAGE_EVENT_COLUMNS, "rating_version", "rated_at"))
    params: dict[str, Any] = period_parameters(period)
    events = f"SELECT * FROM {db}.usage_events FINAL WHERE {PERIOD_FILTER}"
    if rerate_id is None:
        ratings = f"""
            SELECT event_id AS ev, max(version) AS r_version,
                argMax(cost, version) AS r_cost, argMax(computed_cost, version) AS r_computed,
                argMax(cost_source, version) AS r_source, argMax(price_ref, version) AS r_ref,
                argMax(flags, version) AS r_flags, argMax(rated_at, version) AS r_rated_at
            FROM {db}.usage_ratings WHERE {PERIOD_FILTER}
            GROUP BY event_id"""
    else:
        params["rerate_id"] = rerate_id
        run = f"{db}.usage_ratings WHERE {PERIOD_FILTER} AND rerate_id = {{rerate_id:String}}"
        ratings = f"""
            SELECT event_id AS ev, version AS r_version, cost AS r_cost,
                computed_cost AS r_computed, cost_source AS r_source, price_ref AS r_ref,
                flags AS r_flags, rated_at AS r_rated_at
            FROM {run}"""
    client.command(
        f"""
        INSERT INTO {db}.usage_events ({columns})
        SELECT {select}, r.r_version, r.r_rated_at
        FROM ({events}) AS e
        INNER JOIN ({ratings}) AS r ON e.event_id = r.ev
        WHERE e.rating_version < r.r_version""",
        parameters=params,
    )


def apply_rerate(
    client: Any,
    database: str,
    scope: RerateScope,
    prices: list[PriceRow],
    rerate_id: str,
    rated_at: datetime,
) -> RerateResult:
    """Re-rate the events of ``scope`` with ``prices`` (see the module docstring for the order
    of writes). ``client`` must be able to write (clickhouse-connect ``Client``)."""
    db = checked_database(database)
    _sync(client, db, scope.period)
    changed, params = _changes(db, scope, prices)
    params.update(rerate_id=rerate_id, rated_at=rated_at)
    before = _ratings_of(client, db, rerate_id)
    client.command(
        f"""
        INSERT INTO {db}.usage_ratings ({", ".join(RATING_COLUMNS)})
        SELECT ev, at, c_customer, c_feature, c_provider, c_model, c_team, c_key,
            cur_version + 1, {{rerate_id:String}}, {{rated_at:DateTime64(3, 'UTC')}},
            cur_cost, cur_computed, cur_source, cur_ref,
            new_cost, new_cost, 'price_book', new_ref,
            arrayFilter(f -> f != 'unpriced_model', cur_flags)
        FROM ({changed})""",
        parameters=params,
    )
    _sync(client, db, scope.period, rerate_id)
    return RerateResult(rerate_id, rated_at, _ratings_of(client, db, rerate_id) - before)


def _ratings_of(client: Any, db: str, rerate_id: str) -> int:
    result = client.query(
        f"SELECT count() FROM {db}.usage_ratings WHERE rerate_id = {{id:String}}",
        parameters={"id": rerate_id},
    )
    return int(result.result_rows[0][0])


def as_of_source(db: str, *, events_then: bool = True) -> str:
    """A subquery with ``usage_events``' columns as the books stood at ``{as_of:DateTime64}``:
    events enriched by then (every event when not ``events_then``), each with the rating it had
    then (its latest rating no later than ``as_of``, or the rating the first re-rate replaced).
    Use it where a report reads ``usage_events FINAL``, with the parameter ``as_of``."""
    enriched = "enriched_at <= {as_of:DateTime64(3, 'UTC')}" if events_then else "1"
    return f"""(
        SELECT * REPLACE (
            if(h.ev = '', e.cost, h.cost_then) AS cost,
            if(h.ev = '', e.computed_cost, h.computed_then) AS computed_cost,
            if(h.ev = '', e.cost_source, h.source_then) AS cost_source,
            if(h.ev = '', e.price_ref, h.ref_then) AS price_ref)
        FROM (SELECT * FROM {db}.usage_events FINAL WHERE {enriched}) AS e
        LEFT JOIN (
            SELECT event_id AS ev,
                countIf(rated_at <= {{as_of:DateTime64(3, 'UTC')}}) > 0 AS rerated_then,
                if(rerated_then,
                   argMaxIf(cost, version, rated_at <= {{as_of:DateTime64(3, 'UTC')}}),
                   argMin(old_cost, version)) AS cost_then,
                if(rerated_then,
                   argMaxIf(computed_cost, version, rated_at <= {{as_of:DateTime64(3, 'UTC')}}),
                   argMin(old_computed_cost, version)) AS computed_then,
                if(rerated_then,
                   argMaxIf(cost_source, version, rated_at <= {{as_of:DateTime64(3, 'UTC')}}),
                   argMin(old_cost_source, version)) AS source_then,
                if(rerated_then,
                   argMaxIf(price_ref, version, rated_at <= {{as_of:DateTime64(3, 'UTC')}}),
                   argMin(old_price_ref, version)) AS ref_then
            FROM {db}.usage_ratings
            GROUP BY event_id
        ) AS h ON e.event_id = h.ev
    )"""
