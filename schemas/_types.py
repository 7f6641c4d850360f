"""Field types shared by every message: UTC timestamps, money, identifiers, tags."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer

MAX_ID_LEN = 128
MAX_TAGS = 32
MAX_TAG_LEN = 256
MAX_TOKENS = 100_000_000
"""Larger than any real context window times a generous margin; more is a producer bug."""

MONEY_SCALE = 12
"""Decimal places kept for money; ClickHouse stores Decimal(38, 12)."""

_TAG_NAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,63}$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@/+=\-]*$")


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must be timezone-aware (UTC), got a naive datetime")
    return value.astimezone(UTC)


def _reject_float_money(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError(
            "money must be a Decimal, an int or a decimal string such as '0.0125', never a float"
        )
    if isinstance(value, bool):
        raise ValueError("money must be a Decimal, an int or a decimal string, not a bool")
    return value


def _finite_money(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("money must be a finite number (no NaN or infinity)")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MONEY_SCALE:
        raise ValueError(f"money has more than {MONEY_SCALE} decimal places")
    if abs(value) >= Decimal(10) ** (38 - MONEY_SCALE):
        raise ValueError("money is out of range")
    return value


def _tag(value: str) -> str:
    name, sep, rest = value.partition(":")
    if not sep or not rest.strip():
        raise ValueError(f"tag {value[:40]!r} must look like name:value")
    if not _TAG_NAME.match(name):
        raise ValueError(
            f"tag name {name[:40]!r} must be lowercase letters, digits, '_', '.', '-' "
            "(at most 64 characters)"
        )
    if any(ch in rest for ch in "\x00\r\n"):
        raise ValueError("tag value must not contain control characters")
    return value


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
"""Timezone-aware datetime, normalised to UTC; naive datetimes are rejected."""

Money = Annotated[
    Decimal,
    BeforeValidator(_reject_float_money),
    AfterValidator(_finite_money),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
]
"""Exact money: Decimal in Python, a decimal string in JSON. Floats, NaN and inf are refused."""

NonNegativeMoney = Annotated[Money, Field(ge=0)]

Identifier = Annotated[str, Field(min_length=1, max_length=MAX_ID_LEN, pattern=_ID.pattern)]
"""An id that is safe in a Kafka key, a file name and a log line."""

OptionalIdentifier = Annotated[str, Field(max_length=MAX_ID_LEN, pattern=f"^$|{_ID.pattern}")]
"""An :data:`Identifier`, or empty for "none" (a key's team or owner customer). One grammar
for every id a budget can follow: what can be bound can be budgeted, and the reverse."""

Name = Annotated[str, Field(min_length=1, max_length=MAX_ID_LEN)]

TokenCount = Annotated[int, Field(ge=0, le=MAX_TOKENS, strict=True)]

Tag = Annotated[str, Field(min_length=3, max_length=MAX_TAG_LEN), AfterValidator(_tag)]

Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS)]
