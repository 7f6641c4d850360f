"""The base of every ``METERLINE_*`` settings class, and the fields several components share.

Here because every package may import ``schemas``; each component still builds its own
settings class (``producers.config``, ``stream.config``, ``sinks.config``, ``reports.config``)
once at its entry point and passes it down.
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["KafkaSettings", "MeterlineSettings", "ServiceSettings"]


class MeterlineSettings(BaseSettings):
    """Reads ``METERLINE_<FIELD>``; variables meant for other components are ignored."""

    model_config = SettingsConfigDict(env_prefix="METERLINE_", extra="ignore")


class KafkaSettings(MeterlineSettings):
    """Where the topics are."""

    kafka_bootstrap: str = "127.0.0.1:9092"
    """Kafka bootstrap servers, comma-separated (every component)."""
    topic_prefix: str = ""
    """Prefix of every topic name (tests, side-by-side installs)."""


class ServiceSettings(KafkaSettings):
    """A long-running process another process may start and wait for."""

    ready_file: Path | None = None
    """Once ready the process writes its pid here: the readiness signal of a parent that
    started it (``meterline.local``)."""
