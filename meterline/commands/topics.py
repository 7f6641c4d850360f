from __future__ import annotations

import asyncio

import click

from meterline.kafka_admin import TooFewPartitions, create_topics
from producers.config import ProducerSettings
from schemas.topics import ALL_TOPICS, Topics
from stream.config import StreamSettings


@click.group()
def topics() -> None:
    """Kafka topics of the contract (names, partitions, keys, cleanup policies)."""


@topics.command("create")
@click.option(
    "--partitions",
    type=click.IntRange(1, 1024),
    default=None,
    help="Partitions of the usage topics (raw and enriched): at most this many stream workers "
    "share the work. Default: METERLINE_USAGE_PARTITIONS (4 unless set).",
)
def create(partitions: int | None) -> None:
    """Create every topic that does not exist yet (safe to run again).

    Refuses (exit 1) when an existing usage topic has fewer partitions than asked, and says how
    to grow it and what that does to key order."""
    settings = ProducerSettings()
    wanted = partitions if partitions is not None else StreamSettings().usage_partitions
    try:
        result = asyncio.run(
            create_topics(
                settings.kafka_bootstrap, Topics(settings.topic_prefix), usage_partitions=wanted
            )
        )
    except TooFewPartitions as exc:
        raise click.ClickException(str(exc)) from exc
    for name, state in result.items():
        click.echo(f"{state:8} {name}")


@topics.command("list")
def list_() -> None:
    """Print the topic contract."""
    prefix = ProducerSettings().topic_prefix
    for spec in ALL_TOPICS:
        click.echo(
            f"{prefix}{spec.name:32} partitions={spec.partitions} key={spec.key} "
            f"cleanup={spec.cleanup_policy}  value: {spec.value}"
        )
