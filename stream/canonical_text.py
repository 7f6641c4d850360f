"""Full-match checks of values written the one way the models write them back, shared by the
msgspec fast paths (``stream.fast_raw``, ``stream.spend_fast``). A value they refuse is not
necessarily invalid: the pydantic path then decides."""

from __future__ import annotations

import re
from datetime import date

__all__ = ["check_day", "plain_money", "utc_time"]

utc_time = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(?:\.(?!000000)[0-9]{6})?Z"
).fullmatch
"""A UTC time ending in ``Z``, with no fraction or six digits not all zero (the date itself is
not checked: ``2026-02-30`` passes)."""

_real_days: set[str] = set()


def check_day(day: str) -> None:
    """Raise ``ValueError`` unless ``day`` (``YYYY-MM-DD``) is a date in the calendar. Days that
    passed are remembered (bounded), as a stream holds a few of them."""
    if day not in _real_days:
        date.fromisoformat(day)
        if len(_real_days) >= 10_000:
            _real_days.clear()
        _real_days.add(day)


plain_money = re.compile(r"(?:0|[1-9][0-9]{0,25})(?:\.[0-9]{1,12})?").fullmatch
"""A non-negative plain decimal, at most 26 digits before the point and 12 after."""
