"""Batched inserts into ClickHouse: idempotent retries, row isolation, already-stored lookups.

Blocking (clickhouse-connect is synchronous); the writer calls it from a worker thread.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import tenacity

from sinks.buffer import dedup_token
from sinks.clickhouse import Client
from sinks.config_history import Latest
from sinks.errors import is_data_error
from sinks.rows import Item, TableSpec

__all__ = ["ClickHouseStore", "Rejected", "RetryPolicy"]

log = logging.getLogger(__name__)

# Insert settings: a token per insert makes a retried insert a no-op, and the same token guards
# the rollup the materialized view writes, so base table and rollup stay consistent on retry.
# JSON rows carry timestamps as RFC 3339 strings (hence best_effort), money as decimal strings.
_INSERT_SETTINGS = {
    "deduplicate_blocks_in_dependent_materialized_views": 1,
    "date_time_input_format": "best_effort",
}


@dataclass(frozen=True)
class Rejected:
    """A row the database refused, with its reason."""

    item: Item
    reason: str


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff for errors that are the database's fault: first, doubling, capped; forever until
    ``stopping()`` is true (then the error propagates and nothing is committed)."""

    first_s: float = 0.1
    max_s: float = 5.0

    def wait(self) -> tenacity.wait.wait_base:
        return tenacity.wait_exponential(multiplier=self.first_s, max=self.max_s)

    def delays(self) -> Iterator[float]:
        """The pauses between attempts, in order (what ``wait()`` yields attempt by attempt)."""
        wait = self.wait()
        state = tenacity.RetryCallState(tenacity.Retrying(), None, (), {})
        for attempt in itertools.count(1):
            state.attempt_number = attempt
            yield wait(state)


class ClickHouseStore:
    """Inserts and lookups on ``db`` through one clickhouse-connect client."""

    def __init__(
        self,
        client: Client,
        db: str,
        retry: RetryPolicy | None = None,
        stopping: Callable[[], bool] | None = None,
    ) -> None:
        self.client = client
        self.db = db
        self.retry = retry or RetryPolicy()
        self._stopping = stopping or (lambda: False)

    def _with_retry(self, what: str, call: Callable[[], Any]) -> Any:
        """Run ``call``; data errors propagate at once, anything else is retried with backoff
        until it succeeds or ``stopping()`` (then the last error propagates)."""

        def transient(exc: BaseException) -> bool:
            return isinstance(exc, Exception) and not is_data_error(exc) and not self._stopping()

        def log_retry(state: tenacity.RetryCallState) -> None:
            assert state.outcome is not None and state.next_action is not None
            log.warning("%s failed (attempt %d), retrying in %.1fs: %s", what,
                        state.attempt_number, state.next_action.sleep,
                        state.outcome.exception())  # fmt: skip

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(transient),
            wait=self.retry.wait(),
            stop=tenacity.stop_never,
            before_sleep=log_retry,
            reraise=True,
        )
        return retrying(call)

    def stored_keys(self, spec: TableSpec[Any], items: Sequence[Item]) -> set[str]:
        """Ids among ``items`` that are already in ``spec.table`` (first column = the id)."""
        if not items:
            return set()
        id_column = spec.columns[0]
        keys = {item.key for item in items}
        table = f"{self.db}.{spec.table}"
        joined = "\n".join(keys)
        if joined.count("\n") == len(keys) - 1:
            # One String parameter split by the database: binding 10k ids as an Array(String)
            # literal costs about twice as much client- and server-side.
            sql = (
                f"SELECT DISTINCT {id_column} FROM {table} WHERE {id_column} IN "
                "(SELECT arrayJoin(splitByChar('\\n', {keys:String})))"
            )
            parameters: dict[str, Any] = {"keys": joined}
        else:  # an id holding a newline (never a valid one, but never mis-split either)
            sql = (
                f"SELECT DISTINCT {id_column} FROM {table} "
                f"WHERE {id_column} IN {{keys:Array(String)}}"
            )
            parameters = {"keys": list(keys)}
        result = self._with_retry(
            f"lookup in {spec.table}",
            lambda: self.client.query(sql, parameters=parameters),
        )
        return {row[0] for row in result.result_rows}

    def latest_config(self, keys: set[tuple[str, str]]) -> dict[tuple[str, str], Latest]:
        """The newest ``config_history`` row per (kind, entity_id) among ``keys``; ids never
        recorded are absent."""
        if not keys:
            return {}
        sql = (
            f"SELECT kind, entity_id, max(version), argMax(op, version), "
            f"argMax(new_value, version) FROM {self.db}.config_history "
            "WHERE kind IN {kinds:Array(String)} AND entity_id IN {ids:Array(String)} "
            "GROUP BY kind, entity_id"
        )
        parameters = {
            "kinds": sorted({kind for kind, _ in keys}),
            "ids": sorted({entity for _, entity in keys}),
        }
        result = self._with_retry(
            "lookup in config_history", lambda: self.client.query(sql, parameters=parameters)
        )
        found = {
            (str(kind), str(entity)): Latest(int(version), str(op), str(value))
            for kind, entity, version, op, value in result.result_rows
        }
        return {key: latest for key, latest in found.items() if key in keys}

    def insert(self, spec: TableSpec[Any], items: Sequence[Item], ranges: str) -> list[Rejected]:
        """Insert ``items`` into ``spec.table``; returns the rows the database refused.

        Every other row is stored exactly once even when this call is repeated with the same
        items (the dedup token is derived from ``ranges`` and the ids). A refused batch is split
        in halves until the offending rows are alone, so one bad row costs O(log n) inserts.
        """
        if not items:
            return []
        rejected: list[Rejected] = []
        self._insert_isolating(spec, list(items), ranges, rejected)
        return rejected

    def _insert_isolating(
        self, spec: TableSpec[Any], items: list[Item], ranges: str, out: list[Rejected]
    ) -> None:
        token = dedup_token(spec.table, ranges, (i.key for i in items))
        try:
            data = spec.encoder.encode([i.row for i in items])
            self._with_retry(
                f"insert of {len(items)} rows into {spec.table}",
                lambda: self.client.raw_insert(
                    f"{self.db}.{spec.table}",
                    list(spec.columns),
                    data,
                    settings={**_INSERT_SETTINGS, "insert_deduplication_token": token},
                    fmt=spec.encoder.fmt,
                ),
            )
        except Exception as exc:
            if not is_data_error(exc):
                raise
            if len(items) == 1:
                out.append(Rejected(items[0], _reason(exc)))
                return
            middle = len(items) // 2
            self._insert_isolating(spec, items[:middle], ranges, out)
            self._insert_isolating(spec, items[middle:], ranges, out)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:4096]
