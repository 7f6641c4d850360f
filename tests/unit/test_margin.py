from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from reports.margin import MarginStatus, compute_margins

D = Decimal


def test_margins_worst_first_with_callouts() -> None:
    report = compute_margins(
        "2026-11",
        cost={"acme": D("600"), "globex": D("10"), "unattributed": D("1.5")},
        revenue={"acme": D("500"), "globex": D("40"), "hooli": D("100")},
    )
    got = [
        (r.customer, r.revenue, r.cost, r.margin, r.margin_percent, r.status) for r in report.rows
    ]
    assert got == [
        ("acme", D("500"), D("600"), D("-100"), D("-20.00"), MarginStatus.UNPROFITABLE),
        ("unattributed", None, D("1.5"), D("-1.5"), None, MarginStatus.NO_REVENUE),
        ("globex", D("40"), D("10"), D("30"), D("75.00"), MarginStatus.OK),
        ("hooli", D("100"), D("0"), D("100"), D("100.00"), MarginStatus.NO_USAGE),
    ]
    # 640 revenue - 611.5 cost = 28.5; 28.5 / 640 = 4.453125 % → 4.45.
    assert (report.total_revenue, report.total_cost, report.total_margin) == (
        D("640"),
        D("611.5"),
        D("28.5"),
    )
    assert report.total_margin_percent == D("4.45")
    assert report.cost_without_revenue == ("unattributed",)
    assert report.revenue_without_usage == ("hooli",)


def test_margin_percent_rounds_half_up_and_zero_revenue_has_none() -> None:
    report = compute_margins("p", cost={"a": D("1"), "b": D("1")}, revenue={"a": D("8"), "b": D(0)})
    by = {r.customer: r for r in report.rows}
    assert by["a"].margin_percent == D("87.50")  # 7/8 exactly
    assert by["b"].margin_percent is None
    assert by["b"].status is MarginStatus.UNPROFITABLE


money = st.decimals(min_value=0, max_value=10**9, places=12, allow_nan=False)
names = st.sampled_from(["a", "b", "c", "d"])


@given(st.dictionaries(names, money), st.dictionaries(names, money))
def test_margins_add_up_exactly(cost: dict[str, Decimal], revenue: dict[str, Decimal]) -> None:
    report = compute_margins("p", cost, revenue)
    assert sum((r.margin for r in report.rows), D(0)) == report.total_margin
    assert sum((r.cost for r in report.rows), D(0)) == report.total_cost
    margins = [r.margin for r in report.rows]
    assert margins == sorted(margins)
    assert {r.customer for r in report.rows} == set(cost) | set(revenue)
