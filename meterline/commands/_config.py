"""Shared by the configuration commands: the store of record, read in whichever mode it runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import click

from meterline.config_diff import describe_change
from meterline.config_store import QueryClient, history
from schemas.config import config_topic

__all__ = ["print_history", "store_client"]


@contextmanager
def store_client() -> Iterator[tuple[QueryClient, str]]:
    """A read-only client of the configured store and its database (the running sink's
    endpoint in embedded mode, the store itself when no stack runs)."""
    from sinks.config import SinkSettings
    from sinks.errors import SinkError
    from sinks.query_client import open_query_client

    settings = SinkSettings()
    try:
        client = open_query_client(settings)
    except SinkError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        yield client, settings.clickhouse_database
    except SinkError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        client.close()


def print_history(kind: str, entity_id: str, as_json: bool) -> None:
    """Every recorded change of one id, oldest first: version, when, who, how, what."""
    config = config_topic(kind)
    with store_client() as (client, db):
        entries = history(client, db, kind, entity_id)
    if not entries:
        raise click.ClickException(f"no recorded changes of {kind} {entity_id!r}")
    for e in entries:
        if as_json:
            click.echo(json.dumps({
                "version": e.version, "changed_at": e.changed_at.isoformat(), "actor": e.actor,
                "origin": e.origin, "op": e.op, "old": json.loads(e.old_value or "null"),
                "new": json.loads(e.new_value or "null"), "change_id": e.change_id,
            }))  # fmt: skip
            continue
        when = e.changed_at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        what = describe_change(e.op, e.old_value, e.new_value, config.id_field)
        click.echo(f"v{e.version:<3} {when} UTC  {e.actor or '-':20} {e.origin:8} {what}")
