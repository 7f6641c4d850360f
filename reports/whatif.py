"""What-if over the store: usage priced with alternative prices (a SELECT, nothing written),
then :func:`reports.whatif_math.compare`."""

from __future__ import annotations

from reports._sql import QueryClient, checked_database, rows
from reports.invoice_math import ModelUsage
from reports.invoices import usage_by_customer_model
from reports.periods import TimeRange
from reports.plans import PlansFile
from reports.rerate import NEW_COST, PRICE_TABLE, RerateScope, current_ratings
from reports.rerate_math import PriceRow
from reports.whatif_math import WhatIfRow, compare

__all__ = ["usage_under_prices", "whatif"]


def usage_under_prices(
    client: QueryClient, database: str, period: TimeRange, prices: list[PriceRow]
) -> dict[str, list[ModelUsage]]:
    """Each customer's usage per model in ``period`` as if ``prices`` had been in force: what
    ``meterline rerate`` would make of it (provider-settled cost kept; events the prices do
    not cover keep their cost)."""
    db = checked_database(database)
    current, params = current_ratings(db, RerateScope(period, include_provider_cost=True))
    params["prices"] = [p.as_strings() for p in prices]
    result: dict[str, list[ModelUsage]] = {}
    for row in rows(
        client,
        f"""
        SELECT c_customer AS customer, toString(c_model) AS model, count() AS requests,
            sum(if(pr.ref = '' OR cur_source = 'provider', cur_cost, {NEW_COST})) AS cost,
            sum(in_t) AS input_tokens, sum(out_t) AS output_tokens,
            sum(cr_t) AS cache_read_tokens, sum(cw_t) AS cache_write_tokens
        FROM ({current}) AS cur
        ASOF LEFT JOIN ({PRICE_TABLE}) AS pr
            ON cur.pkey = pr.pkey AND cur.mkey = pr.mkey AND cur.at >= pr.effective_from
        GROUP BY customer, model ORDER BY customer, model""",
        params,
    ):
        customer = row.pop("customer")
        result.setdefault(customer, []).append(ModelUsage(**row))
    return result


def whatif(
    client: QueryClient,
    database: str,
    period: TimeRange,
    plans: PlansFile,
    whatif_plans: PlansFile,
    prices: list[PriceRow] | None = None,
) -> list[WhatIfRow]:
    """Every customer's invoice and margin under ``plans`` and today's ratings next to
    ``whatif_plans`` and ``prices`` (today's ratings when None); reads only."""
    usage = usage_by_customer_model(client, database, period)
    alternative = usage if prices is None else usage_under_prices(client, database, period, prices)
    return compare(period.label, usage, plans, alternative, whatif_plans)
