"""One money formatter for people (cents, sub-cent amounts meaningful), one for machines (exact,
plain: no exponents, no negative zero)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reports.money_format import money_plain, money_text, plain_data


@pytest.mark.parametrize(
    ("amount", "text"),
    [("0E-12", "0.00"), ("-0E-12", "0.00"), ("-0.001", "-0.001"), ("1.005", "1.01"),
     ("39.097", "39.10"), ("0.0000135", "0.0000135"), ("0.000013512", "0.0000135"),
     ("0.004999", "0.005"), ("-0.000000000001", "-0.000000000001"), ("-2.345", "-2.35"),
     ("1234567.891", "1234567.89")],
)  # fmt: skip
def test_money_text(amount: str, text: str) -> None:
    assert money_text(D(amount)) == text


@pytest.mark.parametrize(
    ("amount", "text"),
    [("0E-12", "0.00"), ("-0E-12", "0.00"), ("-0.00", "0.00"), ("8.000000000000", "8.00"),
     ("12.50", "12.50"), ("12.5", "12.50"), ("0.506666666667", "0.506666666667"),
     ("1E+3", "1000.00"), ("-1E-12", "-0.000000000001"), ("0.100000000000", "0.10")],
)  # fmt: skip
def test_money_plain(amount: str, text: str) -> None:
    assert money_plain(D(amount)) == text


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=12, allow_nan=False))
def test_money_plain_is_exact_and_never_an_exponent(amount: D) -> None:
    text = money_plain(amount)
    assert "E" not in text
    assert not (text.startswith("-") and D(text) == 0)
    assert D(text) == amount


def test_plain_data_walks_a_dump() -> None:
    dump = {"gap": D("0E-12"), "rows": ({"day": date(2026, 11, 2), "cost": D("-0")},)}
    assert plain_data(dump) == {"gap": "0.00", "rows": [{"day": "2026-11-02", "cost": "0.00"}]}
