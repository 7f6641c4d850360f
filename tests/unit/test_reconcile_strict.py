"""Strict reconciliation against a provider bill: wrong-period lines, the total judged as well as
each line, absolute tolerance, provider/model aliases, the providers' own export layouts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from reports.aliases import Aliases, parse_aliases
from reports.bill_formats import BillLine, parse_provider_bill
from reports.errors import InputFileError
from reports.reconcile_math import bill_problems, compare_bill

NOV = (date(2025, 1, 1), date(2025, 1, 31))
TOL = D("0.005")


def _line(day: int, cost: str, provider: str = "openai", model: str = "gpt-4o") -> BillLine:
    return BillLine(day=date(2025, 1, day), provider=provider, model=model, cost=D(cost))


def _metered(*days: tuple[int, str]) -> dict:
    return {(date(2025, 1, d), "openai", "gpt-4o"): D(c) for d, c in days}


def test_a_bill_for_another_month_is_a_problem() -> None:
    november = [BillLine(day=date(2024, 11, d), provider="openai", model="gpt-4o", cost=D(1))
                for d in (1, 2)]  # fmt: skip
    cmp = compare_bill({}, november, NOV, TOL)
    problems = bill_problems(cmp, "2025-01")
    assert cmp.lines_outside_period == 2 and cmp.billed_outside_period == D(2)
    assert any("outside 2025-01" in p and "2024-11-01 to 2024-11-02" in p for p in problems)


def test_one_cent_off_on_one_day_does_not_reconcile_by_default() -> None:
    cmp = compare_bill(_metered((1, "10.087"), (2, "29")), [_line(1, "10.097"), _line(2, "29")],
                       NOV, TOL)  # fmt: skip
    problems = bill_problems(cmp, "2025-01")
    assert len(cmp.out_of_tolerance) == 1
    assert any("bill total 39.097 vs metered 39.087" in p for p in problems)


def test_the_total_is_judged_even_when_every_line_is_within_tolerance() -> None:
    metered = _metered(*((d, "1") for d in range(1, 11)))
    bill = [_line(d, "1.004") for d in range(1, 11)]
    cmp = compare_bill(metered, bill, NOV, TOL)
    assert not cmp.out_of_tolerance
    assert cmp.total_gap == D("0.040")
    assert bill_problems(cmp, "2025-01") == [
        "bill total 10.04 vs metered 10.00: gap 0.04 is more than the tolerance 0.005"
    ]


@pytest.mark.parametrize(("billed", "ok"), [("1.01", True), ("0.99", True), ("1.0101", False)])
def test_tolerance_is_absolute_and_inclusive(billed: str, ok: bool) -> None:
    cmp = compare_bill(_metered((3, "1")), [_line(3, billed)], NOV, D("0.01"))
    assert (bill_problems(cmp, "2025-01") == []) is ok


def test_an_empty_bill_is_a_problem() -> None:
    assert bill_problems(compare_bill({}, [], NOV, TOL), "2025-01") == [
        "the provider bill has no lines"
    ]


def test_dated_model_names_and_capitalised_providers_match_the_meter() -> None:
    metered = {(date(2025, 1, 5), "openai", "gpt-4o"): D("2"),
               (date(2025, 1, 5), "anthropic", "claude-3-5-sonnet-20241022"): D("3")}  # fmt: skip
    bill = [_line(5, "2", provider="OpenAI", model="gpt-4o-2024-08-06"),
            _line(5, "3", provider="Anthropic", model="claude-3-5-sonnet-20241022")]  # fmt: skip
    cmp = compare_bill(metered, bill, NOV, TOL)
    assert bill_problems(cmp, "2025-01") == []
    assert {(v.provider, v.model) for v in cmp.variances} == {
        ("openai", "gpt-4o"),
        ("anthropic", "claude-3-5-sonnet"),
    }


def test_an_aliases_file_maps_names_the_rules_cannot_guess() -> None:
    aliases = parse_aliases("providers: {Azure OpenAI: openai}\nmodels: {GPT-4o-Latest: gpt-4o}\n")
    assert aliases.provider(" Azure OpenAI ") == "openai"
    assert aliases.model("gpt-4o-latest") == "gpt-4o"
    assert aliases.model("gpt-4o-mini-2024-07-18") == "gpt-4o-mini"
    cmp = compare_bill(_metered((7, "4")), [_line(7, "4", "Azure OpenAI", "gpt-4o-latest")],
                       NOV, TOL, aliases)  # fmt: skip
    assert bill_problems(cmp, "2025-01") == []
    assert Aliases().model("gpt-4o-latest") == "gpt-4o-latest"


@pytest.mark.parametrize("text", ["- a\n", "models: [a]\n", "other: {}\n", "models: {a: 1}\n"])
def test_a_bad_aliases_file_is_refused(text: str) -> None:
    with pytest.raises(InputFileError, match="aliases file"):
        parse_aliases(text)


def test_openai_cost_export_is_read_as_it_comes() -> None:
    text = (
        "start_time,end_time,line_item,project_id,amount_value,amount_currency\n"
        '1735689600,1735776000,"gpt-4o-2024-08-06, input",proj_1,0.25,usd\n'
        '2025-01-01T00:00:00Z,2025-01-02T00:00:00Z,"gpt-4o-2024-08-06, output",proj_1,1.5,usd\n'
    )
    assert parse_provider_bill(text) == [
        BillLine(day=date(2025, 1, 1), provider="openai", model="gpt-4o-2024-08-06",
                 cost=D("0.25")),
        BillLine(day=date(2025, 1, 1), provider="openai", model="gpt-4o-2024-08-06",
                 cost=D("1.5")),
    ]  # fmt: skip


def test_anthropic_cost_exports_are_read_as_they_come() -> None:
    console = "usage_date_utc,model,workspace,cost_usd\n2025-01-02,claude-sonnet-4-5,Default,2.50\n"
    assert parse_provider_bill(console) == [
        BillLine(day=date(2025, 1, 2), provider="anthropic", model="claude-sonnet-4-5",
                 cost=D("2.50"))
    ]  # fmt: skip
    # The Admin Cost Report gives cents; a row without a model is billed under its cost type.
    api = ("starting_at,ending_at,model,cost_type,amount,currency\n"
           "2025-01-03T00:00:00Z,2025-01-04T00:00:00Z,claude-opus-4-1,tokens,123.45,USD\n"
           "2025-01-03T00:00:00Z,2025-01-04T00:00:00Z,,web_search,10,USD\n")  # fmt: skip
    assert [(b.day.day, b.model, b.cost) for b in parse_provider_bill(api)] == [
        (3, "claude-opus-4-1", D("1.2345")),
        (3, "web_search", D("0.1")),
    ]


def test_an_unknown_bill_layout_names_the_layouts_it_knows() -> None:
    with pytest.raises(InputFileError, match=r"OpenAI cost export.*found when, what"):
        parse_provider_bill("when,what\n1,2\n")
