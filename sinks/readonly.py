"""Read-only SQL: the statement check and the one call every query path goes through.

Two fences: the statement must be a single SELECT-like statement (checked here, before the
database sees it), and it runs with ClickHouse's ``readonly = 1`` setting, which refuses any
write or DDL and any settings change inside the query.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sinks.clickhouse import Client
from sinks.errors import QueryError, QueryRefused

__all__ = ["READ_ONLY_KEYWORDS", "ReadOnlyClient", "check_read_only", "run_read_only"]

READ_ONLY_KEYWORDS = frozenset({"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "EXISTS"})

_WORD = re.compile(r"[A-Za-z]+")


def _strip_comments_and_literals(sql: str) -> str:
    """``sql`` with comments removed and quoted text blanked, so ``;`` and keywords inside
    strings or identifiers do not count."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if sql.startswith("--", i) or ch == "#":
            end = sql.find("\n", i)
            i = n if end < 0 else end
            continue
        if sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
            out.append(" ")
            continue
        if ch in "'\"`":
            j = i + 1
            while j < n and sql[j] != ch:
                j += 2 if sql[j] == "\\" else 1
            out.append(" x ")
            i = j + 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def check_read_only(sql: str) -> str:
    """The statement without a trailing ``;`` if it is one read-only statement; else
    ``QueryRefused`` saying why."""
    bare = _strip_comments_and_literals(sql).strip()
    while bare.endswith(";"):
        bare = bare[:-1].rstrip()
    if not bare:
        raise QueryRefused("empty query")
    if ";" in bare:
        raise QueryRefused("one statement per query")
    first = _WORD.match(bare.lstrip("( \n\t"))
    keyword = first.group(0).upper() if first else ""
    if keyword not in READ_ONLY_KEYWORDS:
        allowed = ", ".join(sorted(READ_ONLY_KEYWORDS))
        raise QueryRefused(f"only read-only statements run here ({allowed}); got {keyword!r}")
    stripped = sql.rstrip()
    while stripped.endswith(";"):
        stripped = stripped[:-1].rstrip()
    return stripped


def run_read_only(
    client: Client,
    sql: str,
    parameters: Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> Any:
    """clickhouse-connect's ``QueryResult`` of ``sql`` run with ``readonly = 1``.

    Raises ``QueryRefused`` for anything but one read-only statement and ``QueryError`` with
    the database's message when the query fails.
    """
    statement = check_read_only(sql)
    # readonly goes last: settings the caller passes are applied before it locks the session.
    merged = {**(settings or {}), "readonly": 1}
    try:
        return client.query(statement, parameters=dict(parameters or {}), settings=merged)
    except Exception as exc:
        raise QueryError(str(exc).strip() or type(exc).__name__) from exc


class ReadOnlyClient:
    """A direct clickhouse-connect client that only runs read-only queries.

    ``query(sql, parameters=None, settings=None)`` returns clickhouse-connect's ``QueryResult``
    (``.column_names``, ``.result_rows``, …).
    """

    def __init__(self, client: Client) -> None:
        self._client = client

    def query(
        self,
        sql: str,
        parameters: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> Any:
        return run_read_only(self._client, sql, parameters, settings)

    def close(self) -> None:
        self._client.close()
