"""``meterline db``: the ClickHouse schema."""

from __future__ import annotations

import click


@click.group()
def db() -> None:
    """The ClickHouse schema (tables, rollups, migrations)."""


@db.command("migrate")
def migrate_() -> None:
    """Apply pending schema migrations (safe to run again; the sink also runs them at start).

    Uses METERLINE_CLICKHOUSE_URL and METERLINE_CLICKHOUSE_DATABASE. In embedded mode
    (chdb://DIR) stop the sink first: only one process can open DIR.
    """
    from sinks.clickhouse import connect
    from sinks.config import SinkSettings
    from sinks.errors import SinkError
    from sinks.migrations import MIGRATIONS, migrate
    from sinks.owner import read_owner

    settings = SinkSettings()
    data_dir = settings.embedded_dir
    owner = read_owner(data_dir) if data_dir is not None else None
    if owner is not None and owner.alive():
        raise click.ClickException(
            f"the sink (pid {owner.pid}) owns {data_dir} and has already migrated it at start; "
            "stop it to run migrations by hand"
        )
    try:
        client = connect(settings.url)
    except Exception as exc:
        raise click.ClickException(f"cannot open the store: {exc}") from exc
    try:
        applied = migrate(client, settings.clickhouse_database)
    except SinkError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        client.close()
    for migration in applied:
        click.echo(f"applied  {migration.version:3}  {migration.name}")
    latest = MIGRATIONS[-1].version
    click.echo(f"database {settings.clickhouse_database} is at schema version {latest}")
