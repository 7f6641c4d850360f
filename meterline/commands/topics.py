from __future__ import annotations

import asyncio

import click

from meterline.kafka_admin import create_topics
from producers.config import ProducerSettings
from schemas.topics import ALL_TOPICS, Topics


@click.group()
def topics() -> None:
    """Kafka topics of the contract (names, partitions, keys, cleanup policies)."""


@topics.command("create")
def create() -> None:
    """Create every topic that does not exist yet (safe to run again)."""
    settings = ProducerSettings()
    result = asyncio.run(create_topics(settings.kafka_bootstrap, Topics(settings.topic_prefix)))
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
