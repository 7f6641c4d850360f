"""The two ways Meterline writes an amount. Pure.

* ``money_text`` — for people (tables, messages): cents, half up; an amount below a cent that
  is not zero keeps three significant digits (``0.0000135``), so a small call never reads as
  ``0.00``.
* ``money_plain`` — for machines (JSON, CSV): the exact value as a plain decimal string, at
  least two decimals, trailing zeros beyond them dropped. Never an exponent (``0E-12``), never
  ``-0.00``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum
from typing import Any

__all__ = ["money_plain", "money_text", "plain_data"]

_CENT = Decimal("0.01")


def _no_negative_zero(value: Decimal) -> Decimal:
    return value.copy_abs() if value.is_zero() else value


def money_text(amount: Decimal) -> str:
    """``amount`` as a person reads it (see the module docstring)."""
    if amount.is_zero() or abs(amount) >= _CENT:
        return format(_no_negative_zero(amount.quantize(_CENT, rounding=ROUND_HALF_UP)), "f")
    exponent = amount.adjusted() - 2  # three significant digits
    small = amount.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_UP)
    return format(small.normalize(), "f")


def money_plain(amount: Decimal) -> str:
    """``amount`` exactly, as a plain decimal string (see the module docstring)."""
    value = _no_negative_zero(amount)
    if value == value.to_integral_value():
        return format(value.quantize(_CENT), "f")
    trimmed = value.normalize()
    if trimmed.as_tuple().exponent > -2:  # type: ignore[operator]
        trimmed = trimmed.quantize(_CENT)
    return format(trimmed, "f")


def plain_data(value: Any) -> Any:
    """``value`` (a model dump in python mode) made JSON-ready: Decimals via ``money_plain``,
    dates ISO, enums by value, tuples as lists."""
    if isinstance(value, Decimal):
        return money_plain(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(v) for v in value]
    return value
