"""Read-only query clients that work in every mode.

``RemoteQueryClient(url, token).query(sql, parameters=None, settings=None)`` asks the embedded
owner over HTTP and returns a result with ``.column_names`` (tuple) and ``.result_rows`` (list
of tuples) holding the same Python types clickhouse-connect returns (Decimal, datetime, …).
``open_query_client(settings)`` picks the right client for the configured store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from sinks import wire
from sinks.clickhouse import connect
from sinks.config import SinkSettings
from sinks.errors import QueryError, QueryRefused, StoreNotReachable
from sinks.owner import read_owner
from sinks.readonly import ReadOnlyClient

__all__ = ["QueryClient", "RemoteQueryClient", "RemoteResult", "open_query_client"]


@dataclass(frozen=True)
class RemoteResult:
    """The parts of clickhouse-connect's ``QueryResult`` callers use."""

    column_names: tuple[str, ...]
    result_rows: list[tuple[Any, ...]]

    @property
    def row_count(self) -> int:
        return len(self.result_rows)

    @property
    def first_row(self) -> tuple[Any, ...]:
        return self.result_rows[0]

    @property
    def first_item(self) -> dict[str, Any]:
        return dict(zip(self.column_names, self.result_rows[0], strict=True))

    def named_results(self) -> list[dict[str, Any]]:
        return [dict(zip(self.column_names, row, strict=True)) for row in self.result_rows]


class RemoteQueryClient:
    """Read-only SQL through the embedded owner's endpoint (see :mod:`sinks.server`).

    Raises ``QueryRefused`` for a non-read-only statement, ``QueryError`` for a failed query and
    ``StoreNotReachable`` when the endpoint does not answer.
    """

    def __init__(self, url: str, token: str, timeout: float = 120.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )

    def query(
        self,
        sql: str,
        parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> RemoteResult:
        if parameters is not None and not isinstance(parameters, Mapping):
            raise QueryError("the query endpoint takes named parameters ({name:Type}) only")
        if settings:
            raise QueryRefused(
                "query settings are not accepted: time, row and memory limits are fixed by the "
                f"server (got {', '.join(sorted(settings))})"
            )
        body = {
            "sql": sql,
            "parameters": {k: wire.encode(v) for k, v in parameters.items()}
            if parameters
            else None,
        }
        try:
            response = self._http.post("/query", json=body)
        except httpx.HTTPError as exc:
            raise StoreNotReachable(f"query endpoint {self.url} did not answer: {exc}") from exc
        if response.status_code == 401:
            raise QueryError("the query endpoint refused the token (401)")
        payload = response.json()
        if response.status_code == 400:
            kind = QueryRefused if payload.get("error") == "refused" else QueryError
            raise kind(payload.get("message", "query failed"))
        if response.status_code != 200:
            raise QueryError(f"query endpoint answered {response.status_code}: {response.text}")
        return RemoteResult(
            tuple(payload["column_names"]),
            [tuple(wire.decode(row)) for row in payload["rows"]],
        )

    def stats(self) -> dict:
        """The owner's sink stats (rows stored, rows/s, lag)."""
        response = self._http.get("/stats")
        response.raise_for_status()
        return response.json()

    def healthy(self) -> bool:
        try:
            return self._http.get("/health", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def close(self) -> None:
        self._http.close()


QueryClient = RemoteQueryClient | ReadOnlyClient


def open_query_client(settings: SinkSettings) -> QueryClient:
    """A read-only client for the configured store.

    * ClickHouse server URL: a direct clickhouse-connect client.
    * ``chdb://DIR`` with a live owner (its file in DIR, its pid running): the owner's endpoint.
    * ``chdb://DIR`` with no owner: the store opened directly in this process (which then
      holds DIR until it exits).

    Every query runs as a guest (see :mod:`sinks.readonly`). Raises ``StoreNotReachable``
    when an owner runs but its endpoint does not answer.
    """
    data_dir = settings.embedded_dir
    db, limits = settings.clickhouse_database, settings.query_limits()
    if data_dir is None:
        return ReadOnlyClient(settings.url, db, limits)
    owner = read_owner(data_dir)
    if owner is not None and owner.alive():
        client = RemoteQueryClient(owner.url, owner.token)
        if not client.healthy():
            client.close()
            raise StoreNotReachable(
                f"the sink (pid {owner.pid}) owns {data_dir} but its query endpoint "
                f"{owner.url} does not answer; is it still starting?"
            )
        return client
    return ReadOnlyClient(settings.url, db, limits, anchor=connect(settings.url))
