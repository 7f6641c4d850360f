"""The one place reports touch SQL plumbing: the client protocol, identifier checks, row dicts.

Values always travel as server-side parameters (``{name:Type}``); the only thing spliced into
SQL text is the database name, and only after ``checked_database`` accepted it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from reports.errors import InvalidIdentifierError, QueryFailedError
from reports.periods import TimeRange

__all__ = [
    "PERIOD_FILTER",
    "QueryClient",
    "QueryResult",
    "checked_database",
    "period_parameters",
    "rows",
]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

PERIOD_FILTER = (
    "occurred_at >= {start:DateTime64(3, 'UTC')} AND occurred_at < {end:DateTime64(3, 'UTC')}"
)


class QueryResult(Protocol):
    @property
    def column_names(self) -> Sequence[str]: ...

    @property
    def result_rows(self) -> Sequence[Sequence[Any]]: ...


class QueryClient(Protocol):
    """What reports need of a client: clickhouse-connect's ``Client`` or the sink's
    ``RemoteQueryClient``."""

    def query(
        self,
        query: str,
        parameters: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> QueryResult: ...


def checked_database(name: str) -> str:
    """``name`` if it is a plain identifier (letters, digits, ``_``; at most 64), else raises
    ``InvalidIdentifierError``."""
    if not _IDENTIFIER.match(name):
        raise InvalidIdentifierError(
            f"database name {name[:80]!r} must be letters, digits and '_' (not starting with a "
            "digit, at most 64 characters)"
        )
    return name


def period_parameters(period: TimeRange) -> dict[str, Any]:
    return {"start": period.start, "end": period.end}


def rows(client: QueryClient, sql: str, parameters: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Run a query and return its rows as dicts keyed by column name; any failure of the client
    becomes ``QueryFailedError`` (with the driver's error chained)."""
    # No per-query ``readonly`` setting: a server user that is already read-only refuses any
    # attempt to set it. Reports only SELECT; give them a read-only user in production.
    try:
        result = client.query(sql, parameters=dict(parameters))
    except Exception as exc:  # the driver's error types differ per client; keep it as cause
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise QueryFailedError(f"query failed: {type(exc).__name__}: {first_line}") from exc
    names = list(result.column_names)
    return [dict(zip(names, row, strict=True)) for row in result.result_rows]
