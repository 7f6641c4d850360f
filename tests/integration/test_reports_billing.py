"""Invoices, reconciliation and margin on chDB over the hand-summed dataset."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from reports import (
    BillLine,
    build_invoices,
    margin_report,
    month_period,
    parse_plans,
    reconcile,
)
from reports.invoice_math import LineKind
from reports.margin import MarginStatus
from sinks.ddl import USAGE_EVENT_COLUMNS
from tests.integration._reports_data import HOSTILE, TOTAL, insert, load_known, nov, row

pytestmark = pytest.mark.integration

NOV = month_period("2026-11")
D = Decimal

PLANS = parse_plans(
    """
plans:
  payg: {kind: markup, markup_percent: 20}
  tokens:
    kind: resale
    prices_per_1m:
      gpt-4o: {input: 5, output: 15}
  pro: {kind: flat, monthly_fee: 100, included_cost: 3, overage_markup_percent: 50}
customers: {acme: pro, globex: tokens, initech: payg, hooli: payg}
"""
)


@pytest.fixture
def db(chdb_client, ch_database):  # type: ignore[no-untyped-def]
    load_known(chdb_client, ch_database)
    return ch_database


def test_invoices_for_each_plan_kind(chdb_client, db) -> None:
    invoices = {i.customer: i for i in build_invoices(chdb_client, db, NOV, PLANS)}
    assert set(invoices) == {"acme", "globex", "initech", "hooli", "unattributed", HOSTILE}
    # acme, flat: 100 fee; usage 3.250000000001 - 3 included = 0.250000000001 × 1.5 → 0.38.
    acme = invoices["acme"]
    assert [(line.kind, line.amount) for line in acme.lines] == [
        (LineKind.FLAT_FEE, D("100.00")),
        (LineKind.OVERAGE, D("0.38")),
    ]
    assert acme.total == D("100.38")
    # globex, resale: gpt-4o 10,000 in × 5 + 1,000 out × 15 per 1M = 0.065 → 0.07;
    # mystery-model unlisted, at cost 0 (+0 %) → 0.00.
    globex = invoices["globex"]
    assert [(line.kind, line.amount) for line in globex.lines] == [
        (LineKind.RESALE, D("0.07")),
        (LineKind.USAGE_AT_COST, D("0.00")),
    ]
    assert globex.total == D("0.07")
    # initech, markup 20 %: 0.5 + 0.1.
    assert invoices["initech"].total == D("0.60")
    # hooli has a plan but no usage; the unplanned are listed with a warning.
    assert invoices["hooli"].total == D("0.00")
    for customer in ("unattributed", HOSTILE):
        assert invoices[customer].plan is None
        assert invoices[customer].warnings
    assert sum((i.usage_cost for i in invoices.values()), D(0)) == TOTAL


def test_reconcile_ok_shows_the_counts(chdb_client, db) -> None:
    chdb_client.insert(
        f"{db}.dead_letters",
        [["dl1", "raw", 0, 5, -1, "", "k", "schema", "negative tokens", "{}",
          datetime(2026, 11, 4, tzinfo=UTC)]],
        column_names=["dead_letter_id", "source_topic", "partition", "offset", "index_in_record",
                      "event_id", "api_key_id", "error_kind", "reason", "raw", "received_at"],
    )  # fmt: skip
    rec = reconcile(chdb_client, db, NOV)
    assert rec.reconciled, rec.problems
    led = rec.ledger
    assert led.total_cost == led.customer_cost_sum == TOTAL
    assert led.duplicates_collapsed == 1
    assert (led.rows_stored, led.events) == (8, 7)
    assert (led.unpriced_events, led.unattributed_events) == (1, 1)
    assert led.unattributed_cost == D("0.1")
    assert led.provider_vs_computed_events == 1
    assert led.provider_vs_computed_delta == D("0.100000000001")
    assert led.flags == {"provider_cost_differs": 1, "unknown_model": 1}
    assert (led.dead_letters, led.dead_letters_by_kind) == (1, {"schema": 1})


def test_provider_bill_gap_is_found_at_the_right_provider_model_day(chdb_client, db) -> None:
    bill = [
        BillLine(day=date(2026, 11, 1), provider="openai", model="gpt-4o", cost=D("1.25")),
        BillLine(day=date(2026, 11, 1), provider="anthropic", model="claude-sonnet", cost=D("2")),
        # metered 0.333333333333; the bill says 0.84 — the planted gap.
        BillLine(day=date(2026, 11, 2), provider="openai", model="gpt-4o", cost=D("0.84")),
        BillLine(day=date(2026, 11, 2), provider="openai", model="gpt-4o-mini", cost=D("0.1")),
        BillLine(day=date(2026, 11, 15), provider="openai", model="gpt-4o", cost=D("0.7")),
        BillLine(day=date(2026, 11, 30), provider="openai", model="gpt-4o", cost=D("0.5")),
    ]
    rec = reconcile(chdb_client, db, NOV, provider_bill=bill)
    assert not rec.reconciled
    assert rec.bill is not None
    worst = rec.bill.variances[0]
    assert (worst.day, worst.provider, worst.model) == (date(2026, 11, 2), "openai", "gpt-4o")
    assert worst.gap == D("0.506666666667")
    # acme-ai (the unpriced model) is on no bill here, so it is not compared.
    assert [v.within_tolerance for v in rec.bill.variances] == [False] + [True] * 5
    assert rec.bill.providers == ("anthropic", "openai")
    assert "2026-11-02 openai gpt-4o" in rec.problems[0]
    fixed = [b if b.cost != D("0.84") else b.model_copy(update={"cost": D("0.33")}) for b in bill]
    assert reconcile(chdb_client, db, NOV, provider_bill=fixed).reconciled


@pytest.mark.parametrize(
    ("planted", "fragment"),
    [
        # price_book row whose cost is not its computed cost.
        ({"event_id": "bad1", "cost": "1", "computed_cost": "2"}, "cost_source"),
        # provider row without a provider cost.
        ({"event_id": "bad2", "cost": "1", "cost_source": "provider"}, "cost_source"),
        # e3 stored again under another customer: FINAL cannot collapse it.
        ({"event_id": "e3", "cost": "0.333333333333", "customer": "acme"}, "stored twice"),
    ],
)
def test_reconcile_fails_on_a_planted_inconsistency(chdb_client, db, planted, fragment) -> None:
    kwargs = {k: v for k, v in planted.items() if k not in {"event_id", "cost", "customer"}}
    insert(
        chdb_client,
        db,
        [row(planted["event_id"], nov(2, 9), planted.get("customer", "globex"), planted["cost"],
             **kwargs)],
    )  # fmt: skip
    rec = reconcile(chdb_client, db, NOV)
    assert not rec.reconciled
    assert any(fragment in p for p in rec.problems), rec.problems


def test_margin_per_customer(chdb_client, db) -> None:
    revenue = {"acme": D("3"), "globex": D("10"), "initech": D("0.5"), "hooli": D("20")}
    report = margin_report(chdb_client, db, NOV, revenue)
    got = [(r.customer, r.margin, r.status) for r in report.rows]
    assert got == [
        (HOSTILE, D("-0.7"), MarginStatus.NO_REVENUE),
        ("acme", D("-0.250000000001"), MarginStatus.UNPROFITABLE),
        ("unattributed", D("-0.1"), MarginStatus.NO_REVENUE),
        ("initech", D("0"), MarginStatus.OK),
        ("globex", D("9.666666666667"), MarginStatus.OK),
        ("hooli", D("20"), MarginStatus.NO_USAGE),
    ]
    assert report.total_cost == TOTAL
    assert report.total_margin == D("33.5") - TOTAL
    assert report.cost_without_revenue == (HOSTILE, "unattributed")
    assert report.revenue_without_usage == ("hooli",)
    assert next(r for r in report.rows if r.customer == "globex").margin_percent == D("96.67")


def test_row_helper_matches_the_storage_contract() -> None:
    assert len(row("x", nov(1), "c", "1")) == len(USAGE_EVENT_COLUMNS)
