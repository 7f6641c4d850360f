"""The range of an amount a user's CSV may carry: what fits the stored money type. Pure."""

from __future__ import annotations

from decimal import Decimal

__all__ = ["MAX_DIGITS", "MAX_SCALE", "out_of_range"]

MAX_DIGITS = 26
MAX_SCALE = 12
"""Amounts fit the stored money type, ``Decimal(38, 12)``."""


def out_of_range(amount: Decimal) -> bool:
    """More than ``MAX_DIGITS`` digits before the point or ``MAX_SCALE`` after it."""
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int)  # finite amounts only
    return bool(amount) and (amount.adjusted() >= MAX_DIGITS or exponent < -MAX_SCALE)
