"""Invariant 1 (exact) and 2 (idempotent) on a random, seeded dataset: for every grouping the
groups sum to the total to the last decimal, and the total equals the sum over distinct
event_ids computed here in Python — with unmerged retries in the table."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from itertools import combinations

import pytest

from reports import cost_by_customer, cost_report, month_period, reconcile
from reports.cost import DIMENSIONS
from sinks.ddl import USAGE_EVENT_COLUMNS
from tests.integration._reports_data import create_tables, insert, nov, row

pytestmark = pytest.mark.integration

CUSTOMERS = ["acme", "globex", "unattributed", "ünï", "o'neil"]


def _dataset(seed: int) -> tuple[list[list], Decimal, dict[str, Decimal]]:
    rnd = random.Random(seed)
    rows, by_customer = [], {}
    for i in range(300):
        customer = rnd.choice(CUSTOMERS)
        cost = Decimal(rnd.randrange(0, 10**13)) / Decimal(10**12)
        rows.append(
            row(f"ev{i}", nov(1) + timedelta(minutes=rnd.randrange(0, 60 * 24 * 29)), customer,
                str(cost), feature=rnd.choice(["chat", "search", ""]),
                model=rnd.choice(["gpt-4o", "o3", "claude"]), key=rnd.choice(["k1", "k2"]),
                team=rnd.choice(["", "t1"]), tokens=(rnd.randrange(10**6), 10, 0, 0, 0))
        )  # fmt: skip
        by_customer[customer] = by_customer.get(customer, Decimal(0)) + cost
    return rows, sum(by_customer.values(), Decimal(0)), by_customer


def test_every_grouping_sums_to_the_exact_total(chdb_client, ch_database) -> None:
    rows, total, by_customer = _dataset(seed=6)
    create_tables(chdb_client, ch_database)
    insert(chdb_client, ch_database, rows)
    # Retries of 40 events, in separate inserts, not merged.
    enriched = USAGE_EVENT_COLUMNS.index("enriched_at")
    for start in range(0, 40, 10):
        retries = [list(r) for r in rows[start : start + 10]]
        for r in retries:
            r[enriched] = r[enriched] + timedelta(seconds=1)
        insert(chdb_client, ch_database, retries)

    period = month_period("2026-11")
    assert cost_by_customer(chdb_client, ch_database, period) == by_customer
    for size in (1, 2):
        for by in combinations(DIMENSIONS, size):
            report = cost_report(chdb_client, ch_database, period, by=by)
            assert report.total.cost == total, by
            assert sum((g.cost for g in report.groups), Decimal(0)) == total, by
            assert sum(g.requests for g in report.groups) == 300, by
    rec = reconcile(chdb_client, ch_database, period)
    assert rec.reconciled, rec.problems
    assert rec.ledger.duplicates_collapsed == 40
