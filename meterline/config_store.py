"""Reading the configuration store of record (``config_history`` in ClickHouse).

Callers pass any read-only query client (``sinks.query_client.open_query_client``: the sink's
endpoint while a stack runs, the store itself otherwise). Current state is the row with the
highest version per (kind, id).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

__all__ = ["HistoryEntry", "QueryClient", "StoredConfig", "current_config", "history"]


class QueryClient(Protocol):
    def query(self, sql: str, parameters: Any = None, settings: Any = None) -> Any: ...


@dataclass(frozen=True)
class StoredConfig:
    """The current state of one id: ``op`` ``set`` with its ``value``, or ``delete``."""

    kind: str
    entity_id: str
    version: int
    op: str
    value: str
    change_id: str
    changed_at: datetime


@dataclass(frozen=True)
class HistoryEntry:
    version: int
    change_id: str
    op: str
    old_value: str
    new_value: str
    actor: str
    origin: str
    changed_at: datetime
    recorded_at: datetime


def current_config(client: QueryClient, db: str, kind: str | None = None) -> list[StoredConfig]:
    """Latest row per (kind, id), deletes included, sorted by kind and id."""
    where = "WHERE kind = {kind:String}" if kind else ""
    result = client.query(
        f"SELECT kind, entity_id, max(version), argMax(op, version), "
        f"argMax(new_value, version), argMax(change_id, version), argMax(changed_at, version) "
        f"FROM {db}.config_history {where} GROUP BY kind, entity_id ORDER BY kind, entity_id",
        parameters={"kind": kind} if kind else None,
    )
    return [
        StoredConfig(str(k), str(e), int(v), str(op), str(value), str(cid), at)
        for k, e, v, op, value, cid, at in result.result_rows
    ]


def history(client: QueryClient, db: str, kind: str, entity_id: str) -> list[HistoryEntry]:
    """Every recorded change of one id, oldest first."""
    result = client.query(
        "SELECT version, change_id, op, old_value, new_value, actor, origin, changed_at, "
        f"recorded_at FROM {db}.config_history "
        "WHERE kind = {kind:String} AND entity_id = {id:String} ORDER BY version, recorded_at",
        parameters={"kind": kind, "id": entity_id},
    )
    return [
        HistoryEntry(int(v), str(cid), str(op), str(old), str(new), str(actor), str(origin), at, r)
        for v, cid, op, old, new, actor, origin, at, r in result.result_rows
    ]
