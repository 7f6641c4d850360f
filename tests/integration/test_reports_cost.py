"""Cost report on chDB over a hand-summed dataset (``_reports_data``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from reports import CostFilter, cost_report, date_range, feature_report, month_period
from reports.cost import OTHER
from reports.errors import InvalidIdentifierError, ReportError
from tests.integration._reports_data import BY_CUSTOMER, HOSTILE, TOTAL, load_known

pytestmark = pytest.mark.integration

NOV = month_period("2026-11")


@pytest.fixture
def db(chdb_client, ch_database):  # type: ignore[no-untyped-def]
    load_known(chdb_client, ch_database)
    return ch_database


def test_groups_sum_to_the_total_exactly_with_unattributed_as_a_group(chdb_client, db) -> None:
    report = cost_report(chdb_client, db, NOV, by=("customer",))
    assert {g.group["customer"]: g.cost for g in report.groups} == BY_CUSTOMER
    assert report.total.cost == TOTAL
    assert sum((g.cost for g in report.groups), Decimal(0)) == report.total.cost
    # e1 was stored twice (a retry) and counts once; e6/e7 lie just outside November.
    assert report.total.requests == 7
    assert report.total.input_tokens == 175_000
    assert report.total.reasoning_tokens == 4_000
    assert report.total.computed_cost == Decimal("4.783333333333")
    assert report.groups[0].group["customer"] == "acme"


def test_group_by_several_dimensions(chdb_client, db) -> None:
    report = cost_report(chdb_client, db, NOV, by=("customer", "feature", "model", "day"))
    acme = [g for g in report.groups if g.group["customer"] == "acme"]
    assert {(g.group["feature"], g.group["model"], g.group["day"], g.cost) for g in acme} == {
        ("chat", "gpt-4o", "2026-11-01", Decimal("1.25")),
        ("search", "claude-sonnet", "2026-11-01", Decimal("2.000000000001")),
    }
    assert sum((g.cost for g in report.groups), Decimal(0)) == TOTAL
    by_team = cost_report(chdb_client, db, NOV, by=("team", "key"))
    assert {(g.group["team"], g.group["key"]): g.cost for g in by_team.groups}[
        ("team_b", "k_globex")
    ] == Decimal("0.333333333333")


def test_top_n_folds_the_rest_into_other(chdb_client, db) -> None:
    report = cost_report(chdb_client, db, NOV, by=("customer",), top=2)
    assert [g.group["customer"] for g in report.groups] == ["acme", HOSTILE, OTHER]
    assert report.groups[-1].cost == Decimal("0.933333333333")
    assert report.other_groups == 3
    assert sum((g.cost for g in report.groups), Decimal(0)) == TOTAL


def test_date_range_includes_both_end_days(chdb_client, db) -> None:
    report = cost_report(chdb_client, db, date_range(date(2026, 11, 30), date(2026, 12, 1)))
    assert {g.group["customer"]: g.cost for g in report.groups} == {
        "initech": Decimal("0.5"),
        "acme": Decimal("100"),
    }


def test_customer_and_tag_filters(chdb_client, db) -> None:
    acme = cost_report(chdb_client, db, NOV, by=("feature",), flt=CostFilter(customer="acme"))
    assert acme.total.cost == Decimal("3.250000000001")
    prod = cost_report(chdb_client, db, NOV, flt=CostFilter(tags=("env:prod", "feature:chat")))
    assert [(g.group["customer"], g.cost) for g in prod.groups] == [("acme", Decimal("1.25"))]


@pytest.mark.parametrize(
    "hostile",
    ["'", "acme'", "acme' OR '1'='1", "'; DROP TABLE usage_events; --", "ünïcode", "\\", '"', ""],
)
def test_hostile_filter_values_return_empty_results_and_leave_the_table(
    chdb_client, db, hostile: str
) -> None:
    report = cost_report(
        chdb_client, db, NOV, flt=CostFilter(customer=hostile, tags=(f"env:{hostile}",))
    )
    assert report.groups == () and report.total.cost == 0 and report.total.requests == 0
    assert cost_report(chdb_client, db, NOV, flt=CostFilter(customer=hostile)).groups == ()
    assert cost_report(chdb_client, db, NOV).total.cost == TOTAL


def test_hostile_values_that_exist_are_matched_exactly(chdb_client, db) -> None:
    report = cost_report(
        chdb_client, db, NOV, flt=CostFilter(customer=HOSTILE, tags=(f"customer:{HOSTILE}",))
    )
    assert [(g.group["customer"], g.cost) for g in report.groups] == [(HOSTILE, Decimal("0.7"))]


def test_bad_dimension_and_database_are_typed_errors(chdb_client, db) -> None:
    with pytest.raises(ReportError, match="--by"):
        cost_report(chdb_client, db, NOV, by=("customer", "1; DROP"))
    with pytest.raises(InvalidIdentifierError):
        cost_report(chdb_client, f"{db}; DROP DATABASE {db}", NOV)


def test_feature_view_shows_the_expensive_feature(chdb_client, db) -> None:
    features = feature_report(chdb_client, db, NOV)
    assert features[0].feature == "search"
    assert features[0].stands_out
    assert features[0].cost_per_1k_requests == Decimal("2000.000000")
    assert {f.feature for f in features} == {"search", "chat", "(none)", "summarize"}
    assert sum((f.cost for f in features), Decimal(0)) == TOTAL
