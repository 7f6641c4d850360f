"""``meterline bench rerate``: re-rate a stored month of events with a changed price file.

Events are generated inside ClickHouse (``INSERT … SELECT FROM numbers(N)`` through the
storage contract, so the rollup fills as the sink would fill it); only the re-rate is timed.
``exact`` holds when the per-event differences in ``usage_ratings`` add up to new − old total
and the rollup equals the base table per day, customer and model.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from reports.periods import month_period
from reports.rerate import RerateScope, apply_rerate
from reports.rerate_math import price_rows, rerate_id
from sinks.clickhouse import Client, connect
from sinks.ddl import USAGE_EVENT_COLUMNS
from sinks.migrations import migrate
from stream.price_file import parse_price_text, price_file_label

__all__ = ["run_rerate_bench"]

DB = "bench_rerate"

PRICES = """
prices:
  - {provider: openai, model: gpt-4o, effective_from: 2026-01-01, input: "2.50", output: "10"}
  - {provider: openai, model: gpt-4o, effective_from: 2026-11-15, input: "2.50", output: "10",
     cache_read: "1.25", discount_percent: "12.5"}
  - {provider: openai, model: gpt-4o-mini, effective_from: 2026-01-01, input: "0.15",
     output: "0.6"}
  - {provider: anthropic, model: claude-sonnet, effective_from: 2026-11-01, input: "3",
     output: "15", cache_read: "0.3", cache_write: "3.75"}
"""

# Values per generated event: three models, 200 customers, every tenth event settled at the
# provider's cost (kept by the re-rate), the old cost a price that the file corrects.
_GENERATED = {
    "event_id": "concat('ev-', toString(number))",
    "occurred_at": "toDateTime64('2026-11-01 00:00:00', 3, 'UTC') + toIntervalMillisecond("
                   "number * 7919 % 2592000000)",
    "gateway": "'gw-1'",
    "api_key_id": "concat('k_', toString(number % 50))",
    "request_id": "concat('req-', toString(number))",
    "provider": "['openai', 'openai', 'anthropic'][number % 3 + 1]",
    "model": "['gpt-4o', 'gpt-4o-mini', 'claude-sonnet'][number % 3 + 1]",
    "input_tokens": "1000 + number % 5000",
    "output_tokens": "100 + number % 700",
    "cache_read_tokens": "number % 400",
    "cache_write_tokens": "number % 3 = 2 ? number % 200 : 0",
    "reasoning_tokens": "number % 50",
    "tags": "[]",
    "status": "'success'",
    "streamed": "false",
    "latency_ms": "100",
    "provider_cost": "number % 10 = 0 ? toDecimal128('0.01', 12) : NULL",
    "currency": "'USD'",
    "customer": "concat('c', toString(number % 200))",
    "feature": "'chat'",
    "team_id": "''",
    "owner_customer": "''",
    "cost": "number % 10 = 0 ? toDecimal128('0.01', 12) "
            ": toDecimal128(input_tokens * 3 + output_tokens * 11, 12) / 1000000",
    "computed_cost": "toDecimal128(input_tokens * 3 + output_tokens * 11, 12) / 1000000",
    "cost_source": "number % 10 = 0 ? 'provider' : 'price_book'",
    "price_ref": "'file:old.yaml#sha256=000000000000'",
    "flags": "[]",
    "enriched_at": "toDateTime64('2026-12-01 00:00:00', 3, 'UTC')",
}  # fmt: skip


def _load(client: Client, events: int) -> None:
    select = ", ".join(f"{_GENERATED[c]} AS {c}" for c in USAGE_EVENT_COLUMNS)
    client.command(
        f"INSERT INTO {DB}.usage_events ({', '.join(USAGE_EVENT_COLUMNS)}) "
        f"SELECT {select} FROM numbers({int(events)})"
    )


def _scalar(client: Client, sql: str) -> Any:
    return client.query(sql).result_rows[0][0]


def _rollup_equals_base(client: Client) -> bool:
    base = client.query(
        f"SELECT toDate(occurred_at) AS d, customer, model, sum(cost), count() "
        f"FROM {DB}.usage_events FINAL GROUP BY d, customer, model ORDER BY d, customer, model"
    ).result_rows
    rollup = client.query(
        f"SELECT day, customer, model, sum(cost), sum(requests) FROM {DB}.usage_daily "
        "GROUP BY day, customer, model HAVING sum(requests) > 0 ORDER BY day, customer, model"
    ).result_rows
    return [tuple(r) for r in base] == [tuple(r) for r in rollup]


def run_rerate_bench(events: int = 1_000_000, progress: Callable[[str], None] = print) -> dict:
    """Store ``events``, re-rate them all, and return the JSON object the command prints."""
    label = price_file_label("corrected.yaml", PRICES)
    prices = price_rows(parse_price_text(PRICES, "corrected.yaml"), label)
    with tempfile.TemporaryDirectory(prefix="meterline-bench-") as data_dir:
        client = connect(f"chdb://{data_dir}")
        try:
            migrate(client, DB)
            progress(f"storing {events} events")
            _load(client, events)
            old_total: Decimal = _scalar(client, f"SELECT sum(cost) FROM {DB}.usage_events FINAL")
            rated_at = datetime.now(UTC).replace(microsecond=0)
            progress("re-rating them all")
            started = time.perf_counter()
            result = apply_rerate(
                client, DB, RerateScope(month_period("2026-11")), prices,
                rerate_id(label, rated_at), rated_at,
            )  # fmt: skip
            seconds = time.perf_counter() - started
            new_total: Decimal = _scalar(client, f"SELECT sum(cost) FROM {DB}.usage_events FINAL")
            differences: Decimal = _scalar(
                client, f"SELECT sum(cost - old_cost) FROM {DB}.usage_ratings"
            )
            stored = _scalar(client, f"SELECT count() FROM {DB}.usage_events FINAL")
            exact = (
                differences == new_total - old_total
                and stored == events
                and _rollup_equals_base(client)
            )
        finally:
            client.close()
    return {
        "bench": "rerate",
        "events": events,
        "rerated_events": result.events,
        "seconds": round(seconds, 3),
        "events_per_s": round(events / seconds, 1),
        "old_total": str(old_total),
        "new_total": str(new_total),
        "exact": exact,
    }
