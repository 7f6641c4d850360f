"""Ad-hoc SQL as a guest: the one place every read-only query path runs a statement.

For each query, in this order:

1. a fresh session of its own is opened (never the ingestion session; a chDB client is one
   engine handle with its own settings) with the time, row, byte, memory and thread limits,
   and ``readonly = 1`` set last, which locks every setting for the rest of the session;
2. the engine parses the text (``parseQueryToJSON``, which never runs it) and
   :mod:`sinks.sql_policy` judges the tree; a refused statement never reaches the engine;
3. the engine's canonical formatting of that tree runs, and the session is closed.

Whatever the query does (time out, fail, be refused) dies with its session, so it cannot
leave settings behind for ingestion or the next query.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from typing import Any

from sinks.clickhouse import Client, connect
from sinks.config import QueryLimits
from sinks.errors import QueryError, QueryRefused
from sinks.sql_policy import check_ast, describe_target

__all__ = ["ReadOnlyClient", "engine_message"]

_PARSE = "SELECT parseQueryToJSON({q:String}) AS ast, formatQuery({q:String}) AS canonical"
_SCOPE = re.compile(r":? In scope SELECT parseQueryToJSON.*$", re.DOTALL)
_VERSION = re.compile(r"\s*\(version [^)]*\)")


def engine_message(exc: BaseException) -> str:
    """The database's message without its stack trace, version trailer or our wrapper."""
    text = str(exc).strip() or type(exc).__name__
    text = _SCOPE.sub("", text.splitlines()[0] if text else text)
    return _VERSION.sub("", text).strip()[:2000]


class ReadOnlyClient:
    """Runs one guest statement at a time per call, each in its own session on ``url``.

    ``query(sql, parameters=None, settings=None)`` returns clickhouse-connect's
    ``QueryResult``. Raises ``QueryRefused`` for a statement the rules do not allow (and for
    any caller-supplied ``settings``) and ``QueryError`` with the database's message when the
    query fails or hits a limit. At most ``limits.concurrency`` queries run at once.
    """

    def __init__(
        self, url: str, database: str, limits: QueryLimits, anchor: Client | None = None
    ) -> None:
        self._url = url
        self._database = database
        self._limits = limits
        self._slots = threading.BoundedSemaphore(limits.concurrency)
        # Keeps an embedded engine open between queries; never runs a guest query.
        self._anchor = anchor

    def query(
        self,
        sql: str,
        parameters: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> Any:
        if settings:
            raise QueryRefused(
                "query settings are not accepted: time, row and memory limits are fixed by the "
                f"server (got {', '.join(sorted(settings))})"
            )
        if not self._slots.acquire(timeout=self._limits.timeout_s):
            raise QueryError(f"busy: {self._limits.concurrency} queries are already running")
        try:
            session = self._open_session()
            try:
                statement = self._prepare(session, sql, dict(parameters or {}))
                try:
                    return session.query(statement, parameters=dict(parameters or {}) or None)
                except Exception as exc:
                    raise QueryError(engine_message(exc)) from exc
            finally:
                session.close()
        finally:
            self._slots.release()

    def _open_session(self) -> Client:
        try:
            return connect(self._url, settings=self._limits.session_settings())
        except Exception as exc:
            raise QueryError(f"cannot open a query session: {engine_message(exc)}") from exc

    def _prepare(self, session: Client, sql: str, parameters: dict[str, Any]) -> str:
        """The statement to run: checked, then canonical; ``QueryRefused`` otherwise."""
        target = describe_target(sql, self._database)
        if target is not None:
            database, table = target
            return f"DESCRIBE TABLE `{database}`.`{table}`"
        try:
            row = session.query(_PARSE, parameters={"q": sql}).first_row
        except Exception as exc:
            raise QueryRefused(f"not one valid statement: {engine_message(exc)}") from exc
        if row is None or len(row) != 2:
            raise QueryRefused("not one valid statement: the parser returned no row")
        ast_text, canonical = row
        try:
            ast = json.loads(ast_text)
        except RecursionError as exc:
            raise QueryRefused("the query is nested too deeply") from exc
        verdict = check_ast(ast, self._database)
        if parameters and not verdict.parameters:
            raise QueryRefused("parameters are bound only to {name:Type} placeholders")
        return str(canonical)

    def close(self) -> None:
        if self._anchor is not None:
            self._anchor.close()
            self._anchor = None
