"""CSV cells a spreadsheet will not run as formulas (the OWASP "CSV injection" rule). Pure.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by
Excel, LibreOffice and Google Sheets as a formula; customer names, tags and bill fields are
chosen by other people, so every CSV Meterline writes passes each cell through
:func:`safe_cell`, which prefixes such a cell with a single quote (shown, not evaluated).

Numbers stay numbers: a cell that is a plain decimal number (``-1.50``, ``+3``, ``-2E-7``) is
left as it is, because a spreadsheet reads it as that number and nothing else, and credits
and negative variances must stay summable. Anything else starting with those characters
(``-1+2``, ``=1``, ``@SUM(A1)``) is quoted.
"""

from __future__ import annotations

import re

__all__ = ["FORMULA_STARTS", "safe_cell", "safe_row"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def safe_cell(text: str) -> str:
    """``text`` as a CSV cell no spreadsheet evaluates; plain numbers unchanged."""
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def safe_row(cells: list[str]) -> list[str]:
    return [safe_cell(c) for c in cells]
