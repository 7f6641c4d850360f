"""Re-rating's pure rules: the price table a file becomes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from reports.rerate_math import RerateError, RerateLine, price_rows, rerate_id
from stream.price_file import parse_price_text, price_file_label

TEXT = """
- {provider: OpenAI, model: GPT-4o, effective_from: 2026-11-10, input: "2.5", output: "10",
   cache_write: "3.125", discount_percent: "12.5"}
"""


def test_rates_fall_back_like_the_stream_and_the_discount_becomes_a_factor() -> None:
    (row,) = price_rows(parse_price_text(TEXT, "p.yaml"), price_file_label("p.yaml", TEXT))
    assert (row.provider, row.model) == ("openai", "gpt-4o")
    assert (row.cache_read, row.cache_write, row.reasoning) == (
        Decimal("2.5"), Decimal("3.125"), Decimal("10"),
    )  # fmt: skip
    assert row.factor == Decimal("87.5")
    assert row.ref.endswith(":OpenAI/GPT-4o@2026-11-10")
    assert row.as_strings()[2:5] == ["2026-11-10 00:00:00.000", "2.5", "10"]


def test_a_rate_finer_than_the_sql_reads_is_refused() -> None:
    fine = TEXT.replace('"2.5"', '"2.000000000000000000001"')
    with pytest.raises(RerateError, match="more than 20 decimal places"):
        price_rows(parse_price_text(fine, "p.yaml"), "file:p.yaml")


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(RerateError, match="no prices"):
        price_rows([], "file:p.yaml")


def test_rerate_id_names_time_and_file_version() -> None:
    at = datetime(2026, 12, 5, 9, 30, 1, 250_000, tzinfo=UTC)
    assert rerate_id("file:a#sha256=1", at).startswith("rr-20261205T093001250-")
    assert rerate_id("file:a#sha256=1", at) != rerate_id("file:a#sha256=2", at)


def test_line_difference_is_new_minus_old() -> None:
    line = RerateLine("acme", "gpt-4o", 2, Decimal("0.0165"), Decimal("0.01378125"))
    assert line.difference == Decimal("-0.00271875")


def test_adjustment_lines_add_up_to_the_latest_invoice() -> None:
    from reports.invoice_math import LineKind, ModelUsage, build_invoice
    from reports.plans import parse_plans
    from reports.rerate_math import RerateRun, adjusted_invoice

    plans = parse_plans("plans: {payg: {kind: markup, markup_percent: 10}}\ncustomers: {a: payg}")
    states = [build_invoice("a", "2026-11", [ModelUsage(model="m", cost=Decimal(c))], plans)
              for c in ("10", "8.004", "8.004", "12")]  # fmt: skip
    at = datetime(2026, 12, 5, tzinfo=UTC)
    runs = [RerateRun(f"rr-{i}", at, 1, Decimal(0), Decimal(0)) for i in range(3)]
    adjusted = adjusted_invoice(states, runs)
    extra = [line for line in adjusted.lines if line.kind is LineKind.ADJUSTMENT]
    assert [line.amount for line in extra] == [Decimal("-2.20"), Decimal("4.40")]
    assert extra[0].description.startswith("credit: re-rate rr-0")
    assert extra[1].description.startswith("debit: re-rate rr-2")
    assert adjusted.lines[: len(states[0].lines)] == states[0].lines
    assert adjusted.total == states[-1].total == sum(line.amount for line in adjusted.lines)
