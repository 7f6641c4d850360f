from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

import click
from aiokafka.errors import KafkaError

from meterline.commands._config import print_history
from meterline.key_bindings import (
    InvalidBinding,
    bind_key,
    list_bindings,
    make_binding,
    unbind_key,
)
from schemas.topics import Topics
from stream.config import StreamSettings

T = TypeVar("T")


def _topic_and_bootstrap() -> tuple[str, str]:
    settings = StreamSettings()
    return Topics(settings.topic_prefix).keys, settings.kafka_bootstrap


def _run(coro: Coroutine[Any, Any, T], bootstrap: str) -> T:
    try:
        return asyncio.run(coro)
    except (KafkaError, OSError, TimeoutError, LookupError) as exc:
        raise click.ClickException(f"broker {bootstrap}: {exc or type(exc).__name__}") from exc


@click.group()
def keys() -> None:
    """Bind gateway API keys to a team and an owner customer (budgets follow the binding).

    Bindings live on the compacted meterline.keys topic; every stream worker picks a change
    up without a restart. The sink records every change (who, when, old and new value) in
    ClickHouse, the store of record. Only key ids are stored, never secrets.
    """


@keys.command("bind")
@click.argument("key_id")
@click.option("--team", required=True, help="Team the key belongs to.")
@click.option(
    "--customer", default="", help="Customer owning a dedicated key (omit for a shared key)."
)
def bind(key_id: str, team: str, customer: str) -> None:
    """Bind KEY_ID to --team (and --customer); replaces an earlier binding."""
    try:
        binding = make_binding(key_id, team, customer, datetime.now(UTC))
    except InvalidBinding as exc:
        raise click.BadParameter(str(exc)) from exc
    topic, bootstrap = _topic_and_bootstrap()
    _run(bind_key(bootstrap, topic, binding), bootstrap)
    click.echo(f"bound {key_id} -> team={team or '-'} customer={customer or '-'}")


@keys.command("unbind")
@click.argument("key_id")
def unbind(key_id: str) -> None:
    """Remove KEY_ID's binding (its events then carry no team or owner)."""
    topic, bootstrap = _topic_and_bootstrap()
    _run(unbind_key(bootstrap, topic, key_id), bootstrap)
    click.echo(f"unbound {key_id}")


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_(as_json: bool) -> None:
    """Print every current binding."""
    topic, bootstrap = _topic_and_bootstrap()
    bindings = _run(list_bindings(bootstrap, topic), bootstrap)
    for b in bindings:
        if as_json:
            click.echo(b.model_dump_json())
        else:
            click.echo(
                f"{b.api_key_id:32} team={b.team_id or '-':20} "
                f"customer={b.owner_customer or '-':20} updated={b.updated_at.isoformat()}"
            )
    if not bindings and not as_json:
        click.echo("no key bindings", err=True)


@keys.command("history")
@click.argument("key_id")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per change.")
def history_(key_id: str, as_json: bool) -> None:
    """Every recorded change of KEY_ID's binding, oldest first, with who made it and when.

    Read from the store of record (ClickHouse), which keeps the full history even after the
    broker lost its topics.
    """
    print_history("keys", key_id, as_json)
