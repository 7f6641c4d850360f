"""``meterline bench console``: server time to render each console page with N events stored.

Fills a fresh embedded ClickHouse (chDB) with synthetic events of last month (400 customers
with a skewed spread, 20 of them on their own key, the rest on a shared one; six features, five
models) by one
``INSERT … SELECT`` per chunk, so the ``usage_daily`` view fills as the sink's inserts fill it;
then renders every page in-process (the app, its queries and the template; no network): the
first render of a fresh app ("cold": everything computed), the median of the next renders
("warm": the figures remembered for this store state, a month that no longer changes), and
the median render right after a 1,000-event insert into the month (a month being written).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from reports.periods import TimeRange, month_period
from sinks.ddl import USAGE_EVENT_COLUMNS

if TYPE_CHECKING:
    from reports._sql import QueryClient

__all__ = ["PAGES", "fill", "run_console_bench"]

PAGES = (
    "/",
    "/customers",
    "/customers/cust-0000",
    "/features",
    "/budgets",
    "/invoices",
    "/reconcile",
    "/dead-letters",
)
_TOKEN = "bench-token"
_PLANS = """\
default_plan: payg
plans:
  payg: {kind: markup, markup_percent: 40}
  flat: {kind: flat, monthly_fee: 20, included_cost: 1000, overage_markup_percent: 0}
customers: {cust-0001: flat}
"""

_SELECT = """
SELECT
    concat('bench-', toString(number + {offset:UInt64})) AS event_id,
    {start:DateTime64(3, 'UTC')} + toIntervalMillisecond(
        (cityHash64(number + {offset:UInt64}) % {span_ms:UInt64})) AS occurred_at,
    'gw-bench' AS gateway,
    if(big, concat('key-', customer), 'key-shared') AS api_key_id,
    concat('req-', toString(number + {offset:UInt64})) AS request_id,
    arrayElement(['openai', 'anthropic', 'openai', 'google', 'openai'], m + 1) AS provider,
    arrayElement(['gpt-4o', 'claude-sonnet-4', 'gpt-4o-mini', 'gemini-2.5-flash', 'o4-mini'],
                 m + 1) AS model,
    1000 + cityHash64(number + {offset:UInt64}, 4) % 4000 AS input_tokens,
    100 + cityHash64(number + {offset:UInt64}, 5) % 900 AS output_tokens,
    0 AS cache_read_tokens, 0 AS cache_write_tokens, 0 AS reasoning_tokens,
    [concat('customer:', customer)] AS tags,
    'success' AS status, false AS streamed, 500 AS latency_ms,
    NULL AS provider_cost, 'USD' AS currency,
    customer,
    arrayElement(['chat', 'search', 'agent', 'summarize', 'classify', ''],
                 (number + {offset:UInt64}) % 6 + 1) AS feature,
    if(big, 'enterprise', 'platform') AS team_id,
    '' AS owner_customer,
    CAST(cityHash64(number + {offset:UInt64}, 2) % 100000 AS Decimal(38, 12)) / 10000000
        AS cost,
    cost AS computed_cost,
    'price_book' AS cost_source, 'bench' AS price_ref, [] AS flags,
    occurred_at AS enriched_at
FROM (
    SELECT number,
           cityHash64(number + {offset:UInt64}, 1) % 5 AS m,
           if((number + {offset:UInt64}) % 50 = 0, 'unattributed',
              concat('cust-', leftPad(toString(toUInt32(floor(pow(
                  (cityHash64(number + {offset:UInt64}, 6) % 1000000) / 1000000.0, 3) * 400))),
                  4, '0'))) AS customer,
           customer < 'cust-0020' AS big
    FROM numbers({rows:UInt64})
)
"""


def fill(
    client: Any,
    database: str,
    events: int,
    month: TimeRange,
    chunk: int = 250_000,
    first: int = 0,
) -> None:
    """Insert ``events`` synthetic events spread over ``month``, numbered from ``first``."""
    start = month.start
    span_ms = int((month.end - month.start).total_seconds() * 1000)
    columns = ", ".join(USAGE_EVENT_COLUMNS)
    for offset in range(first, first + events, chunk):
        client.command(
            f"INSERT INTO {database}.usage_events ({columns}) {_SELECT}",
            parameters={
                "offset": offset,
                "rows": min(chunk, first + events - offset),
                "start": start,
                "span_ms": span_ms,
            },
        )


_BATCH = 1_000


def _render(http: Any, path: str, month: TimeRange) -> float:
    began = time.perf_counter()
    response = http.get(path, params={"period": month.label})
    elapsed = (time.perf_counter() - began) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{path} answered {response.status_code}")
    return elapsed


def run_console_bench(
    events: int, renders: int = 5, say: Callable[[str], None] = print
) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from reports.api import create_app
    from reports.plans import parse_plans
    from sinks.clickhouse import connect
    from sinks.migrations import migrate

    database = "meterline"
    with tempfile.TemporaryDirectory(prefix="meterline-bench-console-") as tmp:
        client = connect(f"chdb://{Path(tmp) / 'chdb'}")
        try:
            migrate(client, database)
            began = time.perf_counter()
            today = datetime.now(UTC).date()
            month = month_period(f"{(today.replace(day=1) - timedelta(days=1)):%Y-%m}")
            fill(client, database, events, month)
            say(f"stored {events} events in {time.perf_counter() - began:.1f} s")
            (stored,) = client.query(
                f"SELECT count() FROM {database}.usage_events FINAL"
            ).result_rows[0]
            plans = parse_plans(_PLANS)
            auth = {"Authorization": f"Bearer {_TOKEN}"}
            pages: dict[str, dict[str, float]] = {}
            apps: dict[str, TestClient] = {}
            # clickhouse-connect's Client answers the reports' protocol (its signature is wider).
            reports_client = cast("QueryClient", client)
            for path in PAGES:
                # A fresh app per page: its first render computes everything; later ones reuse
                # the figures remembered for this state of the store (a month that no longer
                # changes).
                http = apps[path] = TestClient(
                    create_app(reports_client, database, _TOKEN, plans), headers=auth
                )
                timings = [_render(http, path, month) for _ in range(renders + 1)]
                pages[path] = {
                    "cold_ms": round(timings[0], 1),
                    "warm_median_ms": round(statistics.median(timings[1:]), 1),
                }
            # A month being written: a sink batch lands, then the page is rendered.
            added = events
            for path, http in apps.items():
                after = []
                for _ in range(renders):
                    fill(client, database, _BATCH, month, first=added)
                    added += _BATCH
                    after.append(_render(http, path, month))
                pages[path]["after_insert_median_ms"] = round(statistics.median(after), 1)
                shown = pages[path]
                say(
                    f"{path:24} cold {shown['cold_ms']} ms, warm {shown['warm_median_ms']} ms, "
                    f"after a {_BATCH}-event insert {shown['after_insert_median_ms']} ms"
                )
        finally:
            client.close()
    worst = {
        f"worst_{k}": max(p[k] for p in pages.values())
        for k in ("cold_ms", "warm_median_ms", "after_insert_median_ms")
    }
    return {
        "events_stored": int(stored),
        "renders": renders,
        "pages": pages,
        **worst,
    }
