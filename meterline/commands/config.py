"""``meterline config``: restore, export and import the configuration of record."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from aiokafka.errors import KafkaError
from pydantic import BaseModel

from meterline.commands._config import store_client
from meterline.config_changes import Change, TopicRecord, publish_changes, read_compacted
from meterline.config_file import MAX_FILE_BYTES, ConfigFileError, parse_config_file
from meterline.config_file import render_config_file as render
from meterline.config_store import current_config
from schemas.codec import encode_one
from schemas.config import CONFIG_TOPICS, config_topic
from schemas.topics import Topics

T = TypeVar("T")


def _kafka() -> tuple[str, Topics]:
    from stream.config import StreamSettings

    settings = StreamSettings()
    return settings.kafka_bootstrap, Topics(settings.topic_prefix)


def _run(coro: Coroutine[Any, Any, T], bootstrap: str) -> T:
    try:
        return asyncio.run(coro)
    except (KafkaError, OSError, TimeoutError, LookupError) as exc:
        raise click.ClickException(f"Kafka at {bootstrap}: {exc or type(exc).__name__}") from exc


@click.group()
def config() -> None:
    """The configuration of record: key bindings and budget policies (every compacted
    configuration topic), kept with their history in ClickHouse by the sink.

    `meterline up` restores it by itself; these commands do it by hand and move it between
    installs.
    """


@config.command("restore")
def restore() -> None:
    """Republish the stored configuration to Kafka where the topics are empty or behind.

    For a new Kafka cluster or a topic deleted by mistake: creates missing topics, then
    republishes the latest stored value of every id the topics lack or hold an older value of.
    When the budget windows' state (the stream's changelog) is gone too, it also publishes an
    opening balance per policy rebuilt from usage_events: run it before starting the stream
    workers. Uses METERLINE_KAFKA_BOOTSTRAP and METERLINE_CLICKHOUSE_URL.
    """
    from meterline.kafka_admin import create_topics
    from meterline.restore import restore_before_workers
    from stream.config import BudgetStreamSettings, StreamSettings

    settings = StreamSettings()
    bootstrap, topics = settings.kafka_bootstrap, Topics(settings.topic_prefix)
    _run(create_topics(bootstrap, topics), bootstrap)
    with store_client() as (client, db):
        rebuilt = _run(
            restore_before_workers(
                bootstrap, topics, client, db,
                app_id=f"{settings.topic_prefix}{settings.stream_app_id}",
                grace_s=BudgetStreamSettings().budget_late_grace_s,
                now=datetime.now(UTC), say=click.echo,
            ),
            bootstrap,
        )  # fmt: skip
    if rebuilt:
        click.echo("start the stream workers now: they apply the opening balances first")


@config.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def export(file: Path) -> None:
    """Write the current configuration from the store of record to FILE (YAML; '-' for
    stdout)."""
    values: dict[str, list[BaseModel]] = {}
    with store_client() as (client, db):
        rows = current_config(client, db)
    for row in rows:
        if row.op == "set":
            values.setdefault(row.kind, []).append(config_topic(row.kind).parse(row.value))
    text = render(values, datetime.now(UTC))
    if str(file) == "-":
        click.echo(text, nl=False)
        return
    file.write_text(text)
    counts = ", ".join(f"{len(values.get(c.kind, []))} {c.kind}" for c in CONFIG_TOPICS)
    click.echo(f"exported {counts} to {file}")


@config.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Validate and show what would change; write nothing.")
def import_(file: Path, dry_run: bool) -> None:
    """Apply a configuration export FILE: every entry that differs from the current value on
    the topic is published (recorded in the history as an import by you); ids absent from the
    file are left alone. The whole file is validated first; nothing is written if any entry
    is invalid."""
    if file.stat().st_size > MAX_FILE_BYTES:
        raise click.ClickException(f"{file} is larger than {MAX_FILE_BYTES} bytes")
    try:
        parsed = parse_config_file(file.read_bytes(), datetime.now(UTC))
    except ConfigFileError as exc:
        raise click.ClickException(f"{file}:\n{exc}") from exc
    bootstrap, topics = _kafka()
    for entry in CONFIG_TOPICS:
        topic = topics.name(entry.spec)
        current = _run(read_compacted(bootstrap, topic), bootstrap)
        changes = [
            Change(entry.entity_id(value), encode_one(value))
            for value in parsed.get(entry.kind, [])
            if not _same(current.get(entry.entity_id(value)), value)
        ]
        total = len(parsed.get(entry.kind, []))
        if not dry_run and changes:
            _run(publish_changes(bootstrap, topic, changes, origin="import"), bootstrap)
        verb = "would change" if dry_run else "changed"
        click.echo(f"{entry.kind}: {total} in file, {len(changes)} {verb}")


def _same(record: TopicRecord | None, value: BaseModel) -> bool:
    """True when the topic already holds ``value`` (``updated_at`` aside)."""
    if record is None or record.value is None:
        return False
    try:
        current = type(value).model_validate_json(record.value)
    except ValueError:
        return False
    return current.model_dump(exclude={"updated_at"}) == value.model_dump(exclude={"updated_at"})
