"""Versioned, idempotent schema migrations recorded in ``{db}.schema_migrations``.

``migrate(client, db)`` creates the database when missing and applies every migration whose
version is not recorded yet, in version order. Every statement is itself idempotent (``IF NOT
EXISTS``), so a run interrupted between a statement and its record is safe to repeat. The sink
runs it at start; ``meterline db migrate`` runs it by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sinks import ddl, ddl_ratings
from sinks.clickhouse import Client
from sinks.errors import MigrationError

__all__ = ["MIGRATIONS", "Migration", "applied_versions", "migrate", "validate_database_name"]

_DB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "base tables", (ddl.USAGE_EVENTS, ddl.DEAD_LETTERS, ddl.BUDGET_ALERTS)),
    Migration(2, "usage_events guards: sane occurred_at, event_id bloom filter",
              ddl.USAGE_EVENTS_GUARDS),
    Migration(3, "daily rollup kept by a materialized view", (ddl.USAGE_DAILY, ddl.USAGE_DAILY_MV)),
    Migration(4, "budget_alerts dedupes retried inserts",
              ("ALTER TABLE {db}.budget_alerts "
               "MODIFY SETTING non_replicated_deduplication_window = 10000",)),
    Migration(5, "config_history: append-only history of the compacted configuration topics",
              (ddl.CONFIG_HISTORY,)),
    # Re-rating (issue 16): rating versions on events, the ratings audit trail, and the rollup
    # fed by first ratings plus re-rate differences. See sinks/ddl_ratings.py.
    Migration(6, "rating versions: usage_ratings, rollup of first ratings plus re-rate deltas",
              (*ddl_ratings.USAGE_EVENTS_RATING_COLUMNS, ddl_ratings.USAGE_RATINGS,
               *ddl_ratings.USAGE_DAILY_MV_RATED, ddl_ratings.USAGE_RATINGS_MV)),
)  # fmt: skip

SCHEMA_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS {db}.schema_migrations
(
    version UInt32,
    name String,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY version
"""


def validate_database_name(db: str) -> str:
    """``db`` if it is a plain identifier (it is spliced into DDL), else ``MigrationError``."""
    if not _DB_NAME.match(db):
        raise MigrationError(f"database name {db!r} must be letters, digits and '_' only")
    return db


def applied_versions(client: Client, db: str) -> set[int]:
    """Versions recorded in ``{db}.schema_migrations`` (empty when the table is missing)."""
    validate_database_name(db)
    exists = client.query(
        "SELECT count() FROM system.tables WHERE database = {db:String} "
        "AND name = 'schema_migrations'",
        parameters={"db": db},
    ).result_rows[0][0]
    if not exists:
        return set()
    rows = client.query(f"SELECT DISTINCT version FROM {db}.schema_migrations").result_rows
    return {int(row[0]) for row in rows}


def migrate(client: Client, db: str) -> list[Migration]:
    """Apply the pending migrations to ``db``; returns those applied now (empty: up to date).

    Raises ``MigrationError`` naming the migration whose statement the database refused.
    """
    validate_database_name(db)
    client.command(f"CREATE DATABASE IF NOT EXISTS {db}")
    client.command(SCHEMA_MIGRATIONS.format(db=db))
    done = applied_versions(client, db)
    applied: list[Migration] = []
    for migration in MIGRATIONS:
        if migration.version in done:
            continue
        for statement in migration.statements:
            try:
                client.command(statement.format(db=db))
            except Exception as exc:
                raise MigrationError(
                    f"migration {migration.version} ({migration.name}) failed: {exc}"
                ) from exc
        client.insert(
            f"{db}.schema_migrations",
            [[migration.version, migration.name]],
            column_names=["version", "name"],
        )
        applied.append(migration)
    return applied
