"""Lossless JSON for query results sent over the embedded query endpoint. Pure.

JSON has no Decimal, datetime, date, UUID, bytes, tuple or non-string map key, so those travel
as tagged objects ``{"$": tag, "v": ...}``; every other dict is tagged too, so a tag can never be
confused with data. ``decode(encode(x)) == x`` with the same types for every value
clickhouse-connect returns (Decimal stays Decimal, a naive datetime stays naive, an aware one
keeps its zone).
"""

from __future__ import annotations

import base64
import math
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from ipaddress import IPv4Address, IPv6Address
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

__all__ = ["WireError", "decode", "encode"]


class WireError(ValueError):
    """A value the wire format cannot carry, or a malformed payload."""


def _tz(value: datetime | time) -> Any:
    tz = value.tzinfo
    if tz is None:
        return None
    if isinstance(tz, ZoneInfo):
        return tz.key
    offset = value.utcoffset()
    return {"offset_s": offset.total_seconds() if offset is not None else 0}


def _with_tz(naive: datetime, tz: Any) -> datetime:
    if tz is None:
        return naive
    if isinstance(tz, str):
        return naive.replace(tzinfo=ZoneInfo(tz))
    return naive.replace(tzinfo=timezone(timedelta(seconds=tz["offset_s"])))


def encode(value: Any) -> Any:
    """A JSON-ready structure for ``value``; raises ``WireError`` on an unsupported type."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return {"$": "float", "v": repr(value)}
    if isinstance(value, Decimal):
        return {"$": "dec", "v": str(value)}
    if isinstance(value, datetime):
        naive = value.replace(tzinfo=None).isoformat()
        return {"$": "dt", "v": naive, "tz": _tz(value)}
    if isinstance(value, date):
        return {"$": "date", "v": value.isoformat()}
    if isinstance(value, time):
        return {"$": "time", "v": value.isoformat()}
    if isinstance(value, timedelta):
        return {"$": "td", "v": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, UUID):
        return {"$": "uuid", "v": str(value)}
    if isinstance(value, bytes | bytearray):
        return {"$": "bytes", "v": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, IPv4Address | IPv6Address):
        return {"$": "ip", "v": str(value)}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, tuple):
        return {"$": "tuple", "v": [encode(v) for v in value]}
    if isinstance(value, dict):
        return {"$": "map", "v": [[encode(k), encode(v)] for k, v in value.items()]}
    raise WireError(f"cannot send a {type(value).__name__} over the query endpoint")


def _decode_tagged(obj: dict[str, Any]) -> Any:
    tag = obj.get("$")
    v: Any = obj.get("v")  # the payload's shape depends on the tag
    if tag == "dec":
        return Decimal(v)
    if tag == "dt":
        return _with_tz(datetime.fromisoformat(v), obj.get("tz"))
    if tag == "date":
        return date.fromisoformat(v)
    if tag == "time":
        return time.fromisoformat(v)
    if tag == "td":
        return timedelta(days=v[0], seconds=v[1], microseconds=v[2])
    if tag == "uuid":
        return UUID(v)
    if tag == "bytes":
        return base64.b64decode(v)
    if tag == "ip":
        return IPv6Address(v) if ":" in v else IPv4Address(v)
    if tag == "float":
        return float(v)
    if tag == "tuple":
        return tuple(decode(x) for x in v)
    if tag == "map":
        return {decode(k): decode(x) for k, x in v}
    raise WireError(f"unknown wire tag {tag!r}")


def decode(data: Any) -> Any:
    """The Python value ``encode`` was given."""
    if isinstance(data, list):
        return [decode(v) for v in data]
    if isinstance(data, dict):
        return _decode_tagged(data)
    return data
