"""Pure parts of the reports: periods, identifiers, unit costs, CSV inputs, bill variance,
ledger checks, rendering."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from reports._sql import checked_database
from reports.csv_inputs import BillLine, parse_provider_bill, parse_revenue
from reports.errors import InputFileError, InvalidIdentifierError, InvalidPeriodError
from reports.periods import date_range, month_period
from reports.reconcile_math import CustomerCost, LedgerFacts, compare_bill, ledger_problems
from reports.render import csv_text, table_text
from reports.unit_costs import unit_costs

D = Decimal


def test_month_period_is_half_open_and_rolls_over_the_year() -> None:
    p = month_period("2026-12")
    assert (p.start, p.end) == (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert month_period("2026-02").end == datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize("bad", ["2026-13", "2026-1", "26-11", "2026-11-01", "", "2026-00"])
def test_bad_periods_are_refused(bad: str) -> None:
    with pytest.raises(InvalidPeriodError):
        month_period(bad)


def test_date_range_includes_the_last_day() -> None:
    r = date_range(date(2026, 11, 1), date(2026, 11, 30))
    assert r.end == datetime(2026, 12, 1, tzinfo=UTC)
    with pytest.raises(InvalidPeriodError):
        date_range(date(2026, 11, 2), date(2026, 11, 1))


@pytest.mark.parametrize(
    "bad", ["a;DROP TABLE x", "db.usage", "1abc", "", "x" * 65, "ünï", "a b", "a`b", "a'--"]
)
def test_database_names_must_be_plain_identifiers(bad: str) -> None:
    with pytest.raises(InvalidIdentifierError):
        checked_database(bad)
    assert checked_database("meterline_2") == "meterline_2"


def test_unit_costs_make_the_expensive_feature_stand_out() -> None:
    # chat: 9 requests, 0.9 cost; research: 1 request, 3.1 cost (77.5 % of cost, 10 % of calls).
    rows = unit_costs([("chat", D("0.9"), 9, 90_000), ("research", D("3.1"), 1, 50_000)])
    research, chat = rows
    assert research.feature == "research"
    assert research.cost_per_1k_requests == D("3100.000000")
    assert research.cost_per_1m_tokens == D("62.000000")
    assert research.cost_share_percent == D("77.50")
    assert research.request_share_percent == D("10.00")
    assert research.stands_out and not chat.stands_out
    assert chat.cost_per_1k_requests == D("100.000000")
    assert chat.cost_per_1m_tokens == D("10.000000")


def test_unit_costs_without_requests_or_tokens() -> None:
    (row,) = unit_costs([("idle", D(0), 0, 0)])
    assert row.cost_per_1k_requests is None and row.cost_per_1m_tokens is None
    assert not row.stands_out


def test_revenue_csv_sums_repeats_and_names_bad_lines() -> None:
    assert parse_revenue("customer,revenue\nacme,100.10\nglobex,5\nacme,0.01\n") == {
        "acme": D("100.11"),
        "globex": D("5"),
    }
    with pytest.raises(InputFileError, match="line 3"):
        parse_revenue("customer,revenue\nacme,1\nglobex,lots\n")
    with pytest.raises(InputFileError, match="missing revenue"):
        parse_revenue("customer,amount\nacme,1\n")


def test_provider_bill_csv() -> None:
    lines = parse_provider_bill("Date,Provider,Model,Cost\n2026-11-01,openai,gpt-4o,1.25\n")
    assert lines == [
        BillLine(day=date(2026, 11, 1), provider="openai", model="gpt-4o", cost=D("1.25"))
    ]
    with pytest.raises(InputFileError, match="line 2"):
        parse_provider_bill("date,provider,model,cost\n11/01/2026,openai,gpt-4o,1\n")


def test_bill_variance_finds_the_planted_gap_first() -> None:
    metered = {
        (date(2026, 11, 1), "openai", "gpt-4o"): D("10.000000000001"),
        (date(2026, 11, 2), "openai", "gpt-4o"): D("5"),
        (date(2026, 11, 2), "anthropic", "claude"): D("2"),
    }
    bill = [
        BillLine(day=date(2026, 11, 1), provider="openai", model="gpt-4o", cost=D("10.00")),
        BillLine(day=date(2026, 11, 2), provider="openai", model="gpt-4o", cost=D("3")),
        BillLine(day=date(2026, 11, 2), provider="openai", model="gpt-4o", cost=D("4.5")),
        BillLine(day=date(2026, 11, 3), provider="openai", model="o3", cost=D("0.5")),
        BillLine(day=date(2026, 12, 1), provider="openai", model="o3", cost=D("99")),
    ]
    cmp = compare_bill(metered, bill, (date(2026, 11, 1), date(2026, 11, 30)), D("0.01"))
    first = cmp.variances[0]
    assert (first.day, first.provider, first.model) == (date(2026, 11, 2), "openai", "gpt-4o")
    assert (first.billed, first.metered, first.gap) == (D("7.5"), D("5"), D("2.5"))
    # anthropic is not on this (OpenAI) bill, so its metered cost is not compared.
    assert [(v.model, v.gap) for v in cmp.variances[1:]] == [
        ("o3", D("0.5")),
        ("gpt-4o", D("-1E-12")),
    ]
    assert [v.within_tolerance for v in cmp.variances] == [False, False, True]
    assert cmp.providers == ("openai",)
    assert cmp.lines_outside_period == 1
    assert cmp.billed_total == D("18.00")
    assert cmp.metered_total == D("15.000000000001")
    assert len(cmp.out_of_tolerance) == 2


def _facts(**overrides: object) -> LedgerFacts:
    base: dict[str, object] = {
        "total_cost": D("3"),
        "customers": (CustomerCost(customer="a", cost=D("1"), events=1),
                      CustomerCost(customer="unattributed", cost=D("2"), events=2)),
        "deduped_cost": D("3"), "events": 3, "rows_stored": 4, "distinct_event_ids": 3,
        "rows_after_final": 3, "conflicting_duplicates": 0, "cost_source_mismatches": 0,
        "negative_cost_rows": 0, "unpriced_events": 0, "unattributed_events": 2,
        "unattributed_cost": D("2"), "provider_priced_events": 0,
        "provider_vs_computed_events": 0, "provider_vs_computed_delta": D(0), "flags": {},
        "dead_letters": 5, "dead_letters_by_kind": {"schema": 5}, "currencies": ("USD",),
    }  # fmt: skip
    base.update(overrides)
    return LedgerFacts.model_validate(base)


def test_a_consistent_ledger_has_no_problems() -> None:
    facts = _facts()
    assert ledger_problems(facts) == []
    assert facts.duplicates_collapsed == 1


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        (
            {"total_cost": D("3.000000000001"), "deduped_cost": D("3.000000000001")},
            "sum of customer",
        ),
        ({"deduped_cost": D("2")}, "deduplicated"),
        ({"conflicting_duplicates": 1}, "stored twice"),
        ({"cost_source_mismatches": 2}, "cost_source"),
        ({"negative_cost_rows": 1}, "negative"),
        ({"currencies": ("EUR", "USD")}, "currencies"),
    ],
)
def test_each_inconsistency_is_a_problem(overrides: dict[str, object], fragment: str) -> None:
    problems = ledger_problems(_facts(**overrides))
    assert any(fragment in p for p in problems), problems


def test_csv_and_table_rendering() -> None:
    rows = [{"customer": "a,b", "cost": D("1.005000000000"), "requests": 3}]
    assert csv_text(rows) == 'customer,cost,requests\n"a,b",1.005,3\n'
    table = table_text(rows, money_columns=("cost",))
    assert table.splitlines()[2].split() == ["a,b", "1.01", "3"]
