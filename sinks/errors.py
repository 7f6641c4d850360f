"""Typed errors of the sink and the rule that tells a bad row from a sick database."""

from __future__ import annotations

import re
import struct

__all__ = [
    "DATA_ERROR_CODES",
    "BrokerNotReachable",
    "MigrationError",
    "QueryError",
    "QueryRefused",
    "SinkError",
    "StoreNotReachable",
    "clickhouse_error_code",
    "is_data_error",
]


class SinkError(RuntimeError):
    """Base of the sink's errors."""


class MigrationError(SinkError):
    """A schema migration could not be applied."""


class QueryError(SinkError):
    """The store refused or failed a read-only query; the message is the database's."""


class QueryRefused(QueryError):
    """The statement is not a read-only query (the endpoint only runs SELECT-like SQL)."""


class StoreNotReachable(SinkError):
    """The store could not be opened, or its embedded owner does not answer."""


class BrokerNotReachable(SinkError):
    """The sink's consumer could not reach Kafka at start."""


# ClickHouse error codes caused by the rows themselves: retrying the same rows cannot succeed,
# so the writer isolates the offending rows instead of retrying.
DATA_ERROR_CODES: frozenset[int] = frozenset(
    {
        6,  # CANNOT_PARSE_TEXT
        27,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
        38,  # CANNOT_PARSE_DATE
        41,  # CANNOT_PARSE_DATETIME
        53,  # TYPE_MISMATCH
        69,  # ARGUMENT_OUT_OF_BOUND
        70,  # CANNOT_CONVERT_TYPE
        72,  # CANNOT_PARSE_NUMBER
        117,  # INCORRECT_DATA
        131,  # TOO_LARGE_STRING_SIZE
        190,  # SIZES_OF_ARRAYS_DONT_MATCH
        321,  # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
        407,  # DECIMAL_OVERFLOW
        469,  # VIOLATED_CONSTRAINT
    }
)

_CODE = re.compile(r"Code: (\d+)\.")


def clickhouse_error_code(exc: BaseException) -> int | None:
    """The ClickHouse error code an exception carries, if any."""
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code
    match = _CODE.search(str(exc))
    return int(match.group(1)) if match else None


def is_data_error(exc: BaseException) -> bool:
    """True when ``exc`` says the rows are bad (isolate them), False when the database is
    (retry the same rows later). Client-side conversion failures are the rows' fault too."""
    if isinstance(exc, ValueError | TypeError | OverflowError | UnicodeError | struct.error):
        return True
    return clickhouse_error_code(exc) in DATA_ERROR_CODES
